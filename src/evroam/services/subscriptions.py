"""Subscription plans for our drivers (we are their eMSP): a monthly fee, included kWh, and a price
per kWh or a discount, applied in the driver's monthly invoice (services/plan_pricing.py).

A driver has at most one plan per month: `subscribe` from a month (YYYY-MM) ends the plan it had
before at that month; `unsubscribe` ends it. Changes are published as `plan.changed`."""

from __future__ import annotations

import re
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any

from evroam.events import Bus
from evroam.model.common import utcnow
from evroam.services.errors import Invalid, NotFound
from evroam.services.invoices import current_month, month_bounds
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.plans import PlanRecord, Subscription

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,35}$")


def _decimal(value: Any, name: str, *, places: int, high: Decimal | None = None) -> str:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{name}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0 or (high is not None and number > high):
        raise Invalid(f"{name}: must be between 0 and {high}" if high is not None else f"{name}: must not be negative")
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise Invalid(f"{name}: at most {places} decimals")
    return str(number)


def plan_view(plan: PlanRecord) -> dict[str, Any]:
    return asdict(plan)


class PlanService:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings

    # ------------------------------------------------------------------ plans

    async def put(self, data: dict[str, Any]) -> tuple[PlanRecord, bool]:
        """Create or replace a plan (True when new)."""
        if not isinstance(data, dict):
            raise Invalid("a plan is a JSON object")
        plan_id = str(data.get("id") or "")
        if not _ID.match(plan_id):
            raise Invalid("id: 1-36 letters, digits, '_' or '-'")
        name = str(data.get("name") or plan_id)[:100]
        currency = str(data.get("currency") or self.settings.currency).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise Invalid("currency: an ISO 4217 code such as EUR")
        price = data.get("price_per_kwh")
        discount = data.get("discount_percent")
        if price is not None and discount is not None:
            raise Invalid("a plan has a price_per_kwh or a discount_percent, not both")
        plan = PlanRecord(
            id=plan_id, name=name, currency=currency,
            monthly_fee=_decimal(data.get("monthly_fee", 0), "monthly_fee", places=2),
            vat_rate=_decimal(data.get("vat_rate", 0), "vat_rate", places=2, high=Decimal(100)),
            included_kwh=_decimal(data.get("included_kwh", 0), "included_kwh", places=3),
            price_per_kwh=_decimal(price, "price_per_kwh", places=4) if price is not None else None,
            discount_percent=_decimal(discount, "discount_percent", places=2, high=Decimal(100))
            if discount is not None else None)
        async with self.store.begin() as conn:
            created = await self.store.plans.put(conn, plan)
        self.bus.publish("plan.changed", plan_id=plan.id)
        return plan, created

    async def get(self, plan_id: str) -> PlanRecord:
        async with self.store.connect() as conn:
            plan = await self.store.plans.get(conn, plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id!r} not found (see `evroam plans list`)", kind="plan")
        return plan

    async def list(self) -> list[PlanRecord]:
        async with self.store.connect() as conn:
            return await self.store.plans.list(conn)

    async def remove(self, plan_id: str) -> None:
        async with self.store.begin() as conn:
            if await self.store.plans.in_use(conn, plan_id):
                raise Invalid(f"plan {plan_id!r} is or was a driver's plan: it stays for their invoices")
            if not await self.store.plans.remove(conn, plan_id):
                raise NotFound(f"plan {plan_id!r} not found", kind="plan")
        self.bus.publish("plan.changed", plan_id=plan_id)

    # ------------------------------------------------------------------ drivers

    def _month(self, month: str | None) -> str:
        month = month or current_month(utcnow(), self.settings.billing_time_zone)
        month_bounds(month, self.settings.billing_time_zone)  # (checks it)
        return month

    async def subscribe(self, driver_pk: int, plan_id: str, *, from_month: str | None = None) -> dict[str, Any]:
        """The driver has `plan_id` from `from_month` (default: this month) on."""
        await self.get(plan_id)
        month = self._month(from_month)
        async with self.store.begin() as conn:
            for sub in await self.store.plans.subscriptions(conn, driver_pk):
                await self._end(conn, sub, month)
            await self.store.plans.subscribe(conn, driver_pk, plan_id, month)
        self.bus.publish("plan.changed", driver_pk=driver_pk)
        return {"plan": plan_id, "from": month}

    async def unsubscribe(self, driver_pk: int, *, from_month: str | None = None) -> dict[str, Any]:
        month = self._month(from_month)
        async with self.store.begin() as conn:
            for sub in await self.store.plans.subscriptions(conn, driver_pk):
                await self._end(conn, sub, month)
        self.bus.publish("plan.changed", driver_pk=driver_pk)
        return {"plan": None, "from": month}

    async def _end(self, conn, sub: Subscription, month: str) -> None:
        if sub.end_month is not None and sub.end_month <= month:
            return
        if sub.start_month >= month:
            await self.store.plans.delete_subscription(conn, sub.pk)  # never in force: replaced
        else:
            await self.store.plans.end(conn, sub.pk, month)

    async def history(self, driver_pk: int) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            subs = await self.store.plans.subscriptions(conn, driver_pk)
        return [{"plan": s.plan_id, "from": s.start_month, "until": s.end_month} for s in subs]



async def plan_in(store: Store, conn, driver_pk: int, month: str) -> PlanRecord | None:
    """The driver's plan in force in `month` (YYYY-MM), read on the caller's connection."""
    for sub in await store.plans.subscriptions(conn, driver_pk):
        if sub.start_month <= month and (sub.end_month is None or month < sub.end_month):
            return await store.plans.get(conn, sub.plan_id)
    return None
