"""The change feed's rows: what changed (topic and data), where, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import changes


@dataclass(frozen=True)
class Change:
    pk: int
    topic: str
    data: dict[str, Any]
    origin: str


class ChangeRepository:
    async def record(self, conn: AsyncConnection, items: list[tuple[str, dict[str, Any]]], origin: str) -> None:
        now = utcnow()
        await conn.execute(changes.insert(), [
            {"topic": topic, "data": orjson.dumps(data, default=str).decode(), "origin": origin, "created_at": now}
            for topic, data in items
        ])

    async def newest(self, conn: AsyncConnection) -> int:
        return (await conn.execute(select(func.max(changes.c.pk)))).scalar_one_or_none() or 0

    async def after(self, conn: AsyncConnection, pk: int, limit: int = 1000) -> list[Change]:
        rows = (await conn.execute(
            select(changes.c.pk, changes.c.topic, changes.c.data, changes.c.origin)
            .where(changes.c.pk > pk).order_by(changes.c.pk).limit(limit)
        )).all()
        return [Change(r.pk, r.topic, orjson.loads(r.data), r.origin) for r in rows]

    async def purge(self, conn: AsyncConnection, before: datetime) -> int:
        result = await conn.execute(delete(changes).where(changes.c.created_at < before))
        return result.rowcount or 0
