"""Drivers' tokens per owning party, identified by (country_code, party_id, uid, type)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import tokens


class TokenRepository:
    def _key(self, cc: str, pid: str, uid: str, token_type: str):
        t = tokens.c
        return and_(t.country_code == cc.upper(), t.party_id == pid.upper(), func.lower(t.uid) == uid.lower(),
                    t.type == token_type)  # uids are CiStrings: any case finds a token

    async def get(self, conn: AsyncConnection, cc: str, pid: str, uid: str, token_type: str) -> dict | None:
        row = (await conn.execute(select(tokens.c.data).where(self._key(cc, pid, uid, token_type)))).first()
        return orjson.loads(row[0]) if row else None

    async def find(self, conn: AsyncConnection, uid: str, token_type: str | None = None) -> list[dict]:
        """Every stored token with this uid (of any owner), oldest first; uids compare
        case-insensitively as the CiString they are."""
        query = select(tokens.c.data).where(func.lower(tokens.c.uid) == uid.lower()).order_by(tokens.c.pk)
        if token_type is not None:
            query = query.where(tokens.c.type == token_type)
        return [orjson.loads(r) for r in (await conn.execute(query)).scalars().all()]

    async def by_contract(self, conn: AsyncConnection, cc: str, pid: str, contract_id: str) -> dict | None:
        """A token of one party by its contract id (compared case-insensitively, as the CiString
        it is), the oldest when several share it."""
        quoted = orjson.dumps(contract_id).decode().lower()
        pattern = '%"contract_id":' + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (select(tokens.c.data)
                 .where(tokens.c.country_code == cc.upper(), tokens.c.party_id == pid.upper(),
                        func.lower(tokens.c.data).like(pattern, escape="\\"))
                 .order_by(tokens.c.pk).limit(1))
        row = (await conn.execute(query)).first()
        return orjson.loads(row[0]) if row else None

    async def put(self, conn: AsyncConnection, cc: str, pid: str, uid: str, token_type: str, data: dict[str, Any],
                  last_updated: datetime) -> bool:
        """Insert or replace; True when new."""
        payload = orjson.dumps(data).decode()
        result = await conn.execute(update(tokens).where(self._key(cc, pid, uid, token_type))
                                    .values(data=payload, last_updated=last_updated))
        if result.rowcount:
            return False
        await conn.execute(tokens.insert().values(country_code=cc.upper(), party_id=pid.upper(), uid=uid,
                                                  type=token_type, data=payload, last_updated=last_updated))
        return True

    async def page(self, conn: AsyncConnection, cc: str, pid: str, *, date_from: datetime | None = None,
                   date_to: datetime | None = None, offset: int = 0, limit: int = 100) -> tuple[list[str], int]:
        where = [tokens.c.country_code == cc.upper(), tokens.c.party_id == pid.upper()]
        if date_from is not None:
            where.append(tokens.c.last_updated >= date_from)
        if date_to is not None:
            where.append(tokens.c.last_updated < date_to)
        rows = (await conn.execute(select(tokens.c.data).where(*where).order_by(tokens.c.pk)
                                   .offset(offset).limit(limit))).scalars().all()
        total = (await conn.execute(select(func.count()).select_from(tokens).where(*where))).scalar_one()
        return list(rows), total
