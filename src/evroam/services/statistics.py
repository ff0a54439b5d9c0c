"""The network in figures, for the back office: the overview now (chargers online, offline and
faulted, sessions running, power, today's energy and revenue, partners' health, recent faults)
and the statistics over a period (energy per day, sessions by hour of week, utilisation and
uptime per charger, revenue per partner), each also as CSV. Every figure is an aggregate the
database computes (store/statistics.py) from the sums kept per day and per charger and month, or
(the last 7 days per charger) from a week of facts: none reads every session."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evroam.model.common import utcnow
from evroam.model.partners import Partner
from evroam.services.errors import Invalid
from evroam.services.session_facts import SCALE
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.sites import latest_meters

#: the periods offered, up to today: the last 7 days, or the current month (to date) and the
#: months before it (whole months read their sums, never the sessions)
PERIODS = {"7d": "7 days", "month": "this month", "3m": "3 months", "12m": "12 months"}
MONTHS = {"month": 1, "3m": 3, "12m": 12}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: a partner whose oldest waiting push is older than this is not healthy
STALE_OUTBOX_SECONDS = 300.0


def money(units: int | None) -> Decimal | None:
    """Ten-thousandths of a currency unit as an amount to the cent."""
    if units is None:
        return None
    return (Decimal(units) / SCALE).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo
    name: str = "7d"
    months: tuple[str, ...] | None = None  # whole months (the last one to date); None: days

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return min(utcnow(), datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC))

    @property
    def seconds(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds())


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


class Statistics:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.billing_time_zone)

    def today(self) -> date:
        return utcnow().astimezone(self.zone).date()

    def period(self, name: str) -> Period:
        if name not in PERIODS:
            raise Invalid(f"period: one of {', '.join(PERIODS)}")
        last = self.today()
        if name not in MONTHS:
            return Period(last - timedelta(days=6), last, self.zone, name)
        year, month = last.year, last.month
        months = []
        for _ in range(MONTHS[name]):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return Period(date.fromisoformat(months[-1] + "-01"), last, self.zone, name, tuple(reversed(months)))

    # ------------------------------------------------------------------ the overview

    async def overview(self, connected: set[str] | dict[str, str]) -> dict[str, Any]:
        """The network now; `connected`: the chargers connected to any node."""
        stats = self.store.statistics
        async with self.store.connect() as conn:
            counts = await stats.charger_counts(conn)
            active = await stats.active_transactions(conn)
            meters = await latest_meters(conn, [pk for pk, _, _ in active])
            today = await stats.day_totals(conn, self.today().isoformat())
            faults = await stats.recent_faults(conn, 10)
            partners = await self.store.partners.list(conn)
            waiting = await self.store.outbox.waiting_by_partner(conn)
        online = len(connected)
        power_w = sum(m.power_w for m in meters.values() if m.power_w is not None)
        return {
            "chargers": {**counts, "online": online, "offline": max(0, counts["registered"] - online)},
            "active_sessions": len(active),
            "power_kw": round(power_w / 1000.0, 1),
            "today": [{"currency": cur, "sessions": n, "kwh": round(kwh, 3), "revenue_excl_vat": money(excl),
                       "revenue_incl_vat": money(incl)} for cur, n, kwh, excl, incl in today],
            "partners": [self.partner_health(p, waiting.get(p.pk)) for p in partners],
            "faults": faults,
        }

    @staticmethod
    def partner_health(partner: Partner, waiting: tuple[int, float, int] | None) -> dict[str, Any]:
        pending, oldest, failed = waiting or (0, 0.0, 0)
        problems = []
        if partner.status.value != "REGISTERED":
            problems.append(partner.status.value.lower())
        if failed:
            problems.append(f"{failed} push(es) refused")
        if pending and oldest > STALE_OUTBOX_SECONDS:
            problems.append(f"oldest push waiting {int(oldest)} s")
        if partner.last_error:
            problems.append("last call failed")
        last_pull = max(partner.sync_state.values()) if partner.sync_state else None
        return {"name": partner.name, "status": partner.status.value, "version": partner.version,
                "roles": [f"{r.get('country_code')}/{r.get('party_id')} {r.get('role')}" for r in partner.roles],
                "outbox_waiting": pending, "outbox_oldest_seconds": round(oldest, 1), "outbox_failed": failed,
                "last_error": partner.last_error, "last_pull": last_pull,
                "healthy": not problems, "problems": problems}

    # ------------------------------------------------------------------ statistics over a period

    async def energy_per_day(self, period: Period) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            rows = await self.store.statistics.per_day(conn, period.first.isoformat(), period.last.isoformat())
        found = {day: (n, kwh) for day, n, kwh in rows}
        out = []
        for i in range(period.days):
            day = (period.first + timedelta(days=i)).isoformat()
            n, kwh = found.get(day, (0, 0.0))
            out.append({"day": day, "sessions": n, "kwh": round(kwh, 3)})
        return out

    async def hour_of_week(self, period: Period) -> list[list[int]]:
        """7 rows (Monday first) of 24 counts of sessions started in that local hour."""
        async with self.store.connect() as conn:
            found = await self.store.statistics.per_hour_of_week(conn, period.first.isoformat(),
                                                                 period.last.isoformat())
        return [[found.get(d * 24 + h, 0) for h in range(24)] for d in range(7)]

    async def chargers(self, period: Period, *, offset: int = 0, limit: int | None = 50) -> dict[str, Any]:
        """Per charger with sessions in the period, busiest first: sessions, energy, utilisation
        (share of the period its EVSEs were in a session) and uptime (share connected), both of
        the part of the period since the charger was registered."""
        stats = self.store.statistics
        first, last = period.first.isoformat(), period.last.isoformat()
        async with self.store.connect() as conn:
            found = await stats.per_charger(conn, first, last, months=period.months)
            ranked = sorted(found.items(), key=lambda item: (-item[1][1], item[0]))  # busiest first
            total = len(ranked)
            rows = [(cid, n, busy, kwh) for cid, (n, busy, kwh) in
                    (ranked[offset:offset + limit] if limit is not None else ranked)]
            ids = [r[0] for r in rows]
            every = limit is None
            uptime = await stats.connected_seconds(conn, period.start, period.end, charger_ids=None if every else ids)
            shapes = await stats.charger_shapes(conn, None if every else ids)
        evses = {cid: n for cid, (n, _) in shapes.items()}
        # the share of the part of the period the charger existed in
        since = {cid: max(period.start, created or period.start) for cid, (_, created) in shapes.items()}
        items = []
        for cid, n, busy, kwh in rows:
            seconds = max(1.0, (period.end - since.get(cid, period.start)).total_seconds())
            items.append({"charger_id": cid, "sessions": n, "kwh": round(kwh, 3),
                          "utilisation": round(min(1.0, busy / (seconds * evses.get(cid, 1))), 4),
                          "uptime": round(min(1.0, uptime.get(cid, 0.0) / seconds), 4)})
        return {"items": items, "total": total, "offset": offset}

    async def revenue(self, period: Period) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            rows = await self.store.statistics.per_party(conn, period.first.isoformat(), period.last.isoformat())
            partners = await self.store.partners.list(conn)
        own = (self.settings.country_code, self.settings.party_id)
        names = {party: p.name for p in partners for party in p.parties()}
        out = []
        for cc, pid, currency, n, excl, incl in rows:
            party = ((cc or "").upper(), (pid or "").upper())
            name = "our drivers" if party == own else names.get(party) or (f"{cc}/{pid}" if cc else "unknown")
            out.append({"partner": name, "party": f"{cc}/{pid}" if cc else "", "currency": currency, "sessions": n,
                        "revenue_excl_vat": money(excl), "revenue_incl_vat": money(incl)})
        return out

    # ------------------------------------------------------------------ CSV

    async def csv(self, kind: str, period: Period) -> str:
        if kind == "energy-per-day":
            rows = await self.energy_per_day(period)
            return _csv(["day", "sessions", "kwh"], [[r["day"], r["sessions"], r["kwh"]] for r in rows])
        if kind == "hour-of-week":
            grid = await self.hour_of_week(period)
            return _csv(["day", *[f"{h:02d}h" for h in range(24)]], [[DAYS[d], *grid[d]] for d in range(7)])
        if kind == "chargers":
            found = await self.chargers(period, limit=None)
            return _csv(["charger", "sessions", "kwh", "utilisation", "uptime"],
                        [[r["charger_id"], r["sessions"], r["kwh"], r["utilisation"], r["uptime"]]
                         for r in found["items"]])
        if kind == "revenue":
            rows = await self.revenue(period)
            return _csv(["partner", "party", "currency", "sessions", "revenue_excl_vat", "revenue_incl_vat"],
                        [[r["partner"], r["party"], r["currency"], r["sessions"], r["revenue_excl_vat"],
                          "" if r["revenue_incl_vat"] is None else r["revenue_incl_vat"]] for r in rows])
        raise Invalid(f"statistics {kind!r}: energy-per-day, hour-of-week, chargers or revenue")
