"""Capacity schedules: a site's or circuit's limit by time of day and day of week.

The schedule file (JSON)::

    {"timezone": "Europe/Amsterdam",
     "periods": [{"days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                  "start": "17:00", "end": "20:00", "capacity_kw": 11}]}

Times are local wall-clock times in `timezone`. `days` (OCPI DayOfWeek names) is optional: every
day when absent; it names the day a period STARTS on. `end` before `start` wraps midnight (the
period ends the next day); `end` may be "24:00". Inside a period its `capacity_kw` replaces the
base kW limit and its `capacity_a` the base per-phase current limit (the other base limit, if any,
still applies). Where periods overlap the lowest value wins. Outside every period the base
limits apply.

Wall-clock semantics on DST days: a period starting in the hour skipped in spring starts when the
clock jumps; in the hour repeated in autumn, the period follows the clock (it may apply twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DAYS", "CapacitySchedule", "SchedulePeriod", "load_schedule"]

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PERIOD_KEYS = {"days", "start", "end", "capacity_kw", "capacity_a"}


@dataclass(frozen=True)
class SchedulePeriod:
    start_min: int  # minutes after local midnight, 0..1439
    end_min: int  # 1..1440; <= start_min: the period wraps midnight
    days: frozenset[int] | None = None  # weekday() numbers (Monday 0) the period starts on
    capacity_kw: float | None = None
    capacity_a: float | None = None

    @property
    def wraps(self) -> bool:
        return self.end_min <= self.start_min

    def active(self, weekday: int, minute: float) -> bool:
        """Whether the period covers local `minute` (of the day) on local `weekday`."""
        days = self.days
        if not self.wraps:
            return self.start_min <= minute < self.end_min and (days is None or weekday in days)
        if minute >= self.start_min:
            return days is None or weekday in days
        return minute < self.end_min and (days is None or (weekday - 1) % 7 in days)


@dataclass(frozen=True)
class CapacitySchedule:
    timezone: str
    periods: tuple[SchedulePeriod, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    # ---------------------------------------------------------------- evaluation

    def overrides_at(self, at: datetime) -> tuple[float | None, float | None]:
        """(capacity_kw, capacity_a) of the periods active at `at` (None: no period sets it)."""
        if at.tzinfo is None:
            raise ValueError("schedule evaluation needs an aware datetime")
        local = at.astimezone(self._zone)  # type: ignore[attr-defined]
        weekday = local.weekday()
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        kw: float | None = None
        amps: float | None = None
        for p in self.periods:
            if p.active(weekday, minute):
                if p.capacity_kw is not None:
                    kw = p.capacity_kw if kw is None else min(kw, p.capacity_kw)
                if p.capacity_a is not None:
                    amps = p.capacity_a if amps is None else min(amps, p.capacity_a)
        return kw, amps

    def limit_kw_at(self, at: datetime, default_kw: float | None) -> float | None:
        kw, _ = self.overrides_at(at)
        return default_kw if kw is None else kw

    def limit_a_at(self, at: datetime, default_a: float | None) -> float | None:
        _, amps = self.overrides_at(at)
        return default_a if amps is None else amps

    def next_change(self, after: datetime) -> datetime | None:
        """The first instant after `after` at which the schedule's limits change (UTC), or None
        when they never change (no periods, or periods covering all the time alike)."""
        if after.tzinfo is None:
            raise ValueError("schedule evaluation needs an aware datetime")
        zone: ZoneInfo = self._zone  # type: ignore[attr-defined]
        after = after.astimezone(UTC)
        start_day = after.astimezone(zone).date()
        candidates: set[datetime] = set()
        for offset in range(-1, 9):
            day = start_day + timedelta(days=offset)
            for p in self.periods:
                if p.days is not None and day.weekday() not in p.days:
                    continue
                candidates.update(_wall_instants(day, p.start_min, zone))
                end_day = day + timedelta(days=1) if p.wraps else day
                candidates.update(_wall_instants(end_day, p.end_min, zone))
        candidates.update(_transitions(after - timedelta(days=1), after + timedelta(days=9), zone))
        current = self.overrides_at(after)
        for instant in sorted(c for c in candidates if c > after):
            value = self.overrides_at(instant)
            if value != current:
                return instant
            current = value
        return None


def _wall_instants(day: date, minute: int, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the local clock shows `minute` on `day` (two in the repeated
    autumn hour, none in the skipped spring hour: the jump itself is a transition candidate)."""
    if minute >= 1440:
        day, minute = day + timedelta(days=1), minute - 1440
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    found = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive:
            found.append(instant)
    return found


