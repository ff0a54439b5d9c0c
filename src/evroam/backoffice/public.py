"""Admin API for open data consumers, subscription plans, AFIR uptime (CSV too) with planned
maintenance, and ad-hoc payments. `{driver}` is a driver's id or name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import ERRORS
from evroam.services.money import from_minor

router = APIRouter(prefix="/admin/api", tags=["admin: open data, plans, uptime, payments"],
                   dependencies=[Depends(require_admin)], responses=ERRORS)


def _platform(request: Request):
    return request.app.state.platform


# ------------------------------------------------------------------ open data consumers


class ConsumerIn(BaseModel):
    name: str


@router.get("/open-data/consumers", summary="Consumers of the open data")
async def consumers(request: Request):
    return [{"name": c.name, "created_at": c.created_at.isoformat()} for c in await _platform(request).open_data.consumers()]


@router.post("/open-data/consumers", status_code=201, summary="Add a consumer (its token is in the answer, once)")
async def add_consumer(body: ConsumerIn, request: Request):
    return {"name": body.name, "token": await _platform(request).open_data.add_consumer(body.name)}


@router.delete("/open-data/consumers/{name}", status_code=204, summary="Remove a consumer")
async def remove_consumer(name: str, request: Request):
    await _platform(request).open_data.remove_consumer(name)
    return Response(status_code=204)


# ------------------------------------------------------------------ plans


class PlanIn(BaseModel):
    name: str | None = None
    currency: str | None = None
    monthly_fee: str | float = Field("0", description="excl. VAT")
    vat_rate: str | float = Field("0", description="percent, of the fee and the plan's kWh price")
    included_kwh: str | float = "0"
    price_per_kwh: str | float | None = Field(None, description="excl. VAT; or discount_percent")
    discount_percent: str | float | None = None


class SubscriptionIn(BaseModel):
    plan: str
    from_month: str | None = Field(None, alias="from", description="YYYY-MM (default: this month)")


@router.get("/plans", summary="Subscription plans")
async def list_plans(request: Request):
    from evroam.services.subscriptions import plan_view

    return [plan_view(p) for p in await _platform(request).plans.list()]


@router.put("/plans/{plan_id}", summary="Create (201) or replace (200) a plan",
            responses={201: {"description": "The plan was created"}})
async def put_plan(plan_id: str, body: PlanIn, request: Request, response: Response):
    from evroam.services.subscriptions import plan_view

    data = {k: v for k, v in body.model_dump().items() if v is not None}
    plan, created = await _platform(request).plans.put({**data, "id": plan_id})
    response.status_code = 201 if created else 200
    return plan_view(plan)


@router.delete("/plans/{plan_id}", status_code=204, summary="Remove a plan no driver ever had")
async def remove_plan(plan_id: str, request: Request):
    await _platform(request).plans.remove(plan_id)
    return Response(status_code=204)


@router.get("/drivers/{driver}/plan", summary="A driver's plans, month by month")
async def driver_plan(driver: str, request: Request):
    p = _platform(request)
    return await p.plans.history((await p.drivers.get(driver)).pk)


@router.put("/drivers/{driver}/plan", summary="Give a driver a plan from a month on")
async def subscribe(driver: str, body: SubscriptionIn, request: Request):
    p = _platform(request)
    return await p.plans.subscribe((await p.drivers.get(driver)).pk, body.plan, from_month=body.from_month)


@router.delete("/drivers/{driver}/plan", summary="End a driver's plan from a month on")
async def unsubscribe(driver: str, request: Request, from_month: str | None = Query(None, alias="from")):
    p = _platform(request)
    return await p.plans.unsubscribe((await p.drivers.get(driver)).pk, from_month=from_month)


# ------------------------------------------------------------------ AFIR uptime


class MaintenanceIn(BaseModel):
    charger_id: str
    starts_at: str = Field(alias="from")
    ends_at: str = Field(alias="to")
    note: str | None = None


@router.get("/uptime", summary="AFIR uptime per charging point and charger (format=csv: CSV)",
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def uptime(request: Request, start: str = Query(..., alias="from"), end: str = Query(..., alias="to"),
                 fmt: str = Query("json", alias="format", pattern="^(json|csv)$")) -> Any:
    from evroam.services.uptime import parse_period, to_csv

    report = await _platform(request).uptime.report(*parse_period(start, end))
    if fmt == "csv":
        return Response(to_csv(report), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="uptime-{start}-{end}.csv"'})
    return report


@router.get("/maintenance", summary="Planned maintenance of chargers")
async def list_maintenance(request: Request):
    return await _platform(request).uptime.maintenance()


@router.post("/maintenance", status_code=201, summary="Mark planned maintenance (not counted against uptime)")
async def add_maintenance(body: MaintenanceIn, request: Request):
    return await _platform(request).uptime.add_maintenance(body.charger_id, body.starts_at, body.ends_at, body.note)


@router.delete("/maintenance/{maintenance_id}", status_code=204, summary="Remove planned maintenance")
async def remove_maintenance(maintenance_id: int, request: Request):
    await _platform(request).uptime.remove_maintenance(maintenance_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ payments


@router.get("/payments", summary="Ad-hoc payments, newest first")
async def payments(request: Request, limit: int = Query(100, ge=1, le=1000)):
    return [{"id": p.id, "location_id": p.location_id, "evse_uid": p.evse_uid, "status": p.status,
             "currency": p.currency, "held": str(from_minor(p.hold_minor, p.currency)),
             "captured": str(from_minor(p.captured_minor, p.currency)) if p.captured_minor is not None else None,
             "session_id": p.session_id, "message": p.message,
             "created_at": p.created_at.isoformat() if p.created_at else None}
            for p in await _platform(request).adhoc.payments(limit)]
