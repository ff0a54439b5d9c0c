"""Consumers of the open data endpoints, each with its token (kept as a SHA-256 hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.partners import hash_token
from evroam.store.tables import open_data_consumers


@dataclass(frozen=True)
class Consumer:
    name: str
    created_at: datetime


class ConsumerRepository:
    async def add(self, conn: AsyncConnection, name: str, token: str) -> None:
        await conn.execute(open_data_consumers.insert().values(name=name, token_hash=hash_token(token),
                                                               created_at=utcnow()))

    async def remove(self, conn: AsyncConnection, name: str) -> bool:
        result = await conn.execute(delete(open_data_consumers).where(open_data_consumers.c.name == name))
        return bool(result.rowcount)

    async def by_token(self, conn: AsyncConnection, token: str) -> Consumer | None:
        t = open_data_consumers.c
        row = (await conn.execute(select(t.name, t.created_at).where(t.token_hash == hash_token(token)))).first()
        return Consumer(row.name, row.created_at) if row else None

    async def exists(self, conn: AsyncConnection, name: str) -> bool:
        t = open_data_consumers.c
        return (await conn.execute(select(t.pk).where(t.name == name))).first() is not None

    async def list(self, conn: AsyncConnection) -> list[Consumer]:
        t = open_data_consumers.c
        return [Consumer(r.name, r.created_at) for r in (await conn.execute(select(t.name, t.created_at)
                                                                            .order_by(t.name))).all()]