def _transitions(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """UTC offset changes of `zone` between `start` and `end` (whole seconds)."""

    def offset(ts: int) -> timedelta | None:
        return datetime.fromtimestamp(ts, UTC).astimezone(zone).utcoffset()

    found = []
    t = int(start.timestamp())
    stop = int(end.timestamp())
    current = offset(t)
    while t < stop:
        nxt = t + 3600
        nxt_offset = offset(nxt)
        if nxt_offset != current:
            lo, hi = t, nxt  # offset(lo) == current != offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            found.append(datetime.fromtimestamp(hi, UTC))
        t, current = nxt, nxt_offset
    return found


# -------------------------------------------------------------------- parsing


def _parse_time(value: object, where: str, allow_24: bool) -> int:
    if allow_24 and value == "24:00":
        return 1440
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError(f"{where}: expected a time HH:MM (00:00 to 23:59), got {value!r}")
    return int(value[:2]) * 60 + int(value[3:])


def _parse_capacity(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise ValueError(f"{where}: expected a number >= 0, got {value!r}")
    if value == float("inf"):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def load_schedule(data: dict) -> CapacitySchedule:
    """Parse a schedule file's content. Raises ValueError naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"schedule: expected an object, got {type(data).__name__}")
    unknown = set(data) - {"timezone", "periods"}
    if unknown:
        raise ValueError(f"schedule: unknown field {sorted(unknown)[0]!r}")
    tz = data.get("timezone")
    if not isinstance(tz, str) or not tz:
        raise ValueError("timezone: required, an IANA time zone name such as 'Europe/Amsterdam'")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: unknown time zone {tz!r}") from exc
    raw_periods = data.get("periods")
    if not isinstance(raw_periods, list):
        raise ValueError("periods: required, a list of periods")
    periods = []
    for i, raw in enumerate(raw_periods):
        where = f"periods[{i}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected an object")
        unknown = set(raw) - _PERIOD_KEYS
        if unknown:
            raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown field")
        for key in ("start", "end"):
            if key not in raw:
                raise ValueError(f"{where}.{key}: required")
        start = _parse_time(raw["start"], f"{where}.start", allow_24=False)
        end = _parse_time(raw["end"], f"{where}.end", allow_24=True)
        if end == start:
            raise ValueError(f"{where}.end: equals start (a period cannot be empty; for all day use 00:00-24:00)")
        days = None
        if "days" in raw:
            raw_days = raw["days"]
            if not isinstance(raw_days, list) or not raw_days:
                raise ValueError(f"{where}.days: expected a non-empty list of day names such as 'MONDAY'")
            for day in raw_days:
                if day not in DAYS:
                    raise ValueError(f"{where}.days: unknown day {day!r} (expected one of {', '.join(DAYS)})")
            days = frozenset(DAYS.index(day) for day in raw_days)
        kw = _parse_capacity(raw.get("capacity_kw"), f"{where}.capacity_kw")
        amps = _parse_capacity(raw.get("capacity_a"), f"{where}.capacity_a")
        if kw is None and amps is None:
            raise ValueError(f"{where}: needs capacity_kw or capacity_a")
        periods.append(SchedulePeriod(start, end, days, kw, amps))
    return CapacitySchedule(tz, tuple(periods))
