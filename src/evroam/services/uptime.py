"""AFIR uptime: each charging point's (EVSE's) availability over a period, from the history of its
statuses (every status change is logged, `evse_status_log`), against the 97 % uptime the AFIR
rules (Regulation (EU) 2023/1804 and its implementing acts) ask of publicly accessible recharging
points.

For each EVSE, over [start, end) (the future not counted):
- time before its first logged status, and time PLANNED or REMOVED, is not in service: not counted;
- time INOPERATIVE (unavailable), OUTOFORDER (faulted) or UNKNOWN (offline: the charger's
  connection is gone) is down; every other status (AVAILABLE, CHARGING, RESERVED, BLOCKED) is up;
- time inside the planned maintenance the operator marked for its charger
  (`evroam uptime maintenance add`) is excluded, whatever the status;
- uptime = (counted - down) / counted, counted = in service - maintenance.

A charger's row adds up its EVSEs. `report()` is what the CLI, the admin API and the operators'
statistics use; `to_csv()` its export."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.services.errors import Invalid, NotFound
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.uptime import MaintenanceWindow

TARGET = Decimal("97")
DOWN = {"INOPERATIVE": "unavailable", "OUTOFORDER": "faulted", "UNKNOWN": "offline"}
NOT_IN_SERVICE = {"PLANNED", "REMOVED"}
COLUMNS = ("charger_id", "location_id", "evse_uid", "period_start", "period_end", "in_service_s", "maintenance_s",
           "unavailable_s", "faulted_s", "offline_s", "uptime_percent", "meets_afir")


@dataclass
class Tally:
    in_service: float = 0.0
    maintenance: float = 0.0
    down: dict[str, float] = field(default_factory=lambda: {"unavailable": 0.0, "faulted": 0.0, "offline": 0.0})

    def add(self, other: Tally) -> None:
        self.in_service += other.in_service
        self.maintenance += other.maintenance
        for k, v in other.down.items():
            self.down[k] += v

    @property
    def uptime(self) -> Decimal | None:
        counted = self.in_service - self.maintenance
        if counted <= 0:
            return None
        up = Decimal(str(counted - sum(self.down.values()))) / Decimal(str(counted)) * 100
        return up.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _overlap(a0: datetime, a1: datetime, windows: list[tuple[datetime, datetime]]) -> float:
    """Seconds of [a0, a1) inside the (merged, disjoint) windows."""
    return sum(max(0.0, (min(a1, w1) - max(a0, w0)).total_seconds()) for w0, w1 in windows)


def _merged(windows: list[MaintenanceWindow]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for w in sorted(windows, key=lambda w: w.starts_at):
        if out and w.starts_at <= out[-1][1]:
            out[-1][1] = max(out[-1][1], w.ends_at)
        else:
            out.append([w.starts_at, w.ends_at])
    return [(a, b) for a, b in out]


def tally(changes: list[tuple[datetime, str]], start: datetime, end: datetime,
          windows: list[tuple[datetime, datetime]]) -> Tally:
    """One EVSE's tally from its status at `start` (a change before it, if any) and its changes."""
    result = Tally()
    for i, (at, status) in enumerate(changes):
        a0 = max(at, start)
        a1 = min(changes[i + 1][0], end) if i + 1 < len(changes) else end
        if a1 <= a0 or status in NOT_IN_SERVICE:
            continue
        length = (a1 - a0).total_seconds()
        inside = _overlap(a0, a1, windows)
        result.in_service += length
        result.maintenance += inside
        if status in DOWN:
            result.down[DOWN[status]] += length - inside
    return result


def _row(charger_id: str | None, location_id: str | None, evse_uid: str | None, start: datetime, end: datetime,
         t: Tally) -> dict[str, Any]:
    uptime = t.uptime
    return {"charger_id": charger_id, "location_id": location_id, "evse_uid": evse_uid,
            "period_start": format_datetime(start), "period_end": format_datetime(end),
            "in_service_s": round(t.in_service), "maintenance_s": round(t.maintenance),
            "unavailable_s": round(t.down["unavailable"]), "faulted_s": round(t.down["faulted"]),
            "offline_s": round(t.down["offline"]), "uptime_percent": str(uptime) if uptime is not None else None,
            "meets_afir": uptime >= TARGET if uptime is not None else None}


