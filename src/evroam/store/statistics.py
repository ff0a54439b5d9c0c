"""Aggregates for the back office, computed by the database: the statistics' facts (one row per
CDR we made), charger connections (uptime) and faults, and the network's counts now. Every query
here reads an index range, never every row of a big table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import (
    charger_connections,
    charger_faults,
    chargers,
    ocpp_transactions,
    session_facts,
)

FACT_COLUMNS = ("session_id", "charger_id", "evse_number", "location_id", "emsp_country_code", "emsp_party_id",
                "started_at", "ended_at", "day", "hour_of_week", "seconds", "kwh", "cost_excl_vat",
                "cost_incl_vat", "currency")


@dataclass(frozen=True)
class Fault:
    at: datetime
    charger_id: str | None
    location_id: str | None
    evse_uid: str | None
    status: str


def _seconds_between(conn: AsyncConnection, start, end):
    """Seconds from `start` to `end` (datetime expressions) in the connection's SQL dialect."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _later(conn: AsyncConnection, a, b):
    return func.max(a, b) if conn.dialect.name == "sqlite" else func.greatest(a, b)


def _earlier(conn: AsyncConnection, a, b):
    return func.min(a, b) if conn.dialect.name == "sqlite" else func.least(a, b)


class StatisticsRepository:
    # ------------------------------------------------------------------ facts

    async def add_fact(self, conn: AsyncConnection, fact: dict[str, Any]) -> None:
        """The fact of one CDR (once: a second one for the same session is ignored)."""
        exists = (await conn.execute(select(session_facts.c.pk)
                                     .where(session_facts.c.session_id == fact["session_id"]))).first()
        if exists is None:
            await conn.execute(session_facts.insert().values(**{k: fact.get(k) for k in FACT_COLUMNS}))

    async def per_day(self, conn: AsyncConnection, first_day: str, last_day: str) -> list[tuple[str, int, float]]:
        """(day, sessions, kWh) of each local day in [first_day, last_day] that had sessions."""
        f = session_facts.c
        rows = await conn.execute(select(f.day, func.count(), func.sum(f.kwh))
                                  .where(f.day >= first_day, f.day <= last_day).group_by(f.day).order_by(f.day))
        return [(r[0], int(r[1]), float(r[2] or 0.0)) for r in rows.all()]

    async def per_hour_of_week(self, conn: AsyncConnection, first_day: str, last_day: str) -> dict[int, int]:
        """{hour of week (0: Monday 00h local): sessions started}."""
        f = session_facts.c
        rows = await conn.execute(select(f.hour_of_week, func.count())
                                  .where(f.day >= first_day, f.day <= last_day).group_by(f.hour_of_week))
        return {int(r[0]): int(r[1]) for r in rows.all()}

    async def per_charger(self, conn: AsyncConnection, first_day: str, last_day: str, *,
                          charger_ids: Sequence[str] | None = None, limit: int | None = None,
                          offset: int = 0) -> list[tuple[str, int, float, float]]:
        """(charger, sessions, seconds charging, kWh), busiest first."""
        f = session_facts.c
        busy = func.sum(f.seconds).label("busy")
        query = (select(f.charger_id, func.count(), busy, func.sum(f.kwh))
                 .where(f.day >= first_day, f.day <= last_day).group_by(f.charger_id)
                 .order_by(busy.desc(), f.charger_id))
        if charger_ids is not None:
            query = query.where(f.charger_id.in_(list(charger_ids)))
        if limit is not None:
            query = query.limit(limit).offset(offset)
        return [(r[0], int(r[1]), float(r[2] or 0.0), float(r[3] or 0.0)) for r in (await conn.execute(query)).all()]

    async def chargers_with_sessions(self, conn: AsyncConnection, first_day: str, last_day: str) -> int:
        f = session_facts.c
        inner = select(f.charger_id).where(f.day >= first_day, f.day <= last_day).distinct().subquery()
        return (await conn.execute(select(func.count()).select_from(inner))).scalar_one()

    async def per_party(self, conn: AsyncConnection, first_day: str, last_day: str
                        ) -> list[tuple[str | None, str | None, str, int, int, int | None]]:
        """(eMSP country code, party id, currency, sessions, revenue excl. VAT, incl. VAT), in
        ten-thousandths of the currency unit; the largest first."""
        f = session_facts.c
        revenue = func.sum(f.cost_excl_vat).label("revenue")
        rows = await conn.execute(
            select(f.emsp_country_code, f.emsp_party_id, f.currency, func.count(), revenue, func.sum(f.cost_incl_vat))
            .where(f.day >= first_day, f.day <= last_day)
            .group_by(f.emsp_country_code, f.emsp_party_id, f.currency).order_by(revenue.desc()))
        return [(r[0], r[1], r[2], int(r[3]), int(r[4] or 0), None if r[5] is None else int(r[5]))
                for r in rows.all()]

    async def day_totals(self, conn: AsyncConnection, day: str) -> list[tuple[str, int, float, int, int | None]]:
        """(currency, sessions, kWh, revenue excl. VAT, incl. VAT) of the sessions of one local day."""
        f = session_facts.c
        rows = await conn.execute(select(f.currency, func.count(), func.sum(f.kwh), func.sum(f.cost_excl_vat),
                                         func.sum(f.cost_incl_vat))
                                  .where(f.day == day).group_by(f.currency))
        return [(r[0], int(r[1]), float(r[2] or 0.0), int(r[3] or 0), None if r[4] is None else int(r[4]))
                for r in rows.all()]

    # ------------------------------------------------------------------ connections (uptime)

    async def connected(self, conn: AsyncConnection, charger_id: str, node: str | None, at: datetime) -> None:
        """A connection opens (one still open for this charger is closed first)."""
        c = charger_connections.c
        await conn.execute(update(charger_connections).where(c.charger_id == charger_id, c.disconnected_at.is_(None))
                           .values(disconnected_at=at))
        await conn.execute(charger_connections.insert().values(charger_id=charger_id, node=(node or "")[:64] or None,
                                                               connected_at=at))

    async def disconnected(self, conn: AsyncConnection, charger_id: str, at: datetime) -> None:
        c = charger_connections.c
        await conn.execute(update(charger_connections).where(c.charger_id == charger_id, c.disconnected_at.is_(None))
                           .values(disconnected_at=at))

    async def connected_seconds(self, conn: AsyncConnection, start: datetime, end: datetime, *,
                                charger_ids: Sequence[str] | None = None) -> dict[str, float]:
        """{charger: seconds connected within [start, end)}."""
        c = charger_connections.c
        upper = _earlier(conn, func.coalesce(c.disconnected_at, end), end)
        lower = _later(conn, c.connected_at, start)
        seconds = func.sum(_seconds_between(conn, lower, upper))
        query = (select(c.charger_id, seconds)
                 .where(c.connected_at < end, or_(c.disconnected_at.is_(None), c.disconnected_at > start))
                 .group_by(c.charger_id))
        if charger_ids is not None:
            query = query.where(c.charger_id.in_(list(charger_ids)))
        return {r[0]: max(0.0, float(r[1] or 0.0)) for r in (await conn.execute(query)).all()}

    # ------------------------------------------------------------------ faults

    async def add_fault(self, conn: AsyncConnection, *, at: datetime, charger_id: str | None,
                        location_id: str | None, evse_uid: str | None, status: str) -> None:
        await conn.execute(charger_faults.insert().values(at=at, charger_id=charger_id, location_id=location_id,
                                                          evse_uid=evse_uid, status=status))

    async def recent_faults(self, conn: AsyncConnection, limit: int = 10) -> list[Fault]:
        f = charger_faults.c
        rows = await conn.execute(select(f.at, f.charger_id, f.location_id, f.evse_uid, f.status)
                                  .order_by(f.pk.desc()).limit(limit))
        return [Fault(*r) for r in rows.all()]

    # ------------------------------------------------------------------ the network now

    async def charger_counts(self, conn: AsyncConnection) -> dict[str, int]:
        """{"registered", "pending", "faulted"}: accepted chargers, those waiting for approval,
        and accepted ones with an EVSE or the station out of order (their last reported status)."""
        c = chargers.c
        faulted = case((and_(c.status == "ACCEPTED", c.state.like('%"OUTOFORDER"%')), 1), else_=0)
        row = (await conn.execute(select(
            func.sum(case((c.status == "ACCEPTED", 1), else_=0)), func.sum(case((c.status == "PENDING", 1), else_=0)),
            func.sum(faulted)))).first()
        return {"registered": int(row[0] or 0), "pending": int(row[1] or 0), "faulted": int(row[2] or 0)}

    async def faulted_chargers(self, conn: AsyncConnection, limit: int = 1000) -> list[str]:
        c = chargers.c
        rows = await conn.execute(select(c.id).where(c.status == "ACCEPTED", c.state.like('%"OUTOFORDER"%'))
                                  .order_by(c.id).limit(limit))
        return [r[0] for r in rows.all()]

    async def active_transactions(self, conn: AsyncConnection) -> list[tuple[int, str, str | None]]:
        """(pk, charger, session id) of every running transaction."""
        t = ocpp_transactions.c
        rows = await conn.execute(select(t.pk, t.charger_id, t.session_id).where(t.status == "ACTIVE")
                                  .order_by(t.pk))
        return [(r[0], r[1], r[2]) for r in rows.all()]


__all__ = ["FACT_COLUMNS", "Fault", "StatisticsRepository"]
