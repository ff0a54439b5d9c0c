"""Pages of the back office's long lists, newest first, each one index range: chargers
(searched), transactions with their sessions, CDRs, the OCPP log and drivers. Pages of lists that
grow forever go by key (`before`: the next page holds what is older than the last row shown), so
the thousandth page costs what the first does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import cdrs, chargers, drivers, ocpp_log, ocpp_transactions, sessions

Owner = tuple[str, str]


@dataclass(frozen=True)
class ChargerRow:
    id: str
    status: str
    location_id: str | None
    evses: dict[str, str]
    ocpp_version: str | None
    state: dict[str, Any]
    last_seen_at: datetime | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class TransactionRow:
    pk: int
    charger_id: str
    transaction_id: str
    evse_number: int
    status: str
    session_id: str | None
    started_at: datetime
    stopped_at: datetime | None
    session: dict[str, Any] | None


@dataclass(frozen=True)
class LogRow:
    pk: int
    charger_id: str
    at: datetime
    direction: str
    message_type: int | None
    action: str | None
    unique_id: str | None
    frame: str


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ListingRepository:
    async def chargers(self, conn: AsyncConnection, *, search: str | None = None, ids: list[str] | None = None,
                       offset: int = 0, limit: int = 50) -> tuple[list[ChargerRow], int]:
        """Chargers by id (a `search` in the id or the location id), and how many match."""
        c = chargers.c
        where = []
        if search:
            pattern = _like(search)
            where.append(or_(c.id.like(pattern, escape="\\"), c.location_id.like(pattern, escape="\\")))
        if ids is not None:
            where.append(c.id.in_(ids))
        query = (select(c.id, c.status, c.location_id, c.evses, c.ocpp_version, c.state, c.last_seen_at, c.created_at)
                 .where(*where).order_by(c.id).offset(offset).limit(limit))
        rows = (await conn.execute(query)).all()
        total = (await conn.execute(select(func.count()).select_from(chargers).where(*where))).scalar_one()
        return [ChargerRow(r.id, r.status, r.location_id, orjson.loads(r.evses or "{}"), r.ocpp_version,
                           orjson.loads(r.state or "{}"), r.last_seen_at, r.created_at) for r in rows], total

    async def transactions(self, conn: AsyncConnection, owner: Owner, *, active: bool | None = None,
                           charger_id: str | None = None, before: int | None = None,
                           limit: int = 50) -> list[TransactionRow]:
        """Transactions that have a session (with the session), newest first."""
        t, s = ocpp_transactions.c, sessions.c
        joined = ocpp_transactions.outerjoin(sessions, and_(s.country_code == owner[0], s.party_id == owner[1],
                                                            s.id == t.session_id))
        query = (select(t.pk, t.charger_id, t.transaction_id, t.evse_number, t.status, t.session_id, t.started_at,
                        t.stopped_at, s.data).select_from(joined)
                 .where(t.session_id.is_not(None)).order_by(t.pk.desc()).limit(limit))
        if active is True:
            query = query.where(t.status == "ACTIVE")
        elif active is False:
            query = query.where(t.status != "ACTIVE")
        if charger_id:
            query = query.where(t.charger_id == charger_id)
        if before is not None:
            query = query.where(t.pk < before)
        return [TransactionRow(r.pk, r.charger_id, r.transaction_id, r.evse_number, r.status, r.session_id,
                               r.started_at, r.stopped_at, orjson.loads(r.data) if r.data else None)
                for r in (await conn.execute(query)).all()]

    async def count_active(self, conn: AsyncConnection) -> int:
        t = ocpp_transactions.c
        return (await conn.execute(select(func.count()).select_from(ocpp_transactions)
                                   .where(t.status == "ACTIVE"))).scalar_one()

    async def cdrs(self, conn: AsyncConnection, owner: Owner | None, *, before: int | None = None,
                   limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
        """CDRs, newest first: ours (`owner`), or every party's (None)."""
        c = cdrs.c
        query = select(c.pk, c.data).order_by(c.pk.desc()).limit(limit)
        if owner is not None:
            query = query.where(c.country_code == owner[0], c.party_id == owner[1])
        if before is not None:
            query = query.where(c.pk < before)
        return [(r.pk, orjson.loads(r.data)) for r in (await conn.execute(query)).all()]

    async def ocpp_log(self, conn: AsyncConnection, *, charger_id: str | None = None, action: str | None = None,
                       direction: str | None = None, since: datetime | None = None, until: datetime | None = None,
                       before: int | None = None, limit: int = 100) -> list[LogRow]:
        """Entries of the OCPP log, newest first (by time, then key): an index range of (charger,
        time) or of time. `before`: the key of the last entry of the previous page."""
        c = ocpp_log.c
        query = select(c.pk, c.charger_id, c.at, c.direction, c.message_type, c.action, c.unique_id, c.frame)
        if charger_id:
            query = query.where(c.charger_id == charger_id)
        if action:
            query = query.where(c.action == action)
        if direction in ("in", "out"):
            query = query.where(c.direction == direction)
        if since is not None:
            query = query.where(c.at >= since)
        if until is not None:
            query = query.where(c.at < until)
        if before is not None:
            at = (await conn.execute(select(c.at).where(c.pk == before))).scalar_one_or_none()
            if at is not None:  # (the first condition alone is an index range)
                query = query.where(c.at <= at, or_(c.at < at, c.pk < before))
        rows = (await conn.execute(query.order_by(c.at.desc(), c.pk.desc()).limit(limit))).all()
        return [LogRow(*r) for r in rows]

    async def drivers(self, conn: AsyncConnection, *, search: str | None = None, offset: int = 0,
                      limit: int = 50) -> tuple[list[Any], int]:
        d = drivers.c
        where = []
        if search:
            pattern = _like(search)
            where.append(or_(d.id.like(pattern, escape="\\"), d.name.like(pattern, escape="\\"),
                             d.contract_id.like(pattern, escape="\\")))
        rows = (await conn.execute(select(d.id).where(*where).order_by(d.name).offset(offset).limit(limit))).all()
        total = (await conn.execute(select(func.count()).select_from(drivers).where(*where))).scalar_one()
        return [r[0] for r in rows], total
