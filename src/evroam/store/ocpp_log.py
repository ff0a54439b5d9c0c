"""The OCPP transaction log: every frame in and out, append-only (rows are only ever added, and
removed by the retention prune)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.bulk import insert_many
from evroam.store.tables import ocpp_log

_COLUMNS = ("charger_id", "at", "direction", "message_type", "unique_id", "action", "frame")


@dataclass(frozen=True)
class LogEntry:
    charger_id: str
    at: datetime
    direction: str  # "in" | "out"
    message_type: int | None
    unique_id: str | None
    action: str | None
    frame: str


class OcppLogRepository:
    async def append(self, conn: AsyncConnection, entries: Sequence[LogEntry]) -> None:
        """Add entries, all in one statement. Whatever a charger sent fits the columns: a
        message type other than 2, 3 or 4 is stored as none (it may be any number), and NUL
        characters (which PostgreSQL text cannot hold) as the JSON escape \\u0000, so that
        one odd frame never fails the batch it is in."""
        await insert_many(conn, ocpp_log, _COLUMNS, [
            (e.charger_id, e.at, e.direction, e.message_type if e.message_type in (2, 3, 4) else None,
             _text(e.unique_id, 64), _text(e.action, 64), e.frame.replace("\x00", "\\u0000")) for e in entries])

    async def query(self, conn: AsyncConnection, *, charger_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[LogEntry]:
        """Entries in the order they happened (oldest first), at most `limit` (the newest)."""
        c = ocpp_log.c
        query = select(c.charger_id, c.at, c.direction, c.message_type, c.unique_id, c.action, c.frame)
        if charger_id is not None:
            query = query.where(c.charger_id == charger_id)
        if since is not None:
            query = query.where(c.at >= since)
        if until is not None:
            query = query.where(c.at < until)
        rows = (await conn.execute(query.order_by(c.pk.desc()).limit(limit))).all()
        return [LogEntry(*r) for r in reversed(rows)]

    async def prune(self, conn: AsyncConnection, before: datetime) -> int:
        return (await conn.execute(delete(ocpp_log).where(ocpp_log.c.at < before))).rowcount or 0


def _text(value: str | None, limit: int) -> str | None:
    return (value or "")[:limit].replace("\x00", "?") or None
