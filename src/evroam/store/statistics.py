"""Aggregates for the back office, computed by the database: the statistics' facts (one row per
CDR we made), charger connections (uptime) and faults, and the network's counts now. Every query
here reads an index range, never every row of a big table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, case, delete, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import (
    charger_connections,
    charger_faults,
    charger_months,
    chargers,
    ocpp_transactions,
    session_facts,
    session_stats,
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


def _insert(conn: AsyncConnection, table):
    """INSERT with ON CONFLICT in the connection's dialect (SQLite and PostgreSQL speak it alike)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


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
    # ------------------------------------------------------------------ facts and their sums

    async def add_fact(self, conn: AsyncConnection, fact: dict[str, Any]) -> bool:
        """The fact of one CDR, added to the sums (once: a second one for the same session
        changes nothing). Upserts in one statement each, so nodes adding facts together never
        conflict."""
        row = {k: fact.get(k) for k in FACT_COLUMNS}
        added = await conn.execute(_insert(conn, session_facts).values(**row)
                                   .on_conflict_do_nothing(index_elements=["session_id"]))
        if not added.rowcount:
            return False
        incl = row["cost_incl_vat"]
        stats = _insert(conn, session_stats).values(
            day=row["day"], hour_of_week=row["hour_of_week"], emsp_country_code=row["emsp_country_code"] or "",
            emsp_party_id=row["emsp_party_id"] or "", currency=row["currency"], sessions=1, seconds=row["seconds"],
            kwh=row["kwh"], cost_excl_vat=row["cost_excl_vat"], cost_incl_vat=incl or 0,
            incl_unknown=1 if incl is None else 0)
        s = stats.excluded
        await conn.execute(stats.on_conflict_do_update(
            index_elements=["day", "hour_of_week", "emsp_country_code", "emsp_party_id", "currency"],
            set_={"sessions": session_stats.c.sessions + 1, "seconds": session_stats.c.seconds + s.seconds,
                  "kwh": session_stats.c.kwh + s.kwh, "cost_excl_vat": session_stats.c.cost_excl_vat + s.cost_excl_vat,
                  "cost_incl_vat": session_stats.c.cost_incl_vat + s.cost_incl_vat,
                  "incl_unknown": session_stats.c.incl_unknown + s.incl_unknown}))
        months = _insert(conn, charger_months).values(month=row["day"][:7], charger_id=row["charger_id"], sessions=1,
                                                       seconds=row["seconds"], kwh=row["kwh"])
        m = months.excluded
        await conn.execute(months.on_conflict_do_update(
            index_elements=["month", "charger_id"],
            set_={"sessions": charger_months.c.sessions + 1, "seconds": charger_months.c.seconds + m.seconds,
                  "kwh": charger_months.c.kwh + m.kwh}))
        return True

    async def rebuild_sums(self, conn: AsyncConnection) -> None:
        """Compute the sums again from the facts (after facts were loaded in bulk)."""
        f = session_facts.c
        await conn.execute(delete(session_stats))
        await conn.execute(delete(charger_months))
        incl_unknown = func.sum(case((f.cost_incl_vat.is_(None), literal_column("1")), else_=literal_column("0")))
        cc = func.coalesce(f.emsp_country_code, literal_column("''"))  # (literals: the same expression in GROUP BY)
        pid = func.coalesce(f.emsp_party_id, literal_column("''"))
        await conn.execute(session_stats.insert().from_select(
            ["day", "hour_of_week", "emsp_country_code", "emsp_party_id", "currency", "sessions", "seconds", "kwh",
             "cost_excl_vat", "cost_incl_vat", "incl_unknown"],
            select(f.day, f.hour_of_week, cc, pid, f.currency, func.count(), func.sum(f.seconds), func.sum(f.kwh),
                   func.sum(f.cost_excl_vat), func.coalesce(func.sum(f.cost_incl_vat), literal_column("0")),
                   incl_unknown)
            .group_by(f.day, f.hour_of_week, cc, pid, f.currency)))
        month = func.substr(f.day, literal_column("1"), literal_column("7"))
        await conn.execute(charger_months.insert().from_select(
            ["month", "charger_id", "sessions", "seconds", "kwh"],
            select(month, f.charger_id, func.count(), func.sum(f.seconds), func.sum(f.kwh))
            .group_by(month, f.charger_id)))

    async def per_day(self, conn: AsyncConnection, first_day: str, last_day: str) -> list[tuple[str, int, float]]:
        """(day, sessions, kWh) of each local day in [first_day, last_day] that had sessions."""
        s = session_stats.c
        rows = await conn.execute(select(s.day, func.sum(s.sessions), func.sum(s.kwh))
                                  .where(s.day >= first_day, s.day <= last_day).group_by(s.day).order_by(s.day))
        return [(r[0], int(r[1]), round(float(r[2] or 0.0), 6)) for r in rows.all()]

    async def per_hour_of_week(self, conn: AsyncConnection, first_day: str, last_day: str) -> dict[int, int]:
        """{hour of week (0: Monday 00h local): sessions started}."""
        s = session_stats.c
        rows = await conn.execute(select(s.hour_of_week, func.sum(s.sessions))
                                  .where(s.day >= first_day, s.day <= last_day).group_by(s.hour_of_week))
        return {int(r[0]): int(r[1]) for r in rows.all()}

    async def per_charger(self, conn: AsyncConnection, first_day: str, last_day: str, *,
                          months: Sequence[str] | None = None) -> dict[str, tuple[int, float, float]]:
        """{charger: (sessions, seconds charging, kWh)} of the chargers with sessions in the
        period: the days [first_day, last_day] from the facts, or whole `months` (YYYY-MM; the
        current one to date) from their sums."""
        if months is not None:
            m = charger_months.c
            query = (select(m.charger_id, func.sum(m.sessions), func.sum(m.seconds), func.sum(m.kwh))
                     .where(m.month.in_(list(months))).group_by(m.charger_id))
        else:
            f = session_facts.c
            query = (select(f.charger_id, func.count(), func.sum(f.seconds), func.sum(f.kwh))
                     .where(f.day >= first_day, f.day <= last_day).group_by(f.charger_id))
        return {cid: (int(n), round(float(seconds or 0.0), 3), round(float(kwh or 0.0), 6))
                for cid, n, seconds, kwh in (await conn.execute(query)).all()}

    async def per_party(self, conn: AsyncConnection, first_day: str, last_day: str
                        ) -> list[tuple[str | None, str | None, str, int, int, int | None]]:
        """(eMSP country code, party id, currency, sessions, revenue excl. VAT, incl. VAT), in
        ten-thousandths of the currency unit (incl. VAT None when no CDR said it); the largest first."""
        s = session_stats.c
        revenue = func.sum(s.cost_excl_vat).label("revenue")
        rows = await conn.execute(
            select(s.emsp_country_code, s.emsp_party_id, s.currency, func.sum(s.sessions), revenue,
                   func.sum(s.cost_incl_vat), func.sum(s.incl_unknown))
            .where(s.day >= first_day, s.day <= last_day)
            .group_by(s.emsp_country_code, s.emsp_party_id, s.currency).order_by(revenue.desc()))
        return [(r[0] or None, r[1] or None, r[2], int(r[3]), int(r[4] or 0),
                 None if int(r[6] or 0) == int(r[3]) else int(r[5] or 0)) for r in rows.all()]

    async def day_totals(self, conn: AsyncConnection, day: str) -> list[tuple[str, int, float, int, int | None]]:
        """(currency, sessions, kWh, revenue excl. VAT, incl. VAT) of the sessions of one local day."""
        s = session_stats.c
        rows = await conn.execute(select(s.currency, func.sum(s.sessions), func.sum(s.kwh), func.sum(s.cost_excl_vat),
                                         func.sum(s.cost_incl_vat), func.sum(s.incl_unknown))
                                  .where(s.day == day).group_by(s.currency))
        return [(r[0], int(r[1]), round(float(r[2] or 0.0), 6), int(r[3] or 0),
                 None if int(r[5] or 0) == int(r[1]) else int(r[4] or 0)) for r in rows.all()]

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

    async def charger_shapes(self, conn: AsyncConnection, charger_ids: Sequence[str] | None = None
                             ) -> dict[str, tuple[int, datetime | None]]:
        """{charger: (EVSEs mapped, at least 1; when it was registered)} of these chargers (None: all)."""
        c = chargers.c
        query = select(c.id, c.evses, c.created_at)
        if charger_ids is not None:
            query = query.where(c.id.in_(list(charger_ids)))
        return {r[0]: (max(1, len(orjson.loads(r[1] or "{}"))), r[2]) for r in (await conn.execute(query)).all()}

    async def active_transactions(self, conn: AsyncConnection) -> list[tuple[int, str, str | None]]:
        """(pk, charger, session id) of every running transaction."""
        t = ocpp_transactions.c
        rows = await conn.execute(select(t.pk, t.charger_id, t.session_id).where(t.status == "ACTIVE")
                                  .order_by(t.pk))
        return [(r[0], r[1], r[2]) for r in rows.all()]


__all__ = ["FACT_COLUMNS", "Fault", "StatisticsRepository"]