class UptimeService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def report(self, start: datetime, end: datetime) -> dict[str, Any]:
        """{"evses": [row per EVSE], "chargers": [row per charger], "target_percent"}: each row
        with its seconds in service, under maintenance, unavailable, faulted, offline, its uptime
        (percent, 2 decimals) and whether it meets AFIR's 97 %."""
        if end <= start:
            raise Invalid("the period must end after it starts")
        until = min(end, utcnow())
        async with self.store.connect() as conn:
            changes = await self.store.status_log.changes(conn, start, until)
            chargers = await self.store.chargers.list(conn)
            windows = await self.store.maintenance.overlapping(conn, start, until)
        owner: dict[tuple[str, str], str] = {}
        for charger in chargers:
            for uid in charger.evses.values():
                if charger.location_id:
                    owner[(charger.location_id, uid)] = charger.id
        by_charger_windows: dict[str, list[MaintenanceWindow]] = defaultdict(list)
        for w in windows:
            by_charger_windows[w.charger_id].append(w)
        per_evse: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
        for c in changes:
            per_evse[(c.location_id, c.evse_uid)].append((c.at, c.status))
        evse_rows, charger_tallies = [], defaultdict(Tally)
        for (location_id, evse_uid), history in sorted(per_evse.items()):
            charger_id = owner.get((location_id, evse_uid))
            t = tally(history, start, until, _merged(by_charger_windows.get(charger_id, [])) if charger_id else [])
            evse_rows.append(_row(charger_id, location_id, evse_uid, start, end, t))
            if charger_id:
                charger_tallies[charger_id].add(t)
        charger_rows = [_row(cid, None, None, start, end, t) for cid, t in sorted(charger_tallies.items())]
        return {"period_start": format_datetime(start), "period_end": format_datetime(end),
                "target_percent": str(TARGET), "evses": evse_rows, "chargers": charger_rows}

    # ------------------------------------------------------------------ planned maintenance

    async def add_maintenance(self, charger_id: str, starts_at: datetime | str, ends_at: datetime | str,
                              note: str | None = None) -> dict[str, Any]:
        start, end = _when(starts_at, "from"), _when(ends_at, "to")
        if end <= start:
            raise Invalid("maintenance must end after it starts")
        async with self.store.begin() as conn:
            if await self.store.chargers.get(conn, charger_id) is None:
                raise NotFound(f"charger {charger_id!r} not found", kind="charger")
            pk = await self.store.maintenance.add(conn, charger_id, start, end, (note or "")[:500] or None)
        return {"id": pk, "charger_id": charger_id, "from": format_datetime(start), "to": format_datetime(end),
                "note": note}

    async def maintenance(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            windows = await self.store.maintenance.overlapping(conn, start or parse_datetime("1970-01-01T00:00:00Z"),
                                                               end or parse_datetime("9999-01-01T00:00:00Z"))
        return [{"id": w.pk, "charger_id": w.charger_id, "from": format_datetime(w.starts_at),
                 "to": format_datetime(w.ends_at), "note": w.note} for w in windows]

    async def remove_maintenance(self, pk: int) -> None:
        async with self.store.begin() as conn:
            if not await self.store.maintenance.remove(conn, pk):
                raise NotFound(f"maintenance {pk} not found", kind="maintenance")


def _when(value: datetime | str, name: str) -> datetime:
    if isinstance(value, datetime):
        return parse_datetime(value)
    try:
        return parse_datetime(value)
    except (ValueError, TypeError):
        raise Invalid(f"{name}: {value!r} is not a date-time such as 2025-03-01T08:00:00Z") from None


def parse_period(start: str, end: str) -> tuple[datetime, datetime]:
    """A period from two dates (YYYY-MM-DD, midnight UTC) or date-times."""
    def one(value: str, name: str) -> datetime:
        value = value.strip()
        return _when(value + "T00:00:00Z" if len(value) == 10 else value, name)

    return one(start, "from"), one(end, "to")


def to_csv(report: dict[str, Any]) -> str:
    """One row per EVSE, then one per charger (evse_uid empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in [*report["evses"], *report["chargers"]]:
        writer.writerow(["" if row[c] is None else ("yes" if row[c] is True else "no" if row[c] is False else row[c])
                         for c in COLUMNS])
    return buf.getvalue()
