"""A tariff precompiled for fast pricing.

Every tariff element gets one bit (bit i = element i, so the lowest set bit is the first
element in list order). Each restriction kind is turned into "bands": the values where it
can change (thresholds, local times, dates) split its axis, and each band carries the mask
of elements whose restrictions of that kind hold there. The elements active at an instant
are then the AND of a few masks, and the price component per dimension is the lowest bit
of that AND restricted to the elements that have that dimension.

Calendar restrictions (time of day, day of week, dates) are resolved per local day into a
list of (UTC instant, mask) changes, DST days included, and cached per day.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evroam.model.tariffs import Tariff, TaxIncluded
from evroam.tariffs.types import ENERGY, FLAT, MWH_PER_KWH, PARKING_TIME, TIME

DIMENSIONS = (ENERGY, TIME, PARKING_TIME, FLAT)
DAY_INDEX = {"MONDAY": 0, "TUESDAY": 1, "WEDNESDAY": 2, "THURSDAY": 3, "FRIDAY": 4, "SATURDAY": 5, "SUNDAY": 6}
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_DAY_CACHE_LIMIT = 4096
NEG_INF = float("-inf")


def dec(value: Any) -> Decimal:
    """Float from the model to Decimal via str(), so 0.1 stays 0.1."""
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Component:
    id: int
    dimension: str
    element: int  # index in tariff.elements
    index: int  # index in element.price_components
    price: Decimal
    vat: Decimal | None
    step: int  # billing block in engine units (mWh for ENERGY, ms for times), >= 1
    step_size: int  # as written in the tariff
    excl_mult: Decimal  # excl-VAT amount = price * volume * excl_mult
    incl_mult: Decimal | None  # incl-VAT amount = price * volume * incl_mult (None: unknown)


def _hhmm(value: str) -> int:
    h, m = value.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True, slots=True)
class _Calendar:
    start_min: int | None
    end_min: int | None
    start_date: int | None  # date ordinal
    end_date: int | None
    days: frozenset[int] | None

    def matches(self, minute_of_day: float, weekday: int, ordinal: int) -> bool:
        if self.days is not None and weekday not in self.days:
            return False
        if self.start_date is not None and ordinal < self.start_date:
            return False
        if self.end_date is not None and ordinal >= self.end_date:
            return False
        if self.start_min is None and self.end_min is None:
            return True
        s = self.start_min or 0
        e = self.end_min if self.end_min else 1440  # 00:00 as end means end of day
        if s < e:
            return s <= minute_of_day < e
        if s > e:  # wraps past midnight
            return minute_of_day >= s or minute_of_day < e
        return True  # same start and end: the whole day


def _bands(
    elements: list[tuple[int, float | None, float | None]], all_bits: int
) -> tuple[tuple[float, ...], tuple[int, ...], int]:
    """Thresholds and per-band masks for one instantaneous quantity.

    `elements` = (bit, min, max); min inclusive, max exclusive. Band b holds values v with
    th[b-1] <= v < th[b]. Returns (thresholds, band masks, mask of unrestricted elements)."""
    th = sorted({v for _, lo, hi in elements for v in (lo, hi) if v is not None})
    restricted = 0
    for bit, lo, hi in elements:
        if lo is not None or hi is not None:
            restricted |= bit
    free = all_bits & ~restricted
    masks = []
    for b in range(len(th) + 1):
        rep = th[b - 1] if b else NEG_INF
        m = free
        for bit, lo, hi in elements:
            if lo is None and hi is None:
                continue
            if (lo is None or lo <= rep) and (hi is None or rep < hi):
                m |= bit
        masks.append(m)
    return tuple(th), tuple(masks), free


class CompiledTariff:
    """A tariff ready for pricing in one time zone. Build once, price many sessions."""

    def __init__(self, tariff: Tariff, time_zone: str | ZoneInfo):
        self.tariff = tariff
        self.tz = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
        self.currency = tariff.currency
        self.tariff_id = tariff.id
        tax = tariff.tax_included
        self.components: list[Component] = []
        n = len(tariff.elements)
        self.all_bits = (1 << n) - 1
        # comp_of[dim][element] = component id (first component of that dimension in the element)
        self.comp_of: dict[str, dict[int, int]] = {d: {} for d in DIMENSIONS}
        self.session_dim_mask = dict.fromkeys(DIMENSIONS, 0)
        self.reservation_elements: list[int] = []
        self.expiry_elements: list[int] = []
        calendars: list[tuple[int, _Calendar]] = []
        power: list[tuple[int, float | None, float | None]] = []
        current: list[tuple[int, float | None, float | None]] = []
        kwh: list[tuple[int, float | None, float | None]] = []
        duration: list[tuple[int, float | None, float | None]] = []
        for i, el in enumerate(tariff.elements):
            bit = 1 << i
            r = el.restrictions
            for j, pc in enumerate(el.price_components):
                dim = pc.type.value
                price = dec(pc.price)
                vat = dec(pc.vat) if pc.vat is not None else None
                excl_mult, incl_mult = _tax_multipliers(tax, vat)
                step_size = max(int(pc.step_size), 1)
                unit = 1000 if dim == ENERGY else 1000  # Wh -> mWh, s -> ms
                comp = Component(
                    len(self.components), dim, i, j, price, vat, step_size * unit, pc.step_size, excl_mult, incl_mult
                )
                self.components.append(comp)
                self.comp_of[dim].setdefault(i, comp.id)
            is_reservation = r is not None and r.reservation is not None
            if is_reservation:
                assert r is not None and r.reservation is not None
                (self.expiry_elements if r.reservation.value == "RESERVATION_EXPIRES" else self.reservation_elements).append(i)
            else:
                for dim in DIMENSIONS:
                    if i in self.comp_of[dim]:
                        self.session_dim_mask[dim] |= bit
            if r is None:
                continue
            cal = _Calendar(
                _hhmm(r.start_time) if r.start_time else None,
                _hhmm(r.end_time) if r.end_time else None,
                date.fromisoformat(r.start_date).toordinal() if r.start_date else None,
                date.fromisoformat(r.end_date).toordinal() if r.end_date else None,
                frozenset(DAY_INDEX[d.value] for d in r.day_of_week) if r.day_of_week else None,
            )
            if any(v is not None for v in (cal.start_min, cal.end_min, cal.start_date, cal.end_date, cal.days)):
                calendars.append((bit, cal))
            power.append((bit, r.min_power, r.max_power))
            current.append((bit, r.min_current, r.max_current))
            kwh.append((
                bit,
                round(r.min_kwh * MWH_PER_KWH) if r.min_kwh is not None else None,
                round(r.max_kwh * MWH_PER_KWH) if r.max_kwh is not None else None,
            ))
            duration.append((
                bit,
                r.min_duration * 1000 if r.min_duration is not None else None,
                r.max_duration * 1000 if r.max_duration is not None else None,
            ))
        all_bits = self.all_bits
        self.power_th, self.power_masks, self.power_free = _bands(power, all_bits)
        self.current_th, self.current_masks, self.current_free = _bands(current, all_bits)
        kwh_th, self.kwh_masks, _ = _bands(kwh, all_bits)
        self.kwh_th = tuple(int(v) for v in kwh_th)
        dur_th, self.duration_masks, _ = _bands(duration, all_bits)
        self.duration_th = tuple(int(v) for v in dur_th)
        self.calendars = calendars
        self.calendar_free = all_bits
        for bit, _cal in calendars:
            self.calendar_free &= ~bit
        self.boundary_minutes = sorted(
            {m for _, c in calendars for m in (c.start_min, c.end_min) if m is not None} | {0}
        )
        self._day_cache: dict[int, list[tuple[int, int]]] = {}
        self._comps_cache: dict[int, tuple[int, int, int, int]] = {}
        self._interned: dict[tuple[int, int, int, int], tuple[int, int, int, int]] = {}
        self._res_cache: dict[tuple[int, bool], tuple[int, int]] = {}
        self.has_power = bool(self.power_th)
        self.has_current = bool(self.current_th)
        self.bits_of_component = [1 << c.element for c in self.components]

    # ------------------------------------------------------------------ lookups

    def active(self, mask: int) -> tuple[int, int, int, int]:
        """(ENERGY, TIME, PARKING_TIME, FLAT) component ids active under `mask` (-1: none)."""
        got = self._comps_cache.get(mask)
        if got is not None:
            return got
        out = []
        for dim in DIMENSIONS:
            m = mask & self.session_dim_mask[dim]
            out.append(self.comp_of[dim][(m & -m).bit_length() - 1] if m else -1)
        key = tuple(out)
        result = self._interned.setdefault(key, key)  # type: ignore[arg-type]
        self._comps_cache[mask] = result
        return result

    def reservation_active(self, mask: int, expired: bool) -> tuple[int, int]:
        """(TIME, FLAT) component ids for the reservation under `mask`.

        When the reservation expired, RESERVATION_EXPIRES elements come first (the spec: an
        expired reservation's time is priced by the RESERVATION_EXPIRES element), then the
        RESERVATION ones; otherwise only RESERVATION elements apply."""
        key = (mask, expired)
        got = self._res_cache.get(key)
        if got is not None:
            return got
        order = (self.expiry_elements + self.reservation_elements) if expired else self.reservation_elements
        out = []
        for dim in (TIME, FLAT):
            cid = -1
            for i in order:
                if mask >> i & 1 and i in self.comp_of[dim]:
                    cid = self.comp_of[dim][i]
                    break
            out.append(cid)
        result = (out[0], out[1])
        self._res_cache[key] = result
        return result

    def power_mask(self, value: float | None) -> int:
        if value is None:
            return self.power_free
        return self.power_masks[bisect_right(self.power_th, value)]

    def current_mask(self, value: float | None) -> int:
        if value is None:
            return self.current_free
        return self.current_masks[bisect_right(self.current_th, value)]

    # ------------------------------------------------------------------ calendar

    def calendar_mask_at(self, ms: int) -> int:
        if not self.calendars:
            return self.all_bits
        local = datetime.fromtimestamp(ms / 1000, self.tz)
        minute = local.hour * 60 + local.minute + local.second / 60
        weekday = local.weekday()
        ordinal = local.toordinal()
        m = self.calendar_free
        for bit, cal in self.calendars:
            if cal.matches(minute, weekday, ordinal):
                m |= bit
        return m

    def local_ordinal(self, ms: int) -> int:
        return datetime.fromtimestamp(ms / 1000, self.tz).toordinal()

    def _local_to_ms(self, ordinal: int, minute: int, fold: int) -> int:
        d = date.fromordinal(ordinal)
        wall = datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=self.tz, fold=fold)
        return round(wall.astimezone(UTC).timestamp() * 1000)

    def _offset(self, ms: int) -> timedelta | None:
        return datetime.fromtimestamp(ms / 1000, self.tz).utcoffset()

    def _transitions(self, lo: int, hi: int, out: list[int]) -> None:
        """UTC instants in (lo, hi] where the zone's offset changes (bisection to 1 s)."""
        off_lo = self._offset(lo)
        if off_lo == self._offset(hi):
            return
        a, b = lo, hi
        while b - a > 1000:
            mid = (a + b) // 2000 * 1000
            if mid <= a:
                break
            if self._offset(mid) == off_lo:
                a = mid
            else:
                b = mid
        out.append(b)
        if b < hi:
            self._transitions(b, hi, out)

    def day_plan(self, ordinal: int) -> list[tuple[int, int]]:
        """(UTC ms, calendar mask) at every instant of local day `ordinal` where a calendar
        restriction can change: the day's start, each start/end time (both readings of an
        ambiguous wall time), and the zone's offset changes."""
        got = self._day_cache.get(ordinal)
        if got is not None:
            return got
        day_start = self._local_to_ms(ordinal, 0, 0)
        next_start = self._local_to_ms(ordinal + 1, 0, 0)
        instants = {day_start}
        for minute in self.boundary_minutes:
            for fold in (0, 1):
                t = self._local_to_ms(ordinal, minute, fold)
                if day_start <= t < next_start:
                    instants.add(t)
        changes: list[int] = []
        self._transitions(day_start, next_start, changes)
        instants.update(t for t in changes if t < next_start)
        plan = [(t, self.calendar_mask_at(t)) for t in sorted(instants)]
        if len(self._day_cache) > _DAY_CACHE_LIMIT:
            self._day_cache.clear()
        self._day_cache[ordinal] = plan
        return plan

    def time_timeline(self, start_ms: int, end_ms: int, origin_ms: int) -> list[tuple[int, int]]:
        """Piecewise-constant mask of the time-driven restrictions (calendar and duration since
        `origin_ms`) over [start_ms, end_ms): a list of (from_ms, mask), first entry at start_ms."""
        if self.calendars:
            first = self.local_ordinal(start_ms)
            last = self.local_ordinal(end_ms) if end_ms > start_ms else first
            cal: list[tuple[int, int]] = []
            for ordinal in range(first - 1, last + 1):
                cal.extend(self.day_plan(ordinal))
            cal.sort()
            # keep the last change at or before start, and the changes inside (start, end)
            k = 0
            for idx, (t, _) in enumerate(cal):
                if t <= start_ms:
                    k = idx
                else:
                    break
            cal = [(start_ms, cal[k][1])] + [(t, m) for t, m in cal[k + 1 :] if t < end_ms]
        else:
            cal = [(start_ms, self.all_bits)]
        if not self.duration_th:
            return cal
        dur = [(start_ms, self.duration_masks[bisect_right(self.duration_th, start_ms - origin_ms)])]
        for th in self.duration_th:
            t = origin_ms + th
            if start_ms < t < end_ms:
                dur.append((t, self.duration_masks[bisect_right(self.duration_th, th)]))
        # merge the two step functions
        points = sorted({t for t, _ in cal} | {t for t, _ in dur})
        out = []
        ci = di = 0
        for t in points:
            while ci + 1 < len(cal) and cal[ci + 1][0] <= t:
                ci += 1
            while di + 1 < len(dur) and dur[di + 1][0] <= t:
                di += 1
            out.append((t, cal[ci][1] & dur[di][1]))
        return out


def _tax_multipliers(tax: TaxIncluded | None, vat: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """(excl, incl) multipliers applied to price * volume.

    2.2.1 (no tax_included) and 2.3.0 NO: prices exclude VAT; VAT omitted means no VAT applies
    (2.2.1) or, with tax_included NO, that taxes are added later at a rate not known here.
    2.3.0 YES: prices include VAT; the excl amount is derived from `vat` when given.
    2.3.0 N/A: no taxes apply at all."""
    if tax is None:
        return _ONE, (_ONE + vat / _HUNDRED) if vat is not None else _ONE
    if tax == TaxIncluded.NO:
        return _ONE, (_ONE + vat / _HUNDRED) if vat is not None else None
    if tax == TaxIncluded.YES:
        return (_ONE / (_ONE + vat / _HUNDRED)) if vat is not None else _ONE, _ONE
    return _ONE, _ONE
