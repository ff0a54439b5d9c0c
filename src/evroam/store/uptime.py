"""The history of our EVSEs' statuses and the chargers' planned maintenance (AFIR uptime)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import evse_status_log, maintenance_windows


@dataclass(frozen=True)
class StatusChange:
    location_id: str
    evse_uid: str
    status: str
    at: datetime


@dataclass(frozen=True)
class MaintenanceWindow:
    pk: int
    charger_id: str
    starts_at: datetime
    ends_at: datetime
    note: str | None


class StatusLogRepository:
    async def add(self, conn: AsyncConnection, location_id: str, evse_uid: str, status: str, at: datetime) -> None:
        await conn.execute(evse_status_log.insert().values(location_id=location_id, evse_uid=evse_uid,
                                                           status=status, at=at))

    async def changes(self, conn: AsyncConnection, start: datetime, end: datetime) -> list[StatusChange]:
        """Every EVSE's status at `start` (its last change before it) and its changes in
        [start, end), ordered by EVSE and time."""
        t = evse_status_log.c
        last = (select(t.location_id, t.evse_uid, func.max(t.at).label("at"))
                .where(t.at < start).group_by(t.location_id, t.evse_uid).subquery())
        before = (select(t.location_id, t.evse_uid, t.status, t.at, t.pk)
                  .join(last, and_(t.location_id == last.c.location_id, t.evse_uid == last.c.evse_uid,
                                   t.at == last.c.at)))
        inside = select(t.location_id, t.evse_uid, t.status, t.at, t.pk).where(t.at >= start, t.at < end)
        rows = (await conn.execute(before.union_all(inside).order_by("location_id", "evse_uid", "at", "pk"))).all()
        return [StatusChange(r.location_id, r.evse_uid, r.status, r.at) for r in rows]

    async def last(self, conn: AsyncConnection, location_id: str, evse_uid: str) -> StatusChange | None:
        t = evse_status_log.c
        row = (await conn.execute(select(t.location_id, t.evse_uid, t.status, t.at)
                                  .where(t.location_id == location_id, t.evse_uid == evse_uid)
                                  .order_by(t.at.desc(), t.pk.desc()).limit(1))).first()
        return StatusChange(row.location_id, row.evse_uid, row.status, row.at) if row else None


class MaintenanceRepository:
    async def add(self, conn: AsyncConnection, charger_id: str, starts_at: datetime, ends_at: datetime,
                  note: str | None) -> int:
        result = await conn.execute(maintenance_windows.insert().values(
            charger_id=charger_id, starts_at=starts_at, ends_at=ends_at, note=note, created_at=utcnow()))
        return result.inserted_primary_key[0]

    async def remove(self, conn: AsyncConnection, pk: int) -> bool:
        return bool((await conn.execute(delete(maintenance_windows).where(maintenance_windows.c.pk == pk))).rowcount)

    async def overlapping(self, conn: AsyncConnection, start: datetime, end: datetime,
                          charger_ids: Sequence[str] | None = None) -> list[MaintenanceWindow]:
        t = maintenance_windows.c
        query = select(maintenance_windows).where(t.starts_at < end, t.ends_at > start).order_by(t.charger_id,
                                                                                                  t.starts_at)
        if charger_ids is not None:
            query = query.where(t.charger_id.in_(list(charger_ids)))
        return [MaintenanceWindow(r.pk, r.charger_id, r.starts_at, r.ends_at, r.note)
                for r in (await conn.execute(query)).all()]
