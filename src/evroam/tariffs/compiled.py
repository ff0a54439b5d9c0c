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

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from evroam.model.tariffs import Tariff, TaxIncluded
from evroam.tariffs.types import ENERGY, FLAT, MWH_PER_KWH, PARKING_TIME, TIME

DIMENSIONS = (ENERGY, TIME, PARKING_TIME, FLAT)
DAY_INDEX = {
    "MONDAY": 0,
    "TUESDAY": 1,
    "WEDNESDAY": 2,
    "THURSDAY": 3,
    "FRIDAY": 4,
    "SATURDAY": 5,
    "SUNDAY": 6,
}
_DAY_CACHE_LIMIT = 4096
NEG_INF = float("-inf")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


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
    # Exact money: cost excl VAT = volume * rate_excl / tariff.money_den (volume in engine
    # units: mWh, ms, or 1 for FLAT); incl VAT likewise with rate_incl (None: tax unknown).
    rate_excl: int
    rate_incl: int | None


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


def normalise_tariff(data: Any) -> Any:
    """Accept the 2.3.0 spelling of min_price / max_price (PriceLimit before_taxes /
    after_taxes) by mapping it onto the 2.2.1 Price the model carries."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in ("min_price", "max_price"):
        limit = out.get(key)
        if isinstance(limit, dict) and "excl_vat" not in limit and "before_taxes" in limit:
            mapped = {"excl_vat": limit["before_taxes"]}
            if limit.get("after_taxes") is not None:
                mapped["incl_vat"] = limit["after_taxes"]
            out[key] = mapped
    return out


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
        pcs = [pc for el in tariff.elements for pc in el.price_components]
        price_exp = max(_decimals(dec(pc.price)) for pc in pcs)
        vat_exp = max([_decimals(dec(pc.vat)) for pc in pcs if pc.vat is not None] or [0])
        q = 100 * 10**vat_exp  # 100 % in scaled VAT units
        vats = {pc.vat: int(dec(pc.vat).scaleb(vat_exp)) for pc in pcs if pc.vat is not None}
        lcm = 1
        if tax == TaxIncluded.YES:
            for v in vats.values():
                lcm = math.lcm(lcm, q + v)
        # money_den: 10^price_exp (price scale) * 3.6e12 (engine units) * VAT scale
        base_den = 10**price_exp * 3_600_000_000_000
        self.money_den = base_den * (
            lcm if tax == TaxIncluded.YES else 1 if tax == TaxIncluded.NOT_APPLICABLE else q
        )
        self.money_den_dec = Decimal(self.money_den)
        lo, hi = tariff.min_price, tariff.max_price
        limits = (
            dec(lo.excl_vat) if lo else None,
            dec(lo.incl_vat) if lo and lo.incl_vat is not None else None,
            dec(hi.excl_vat) if hi else None,
            dec(hi.incl_vat) if hi and hi.incl_vat is not None else None,
        )
        # (min excl, min incl, max excl, max incl) as Decimal, or None without limits
        self.limits = limits if any(v is not None for v in limits) else None
        start, end = tariff.start_date_time, tariff.end_date_time
        self.valid_from_ms = round(start.timestamp() * 1000) if start else None
        self.valid_until_ms = round(end.timestamp() * 1000) if end else None
        for i, el in enumerate(tariff.elements):
            bit = 1 << i
            r = el.restrictions
            for j, pc in enumerate(el.price_components):
                dim = pc.type.value
                price = dec(pc.price)
                vat = dec(pc.vat) if pc.vat is not None else None
                unit_rate = int(price.scaleb(price_exp)) * _UNIT_RATE[dim]
                v = vats.get(pc.vat) if pc.vat is not None else None
                if tax is None or tax == TaxIncluded.NO:
                    m_excl, m_incl = q, (q + v if v is not None else (q if tax is None else None))
                elif tax == TaxIncluded.YES:
                    m_excl, m_incl = (q * lcm // (q + v) if v is not None else lcm), lcm
                else:
                    m_excl, m_incl = 1, 1
                step_size = max(int(pc.step_size), 1)
                comp = Component(
                    len(self.components),
                    dim,
                    i,
                    j,
                    price,
                    vat,
                    step_size * 1000,
                    pc.step_size,
                    unit_rate * m_excl,
                    unit_rate * m_incl if m_incl is not None else None,
                )
                self.components.append(comp)
                self.comp_of[dim].setdefault(i, comp.id)
            is_reservation = r is not None and r.reservation is not None
            if is_reservation:
                assert r is not None and r.reservation is not None
                (
                    self.expiry_elements
                    if r.reservation.value == "RESERVATION_EXPIRES"
                    else self.reservation_elements
                ).append(i)
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
            if any(
                v is not None for v in (cal.start_min, cal.end_min, cal.start_date, cal.end_date, cal.days)
            ):
                calendars.append((bit, cal))
            power.append((bit, r.min_power, r.max_power))
            current.append((bit, r.min_current, r.max_current))
            kwh.append(
                (
                    bit,
                    round(r.min_kwh * MWH_PER_KWH) if r.min_kwh is not None else None,
                    round(r.max_kwh * MWH_PER_KWH) if r.max_kwh is not None else None,
                )
            )
            duration.append(
                (
                    bit,
                    r.min_duration * 1000 if r.min_duration is not None else None,
                    r.max_duration * 1000 if r.max_duration is not None else None,
                )
            )
        all_bits = self.all_bits
        self.power_th, self.power_masks, self.power_free = _bands(power, all_bits)
        self.current_th, self.current_masks, self.current_free = _bands(current, all_bits)
        kwh_th, self.kwh_masks, _ = _bands(kwh, all_bits)
        self.kwh_th = tuple(int(v) for v in kwh_th)
        self.kwh_th_kwh = tuple(v / MWH_PER_KWH for v in self.kwh_th)
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
        self._hour_offsets: dict[int, int] = {}
        self._span_cache: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        self._comps_cache: dict[int, tuple[int, int, int, int]] = {}
        self._interned: dict[tuple[int, int, int, int], tuple[int, int, int, int]] = {}
        self._res_cache: dict[tuple[int, bool], tuple[int, int]] = {}
        self.has_power = bool(self.power_th)
        self.has_current = bool(self.current_th)
        self.bits_of_component = [1 << c.element for c in self.components]
        self.steps = [c.step for c in self.components]

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
        """Local date (ordinal) of a UTC instant; the zone's offset is cached per UTC hour."""
        hour = ms // 3_600_000
        off = self._hour_offsets.get(hour)
        if off is None:
            a = self._offset(hour * 3_600_000)
            b = self._offset(hour * 3_600_000 + 3_599_999)
            if a != b or a is None:
                return datetime.fromtimestamp(ms / 1000, self.tz).toordinal()
            off = a // timedelta(milliseconds=1)
            if len(self._hour_offsets) > 100_000:
                self._hour_offsets.clear()
            self._hour_offsets[hour] = off
        return (ms + off) // 86_400_000 + _EPOCH_ORDINAL

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

    def _calendar_span(self, first: int, last: int) -> tuple[list[int], list[int]]:
        key = (first, last)
        got = self._span_cache.get(key)
        if got is not None:
            return got
        cal: list[tuple[int, int]] = []
        for ordinal in range(first - 1, last + 1):
            cal.extend(self.day_plan(ordinal))
        cal.sort()
        times, masks = [], []
        for t, m in cal:
            if masks and masks[-1] == m:
                continue
            times.append(t)
            masks.append(m)
        if len(self._span_cache) > _DAY_CACHE_LIMIT:
            self._span_cache.clear()
        self._span_cache[key] = (times, masks)
        return times, masks

    def time_timeline(self, start_ms: int, end_ms: int, origin_ms: int) -> list[tuple[int, int]]:
        """Piecewise-constant mask of the time-driven restrictions (calendar and duration since
        `origin_ms`) over [start_ms, end_ms): a list of (from_ms, mask), first entry at start_ms."""
        if self.calendars:
            first = self.local_ordinal(start_ms)
            last = first + (end_ms - start_ms) // 86_400_000 + 1  # covers the end's local day
            times, masks = self._calendar_span(first, last)
            k = bisect_right(times, start_ms) - 1
            j = bisect_left(times, end_ms)
            cal = [(start_ms, masks[k])]
            cal.extend(zip(times[k + 1 : j], masks[k + 1 : j], strict=True))
        else:
            cal = [(start_ms, self.all_bits)]
        if not self.duration_th:
            return cal
        dur = [(start_ms, self.duration_masks[bisect_right(self.duration_th, start_ms - origin_ms)])]
        for th in self.duration_th:
            t = origin_ms + th
            if start_ms < t < end_ms:
                dur.append((t, self.duration_masks[bisect_right(self.duration_th, th)]))
        if len(dur) == 1 and len(cal) == 1:
            return [(start_ms, cal[0][1] & dur[0][1])]
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


def _decimals(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


# engine-unit volume -> price unit, scaled so every rate is an integer over money_den:
# ENERGY mWh (price per kWh), TIME ms (price per hour), FLAT once.
_UNIT_RATE = {ENERGY: 3_600_000, TIME: 1_000_000, PARKING_TIME: 1_000_000, FLAT: 3_600_000_000_000}
