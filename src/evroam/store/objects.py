"""Client-owned OCPI objects (locations, tariffs, ...) stored per owning party as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table, and_, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

Owner = tuple[str, str]


class ObjectRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _key(self, country_code: str, party_id: str, object_id: str):
        t = self.table.c
        return and_(t.country_code == country_code.upper(), t.party_id == party_id.upper(), t.id == object_id)

    async def get(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> dict | None:
        raw = await self.get_raw(conn, country_code, party_id, object_id)
        return orjson.loads(raw) if raw is not None else None

    async def get_raw(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> str | None:
        row = (await conn.execute(select(self.table.c.data).where(self._key(country_code, party_id, object_id)))).first()
        return row[0] if row else None

    async def put(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str,
                  data: dict[str, Any], last_updated: datetime) -> bool:
        """Insert or replace; True when the object is new."""
        payload = orjson.dumps(data).decode()
        result = await conn.execute(
            update(self.table)
            .where(self._key(country_code, party_id, object_id))
            .values(data=payload, last_updated=last_updated)
        )
        if result.rowcount:
            return False
        await conn.execute(
            self.table.insert().values(
                country_code=country_code.upper(), party_id=party_id.upper(), id=object_id,
                data=payload, last_updated=last_updated,
            )
        )
        return True

    async def delete(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> bool:
        result = await conn.execute(delete(self.table).where(self._key(country_code, party_id, object_id)))
        return bool(result.rowcount)

    def _filters(self, owners: Sequence[Owner] | None, date_from: datetime | None, date_to: datetime | None):
        t = self.table.c
        clauses = []
        if owners is not None:
            owners = [(cc.upper(), pid.upper()) for cc, pid in owners]
            if len(owners) == 1:
                clauses += [t.country_code == owners[0][0], t.party_id == owners[0][1]]
            else:
                clauses.append(tuple_(t.country_code, t.party_id).in_(owners))
        if date_from is not None:
            clauses.append(t.last_updated >= date_from)
        if date_to is not None:
            clauses.append(t.last_updated < date_to)
        return and_(*clauses) if clauses else None

    async def page(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None,
                   date_from: datetime | None = None, date_to: datetime | None = None,
                   offset: int = 0, limit: int = 100) -> tuple[list[str], int]:
        """One page of raw JSON documents in creation order, and the total number of matches."""
        where = self._filters(owners, date_from, date_to)
        query = select(self.table.c.data).order_by(self.table.c.pk).offset(offset).limit(limit)
        count = select(func.count()).select_from(self.table)
        if where is not None:
            query = query.where(where)
            count = count.where(where)
        rows = (await conn.execute(query)).scalars().all()
        total = (await conn.execute(count)).scalar_one()
        return list(rows), total

    async def all(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None) -> list[dict]:
        where = self._filters(owners, None, None)
        query = select(self.table.c.data).order_by(self.table.c.pk)
        if where is not None:
            query = query.where(where)
        return [orjson.loads(r) for r in (await conn.execute(query)).scalars().all()]

    async def count(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None) -> int:
        where = self._filters(owners, None, None)
        query = select(func.count()).select_from(self.table)
        if where is not None:
            query = query.where(where)
        return (await conn.execute(query)).scalar_one()
