"""Drivers (we are their eMSP): the searchable list, a driver's page with tokens, blocking and
unblocking (the driver, or one token), and invoices per month (the same services as `evroam
drivers`)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.model.common import utcnow
from evroam.services.errors import NotFound, ServiceError
from evroam.services.invoices import current_month, to_csv
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.actions import act
from evroam.web.render import PREFIX, error_page, render

router = APIRouter()
PAGE = 50
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@router.get("/drivers")
async def drivers(request: Request, q: str = "", offset: int = 0,
                  _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    offset = max(0, offset)
    async with p.store.connect() as conn:
        ids, total = await p.store.listings.drivers(conn, search=q.strip() or None, offset=offset, limit=PAGE)
        found = [await p.store.drivers.find(conn, i) for i in ids]
    return render(request, "drivers.html", drivers=[d for d in found if d is not None], total=total, offset=offset,
                  page=PAGE, q=q)


def _months(now_month: str, count: int = 6) -> list[str]:
    year, month = map(int, now_month.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out


@router.get("/drivers/{driver_id}")
async def driver(driver_id: str, request: Request, month: str = "",
                 _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        found = await p.drivers.get(driver_id)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    async with p.store.connect() as conn:
        enabled = {(uid, kind): on for uid, kind, on in await p.store.drivers.tokens_of(conn, found.pk)}
    view = await p.drivers.view(found)
    now_month = current_month(utcnow(), p.settings.billing_time_zone)
    month = month if _MONTH.match(month) else now_month
    invoice = await p.invoices.month(found, month)
    return render(request, "driver.html", driver=view, enabled=enabled, invoice=invoice, month=month,
                  months=_months(now_month))


@router.get("/drivers/{driver_id}/invoices/{month}.csv")
async def invoice_csv(driver_id: str, month: str, request: Request,
                      _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    if not _MONTH.match(month):
        return error_page(request, 400, "month: YYYY-MM")
    try:
        invoice = await p.invoices.month(await p.drivers.get(driver_id), month)
    except ServiceError as exc:
        return error_page(request, 404, exc.message)
    return Response(to_csv(invoice), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="invoice-{driver_id}-{month}.csv"'})


async def _blocked(request: Request, driver_id: str, blocked: bool) -> dict:
    return (await auth.platform(request).drivers.set_blocked(driver_id, blocked)).to_dict()


@router.post("/drivers/{driver_id}/{change}")
async def change_driver(driver_id: str, change: str, request: Request,
                        session: WebSession = Depends(auth.acting)) -> Response:
    back = f"{PREFIX}/drivers/{driver_id}"
    if change in ("block", "unblock"):
        return await act(request, session, f"driver.{change}", driver_id, {}, _blocked(request, driver_id,
                                                                                      change == "block"),
                         done=f"Driver {'blocked' if change == 'block' else 'unblocked'}", back=back)
    if change in ("token-enable", "token-disable"):
        fields = await auth.form(request)
        uid, kind = fields.get("uid", ""), fields.get("type", "RFID")
        enabled = change == "token-enable"
        return await act(request, session, f"driver.{change}", driver_id, {"uid": uid, "type": kind},
                         auth.platform(request).drivers.set_token_enabled(driver_id, uid, kind, enabled),
                         done=f"Token {uid} {'enabled' if enabled else 'blocked'}", back=back)
    return error_page(request, 404, f"no change {change!r}")
