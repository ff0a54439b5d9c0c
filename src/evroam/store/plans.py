"""Drivers' subscription plans and which driver has which plan in which months."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import driver_plans, plans

_PLAN_COLUMNS = ("id", "name", "currency", "monthly_fee", "vat_rate", "included_kwh", "price_per_kwh",
                 "discount_percent")


@dataclass(frozen=True)
class PlanRecord:
    id: str
    name: str
    currency: str
    monthly_fee: str
    vat_rate: str
    included_kwh: str
    price_per_kwh: str | None
    discount_percent: str | None


@dataclass(frozen=True)
class Subscription:
    pk: int
    driver_pk: int
    plan_id: str
    start_month: str
    end_month: str | None


def _plan(row: Any) -> PlanRecord:
    return PlanRecord(**{c: getattr(row, c) for c in _PLAN_COLUMNS})


def _subscription(row: Any) -> Subscription:
    return Subscription(row.pk, row.driver_pk, row.plan_id, row.start_month, row.end_month)


class PlanRepository:
    async def put(self, conn: AsyncConnection, plan: PlanRecord) -> bool:
        """Create or replace; True when new."""
        values = {c: getattr(plan, c) for c in _PLAN_COLUMNS}
        now = utcnow()
        result = await conn.execute(update(plans).where(plans.c.id == plan.id).values(updated_at=now, **values))
        if result.rowcount:
            return False
        await conn.execute(plans.insert().values(created_at=now, updated_at=now, **values))
        return True

    async def get(self, conn: AsyncConnection, plan_id: str) -> PlanRecord | None:
        row = (await conn.execute(select(plans).where(plans.c.id == plan_id))).first()
        return _plan(row) if row else None

    async def list(self, conn: AsyncConnection) -> list[PlanRecord]:
        return [_plan(r) for r in (await conn.execute(select(plans).order_by(plans.c.id))).all()]

    async def remove(self, conn: AsyncConnection, plan_id: str) -> bool:
        return bool((await conn.execute(delete(plans).where(plans.c.id == plan_id))).rowcount)

    async def in_use(self, conn: AsyncConnection, plan_id: str) -> bool:
        row = (await conn.execute(select(driver_plans.c.pk).where(driver_plans.c.plan_id == plan_id).limit(1))).first()
        return row is not None

    # ------------------------------------------------------------------ subscriptions

    async def subscriptions(self, conn: AsyncConnection, driver_pk: int) -> list[Subscription]:
        t = driver_plans.c
        rows = (await conn.execute(select(driver_plans).where(t.driver_pk == driver_pk)
                                   .order_by(t.start_month, t.pk))).all()
        return [_subscription(r) for r in rows]

    async def subscribe(self, conn: AsyncConnection, driver_pk: int, plan_id: str, start_month: str) -> None:
        await conn.execute(driver_plans.insert().values(driver_pk=driver_pk, plan_id=plan_id,
                                                        start_month=start_month, created_at=utcnow()))

    async def end(self, conn: AsyncConnection, pk: int, end_month: str) -> None:
        await conn.execute(update(driver_plans).where(driver_plans.c.pk == pk).values(end_month=end_month))

    async def delete_subscription(self, conn: AsyncConnection, pk: int) -> None:
        await conn.execute(delete(driver_plans).where(driver_plans.c.pk == pk))
