"""Ad-hoc payments at our EVSEs (see services/adhoc.py): one row per payment, its status changed
only by conditional updates, so that two processes never both capture or both release it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import ad_hoc_payments


@dataclass
class PaymentRecord:
    pk: int
    id: str
    location_id: str
    evse_uid: str
    charger_id: str | None
    evse_number: int | None
    provider: str
    provider_ref: str | None
    currency: str
    hold_minor: int
    captured_minor: int | None
    status: str
    token_uid: str
    session_id: str | None
    email: str | None
    message: str | None
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _record(row: Any) -> PaymentRecord:
    return PaymentRecord(
        pk=row.pk, id=row.id, location_id=row.location_id, evse_uid=row.evse_uid, charger_id=row.charger_id,
        evse_number=row.evse_number, provider=row.provider, provider_ref=row.provider_ref, currency=row.currency,
        hold_minor=row.hold_minor, captured_minor=row.captured_minor, status=row.status, token_uid=row.token_uid,
        session_id=row.session_id, email=row.email, message=row.message, data=orjson.loads(row.data or "{}"),
        created_at=row.created_at, updated_at=row.updated_at)


class PaymentRepository:
    async def create(self, conn: AsyncConnection, **values: Any) -> PaymentRecord:
        now = utcnow()
        values["data"] = orjson.dumps(values.get("data") or {}).decode()
        await conn.execute(ad_hoc_payments.insert().values(created_at=now, updated_at=now, **values))
        return await self.get(conn, values["id"])

    async def get(self, conn: AsyncConnection, payment_id: str) -> PaymentRecord | None:
        row = (await conn.execute(select(ad_hoc_payments).where(ad_hoc_payments.c.id == payment_id))).first()
        return _record(row) if row else None

    async def by(self, conn: AsyncConnection, **where: Any) -> PaymentRecord | None:
        """The payment whose columns equal `where` (provider_ref, session_id, token_uid ...)."""
        query = select(ad_hoc_payments)
        for column, value in where.items():
            query = query.where(ad_hoc_payments.c[column] == value)
        row = (await conn.execute(query.limit(1))).first()
        return _record(row) if row else None

    async def transition(self, conn: AsyncConnection, payment_id: str, from_statuses: Sequence[str], to: str,
                         **values: Any) -> bool:
        """Set `status` to `to` (and the other columns) only when it is one of `from_statuses`:
        True when this call made the change (one caller wins a race)."""
        if "data" in values:
            values["data"] = orjson.dumps(values["data"]).decode()
        result = await conn.execute(
            update(ad_hoc_payments)
            .where(ad_hoc_payments.c.id == payment_id, ad_hoc_payments.c.status.in_(list(from_statuses)))
            .values(status=to, updated_at=utcnow(), **values))
        return bool(result.rowcount)

    async def update(self, conn: AsyncConnection, payment_id: str, **values: Any) -> None:
        if "data" in values:
            values["data"] = orjson.dumps(values["data"]).decode()
        await conn.execute(update(ad_hoc_payments).where(ad_hoc_payments.c.id == payment_id)
                           .values(updated_at=utcnow(), **values))

    async def in_status(self, conn: AsyncConnection, statuses: Sequence[str], *, limit: int = 1000) -> list[PaymentRecord]:
        t = ad_hoc_payments.c
        rows = (await conn.execute(select(ad_hoc_payments).where(t.status.in_(list(statuses)))
                                   .order_by(t.updated_at).limit(limit))).all()
        return [_record(r) for r in rows]

    async def listing(self, conn: AsyncConnection, *, limit: int = 100) -> list[PaymentRecord]:
        rows = (await conn.execute(select(ad_hoc_payments).order_by(ad_hoc_payments.c.pk.desc()).limit(limit))).all()
        return [_record(r) for r in rows]
