"""Admin API for our drivers (we are their eMSP): drivers, their tokens and API keys, blocking,
sessions, CDRs, invoices, and the CDR disputes found by reconciliation. `{driver}` is a
driver's id or name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictFloat, StrictStr

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import ERRORS
from evroam.model.common import format_datetime

router = APIRouter(tags=["admin: drivers"], dependencies=[Depends(require_admin)], responses=ERRORS)


class DriverIn(BaseModel):
    name: str = Field(description="unique name")
    email: str | None = None
    contract_id: str | None = Field(None, description="eMA-ID of our party (default: generated)")
    token_uid: str | None = Field(None, description="a token to give the driver (an app token is always made)")
    token_type: str | None = Field(None, description="RFID (default) or APP_USER")
    whitelist: str | None = Field(None, description="ALWAYS, ALLOWED (default), ALLOWED_OFFLINE or NEVER")
    # strict: a JSON true/false is no amount (it would be read as 1.00 / 0.00)
    credit_limit: StrictStr | StrictFloat | None = Field(None, description="monthly limit incl. VAT, in our currency")
    contract_end: str | None = Field(None, description="DateTime (or date) the contract ends")
    allowed_cpos: list[str] | None = Field(None, description='CPO parties the driver may charge at, ["NL/ABC"]')


class DriverChange(BaseModel):
    email: str | None = None
    credit_limit: StrictStr | StrictFloat | None = None
    contract_end: str | None = None
    allowed_cpos: list[str] | None = Field(None, description="[] allows every CPO")


class TokenIn(BaseModel):
    uid: str | None = Field(None, description="default for APP_USER: generated")
    type: str = "RFID"
    whitelist: str | None = None


def _services(request: Request):
    return request.app.state.platform


@router.get("/drivers", summary="Our drivers")
async def list_drivers(request: Request):
    return [d.to_dict() for d in await _services(request).drivers.list()]


@router.post("/drivers", status_code=201, summary="Add a driver (the API key is in the answer, once)")
async def add_driver(body: DriverIn, request: Request):
    made = await _services(request).drivers.add(
        body.name, email=body.email, contract_id=body.contract_id, token_uid=body.token_uid,
        token_type=body.token_type, whitelist=body.whitelist, credit_limit=body.credit_limit,
        contract_end=body.contract_end, allowed_cpos=body.allowed_cpos)
    return made.to_dict()


@router.get("/drivers/{driver}", summary="A driver: contract, tokens, spend this month")
async def get_driver(driver: str, request: Request):
    p = _services(request)
    return await p.drivers.view(await p.drivers.get(driver))


@router.patch("/drivers/{driver}", summary="Change e-mail, credit limit, contract end or allowed CPOs (null clears)")
async def change_driver(driver: str, body: DriverChange, request: Request):
    p = _services(request)
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    updated = await p.drivers.update(driver, **changes)
    return await p.drivers.view(updated)


@router.post("/drivers/{driver}/key", summary="Issue a new driver API key (the old one stops working)")
async def new_key(driver: str, request: Request):
    return {"api_key": await _services(request).drivers.new_key(driver)}


@router.post("/drivers/{driver}/block", summary="Block a driver: every token becomes invalid (pushed to CPOs)")
async def block(driver: str, request: Request):
    return (await _services(request).drivers.set_blocked(driver, True)).to_dict()


@router.post("/drivers/{driver}/unblock", summary="Unblock a driver")
async def unblock(driver: str, request: Request):
    return (await _services(request).drivers.set_blocked(driver, False)).to_dict()


@router.post("/drivers/{driver}/tokens", status_code=201, summary="Give a driver another token")
async def add_token(driver: str, body: TokenIn, request: Request):
    return await _services(request).drivers.add_token(driver, body.uid, body.type, body.whitelist)


@router.post("/drivers/{driver}/tokens/{uid}/block", summary="Block one token of a driver")
async def block_token(driver: str, uid: str, request: Request, type: str = "RFID"):
    return await _services(request).drivers.set_token_enabled(driver, uid, type, False)


@router.post("/drivers/{driver}/tokens/{uid}/unblock", summary="Unblock one token of a driver")
async def unblock_token(driver: str, uid: str, request: Request, type: str = "RFID"):
    return await _services(request).drivers.set_token_enabled(driver, uid, type, True)


async def _records(request: Request, driver: str, kind: str, limit: int) -> list[dict]:
    p = _services(request)
    d = await p.drivers.get(driver)
    await p.driver_records.catch_up()
    async with p.store.connect() as conn:
        return await p.store.driver_records.of_driver(conn, d.pk, kind, limit=limit)


@router.get("/drivers/{driver}/sessions", summary="A driver's sessions (OCPI Session objects), newest first")
async def driver_sessions(driver: str, request: Request, limit: int = Query(100, ge=1, le=1000)):
    return await _records(request, driver, "session", limit)


@router.get("/drivers/{driver}/cdrs", summary="A driver's CDRs (OCPI CDR objects), newest first")
async def driver_cdrs(driver: str, request: Request, limit: int = Query(100, ge=1, le=1000)):
    return await _records(request, driver, "cdr", limit)


async def _invoice(request: Request, driver: str, month: str) -> dict[str, Any]:
    p = _services(request)
    d = await p.drivers.get(driver)
    await p.driver_records.catch_up()
    return await p.invoices.month(d, month)


@router.get("/drivers/{driver}/invoices/{month}.csv", summary="A driver's invoice of a month (YYYY-MM) as CSV",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def invoice_csv(driver: str, month: str, request: Request):
    from evroam.services.invoices import to_csv

    return Response(to_csv(await _invoice(request, driver, month)), media_type="text/csv; charset=utf-8")


@router.get("/drivers/{driver}/invoices/{month}", summary="A driver's invoice of a month (YYYY-MM)")
async def invoice(driver: str, month: str, request: Request):
    return await _invoice(request, driver, month)


def _check(c: dict[str, Any]) -> dict[str, Any]:
    return {**c, "checked_at": format_datetime(c["checked_at"])}


@router.get("/disputes", summary="Received CDRs whose price differs from our re-pricing (all=true: "
                                          "every check)")
async def disputes(request: Request, all: bool = False, limit: int = Query(200, ge=1, le=10_000)):
    r = _services(request).reconciliation
    await r.check_pending()
    items = await (r.checks(limit=limit) if all else r.disputes(limit=limit))
    return [_check(c) for c in items]


@router.post("/cdrs/{country_code}/{party_id}/{cdr_id}/check",
                      summary="Price a received CDR again (e.g. after its tariff arrived)")
async def check_cdr(country_code: str, party_id: str, cdr_id: str, request: Request):
    return _check(await _services(request).reconciliation.check(country_code, party_id, cdr_id))
