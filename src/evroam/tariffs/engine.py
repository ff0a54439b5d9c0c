"""Pricing a session against a compiled tariff.

1. Split the session into periods: meter intervals (power, current, charging or not) cut at
   every time-driven change (local time of day, local day, dates, DST, duration thresholds)
   and every cumulative-kWh threshold. Consecutive pieces with the same active components
   and the same charging state form one charging period.
2. Sum the billable volume per price component; FLAT once (the first FLAT that is active).
3. step_size once per session: on the ENERGY total, and on the PARKING_TIME total when
   parking was billed, otherwise on the TIME total; the rounding extra is billed at the last
   active component of that dimension.
4. Money: price * volume per component, exact (integers over the tariff's common
   denominator, turned into Decimal for the totals), VAT per component, then min_price and
   max_price with the excl and incl bounds each on their own. Reported values are rounded
   by `Rounding.money` only.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import compress
from operator import gt, lt, sub
from typing import Any

from evroam.model.tariffs import Tariff
from evroam.tariffs import _kernel
from evroam.tariffs.compiled import CompiledTariff, normalise_tariff
from evroam.tariffs.types import (
    DEFAULT_ROUNDING,
    FLAT,
    TIME,
    Charge,
    ChargingSession,
    Money,
    Period,
    PeriodColumns,
    PricingResult,
    Reservation,
    Rounding,
    SampleSeries,
    to_ms,
)

_ZERO = Decimal(0)


class PricingError(ValueError):
    """The session cannot be priced (e.g. meter readings that go backwards)."""


def compile_tariff(tariff: Tariff | dict, time_zone: str) -> CompiledTariff:
    """Precompile a tariff for one location time zone; reuse it for every session."""
    if isinstance(tariff, dict):
        tariff = Tariff.model_validate(normalise_tariff(tariff))
    return CompiledTariff(tariff, time_zone)


def price_session(
    tariff: CompiledTariff | Tariff | dict,
    session: ChargingSession | SampleSeries,
    time_zone: str | None = None,
    *,
    reservation: Reservation | None = None,
    rounding: Rounding = DEFAULT_ROUNDING,
) -> PricingResult:
    """Price one session. `tariff` may be precompiled (fastest) or a Tariff / dict with
    `time_zone` given. A `ChargingSession` carries its own reservation; with a
    `SampleSeries` pass `reservation=` (a `Reservation`) if there is one."""
    if not isinstance(tariff, CompiledTariff):
        if time_zone is None:
            raise ValueError("time_zone is required unless the tariff is precompiled")
        tariff = compile_tariff(tariff, time_zone)
    if isinstance(session, ChargingSession):
        reservation = session.reservation
        series: SampleSeries | _Samples = _Samples(
            _kernel.epoch_ms(session.start_date_time),
            _kernel.epoch_ms(session.end_date_time),
            *_kernel.sample_columns(session.meter_samples),
        )
    else:
        series = session
    return _price(tariff, series, reservation, rounding)


# ---------------------------------------------------------------------------- splitting


class _Samples:
    """The fields of a `SampleSeries`, for a `ChargingSession` converted on the way in (a
    plain class: cheaper to build than the frozen dataclass)."""

    __slots__ = ("start_ms", "end_ms", "times_ms", "kwh", "power_kw", "current_a")

    def __init__(
        self,
        start_ms: int,
        end_ms: int,
        times_ms: list[int],
        kwh: list[Any],
        power_kw: list[Any],
        current_a: list[Any],
    ) -> None:
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.times_ms = times_ms
        self.kwh = kwh
        self.power_kw = power_kw
        self.current_a = current_a


def _clip(s: SampleSeries | _Samples) -> tuple[list[int], list[float], list, list]:
    """Samples covering exactly [start, end]: idle before the first and after the last
    reading, readings outside the session cut off with interpolated energy."""
    start, end = s.start_ms, s.end_ms
    times, kwhs, powers, currents = list(s.times_ms), list(s.kwh), list(s.power_kw), list(s.current_a)
    if not times:
        return [start, end], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    if times[0] > start:
        times.insert(0, start)
        kwhs.insert(0, kwhs[0])
        powers.insert(0, 0.0)
        currents.insert(0, 0.0)
    if times[-1] < end:
        times.append(end)
        kwhs.append(kwhs[-1])
        powers.append(0.0)
        currents.append(0.0)
        powers[-2] = 0.0 if powers[-2] is None else powers[-2]

    def at(t: int) -> float:
        for i in range(1, len(times)):
            if times[i] >= t:
                a, b = times[i - 1], times[i]
                return kwhs[i - 1] + (kwhs[i] - kwhs[i - 1]) * ((t - a) / (b - a) if b > a else 1.0)
        return kwhs[-1]

    if times[0] < start:
        k = sum(1 for t in times if t <= start) - 1
        e0 = at(start)
        times = [start] + times[k + 1 :]
        kwhs = [e0] + kwhs[k + 1 :]
        powers = powers[k:]
        currents = currents[k:]
    if times[-1] > end:
        k = sum(1 for t in times if t < end)
        e1 = at(end)
        times = times[:k] + [end]
        kwhs = kwhs[:k] + [e1]
        powers = powers[:k] + [0.0]
        currents = currents[:k] + [0.0]
    return times, kwhs, powers, currents


def _insert_splits(ct: CompiledTariff, timeline, times, ev, powers, currents):
    """Add synthetic readings where a time-driven restriction changes or the cumulative
    energy crosses a kWh threshold inside a meter interval (rare: the slow path)."""
    tl_times = [t for t, _ in timeline[1:]]
    kth = ct.kwh_th_kwh
    out_t, out_e, out_p, out_c = [times[0]], [ev[0]], [], []
    for i in range(1, len(times)):
        a, b, ea, eb = times[i - 1], times[i], ev[i - 1], ev[i]
        p, c = powers[i - 1], currents[i - 1]
        cuts: dict[int, float] = {}
        if b > a:
            for t in tl_times:
                if a < t < b:
                    cuts[t] = ea + (eb - ea) * (t - a) / (b - a)
            if eb > ea:
                for k in kth:
                    if ea < k < eb:
                        tk = a + round((k - ea) * (b - a) / (eb - ea))
                        if a < tk < b:
                            cuts[tk] = k
        for t in sorted(cuts):
            out_p.append(p)
            out_c.append(c)
            out_t.append(t)
            out_e.append(cuts[t])
        out_p.append(p)
        out_c.append(c)
        out_t.append(b)
        out_e.append(eb)
    out_p.append(powers[-1])
    out_c.append(currents[-1])
    return out_t, out_e, out_p, out_c


def split_periods(ct: CompiledTariff, s: SampleSeries) -> list[Period]:
    """The session's charging periods (see the module docstring)."""
    return PeriodColumns(*_split_columns(ct, s)).periods()


def _split_columns(ct: CompiledTariff, s: SampleSeries | _Samples) -> _kernel.Columns:
    """Charging periods as columns: (starts, ends, charging, energy mWh, components)."""
    start, end = s.start_ms, s.end_ms
    if end < start:
        raise PricingError("session ends before it starts")
    times, kwhs, powers, currents = s.times_ms, s.kwh, s.power_kw, s.current_a
    if not times or times[0] != start or times[-1] != end:
        times, kwhs, powers, currents = _clip(s)
    timeline = ct.time_timeline(start, end, start)
    kth = ct.kwh_th_kwh
    if len(timeline) == 1 and not kth:
        # the common case: one pass, which gives up on unordered or repeated samples
        cols = _kernel.split(ct, times, kwhs, powers, currents, kwhs[0], timeline[0][1], [], [], (), False)
        if cols is not None:
            return cols
    t0 = times[:-1]
    t1 = times[1:]
    gaps = not all(map(gt, t1, t0))
    if gaps and any(map(lt, t1, t0)):
        i = list(map(lt, t1, t0)).index(True) + 1
        raise PricingError(f"meter_samples[{i}].timestamp is earlier than the sample before it")
    for i, k in enumerate(kwhs):
        if not -_kernel.MAX_KWH <= k <= _kernel.MAX_KWH:
            raise PricingError(f"meter_samples[{i}].kwh_total {k!r} is not a number a meter can read")
    k0 = kwhs[:-1]
    k1 = kwhs[1:]
    if any(map(lt, k1, k0)):
        i = list(map(lt, k1, k0)).index(True) + 1
        raise PricingError(f"meter_samples[{i}].kwh_total is lower than the sample before it")
    base = kwhs[0]
    if kth:  # thresholds are relative to the session's first reading
        kwhs = [k - base for k in kwhs]
        base = 0.0
    if len(timeline) > 1 or (kth and kwhs[0] < kth[-1] and kwhs[-1] > kth[0]):
        times, kwhs, powers, currents = _insert_splits(ct, timeline, times, kwhs, powers, currents)
        t0 = times[:-1]
        t1 = times[1:]
        gaps = not all(map(gt, t1, t0))
    if gaps:  # drop zero-length intervals
        keep = [i for i in range(len(t0)) if t1[i] != t0[i]]
        times = [times[i] for i in keep] + [times[-1]]
        kwhs = [kwhs[i] for i in keep] + [kwhs[-1]]
        powers = [powers[i] for i in keep]
        currents = [currents[i] for i in keep]
    if len(timeline) > 1:
        const = ct.all_bits
        tl_times = [t for t, _ in timeline]
        tl_masks = [mk for _, mk in timeline]
    else:
        const = timeline[0][1]
        tl_times = tl_masks = []
    cols = _kernel.split(ct, times, kwhs, powers, currents, base, const, tl_times, tl_masks, kth, True)
    assert cols is not None
    return cols


# ---------------------------------------------------------------------------- costing


def _charges(
    ct: CompiledTariff,
    cols: _kernel.Columns,
    reservation_periods: list[Period],
    res_flat: int,
    res_time_last: int,
) -> list[Charge]:
    comps = ct.components
    flat, volumes, extra = _kernel.session_volumes(cols, ct.steps)
    den = ct.money_den
    out: list[Charge] = []
    if flat >= 0:
        c = comps[flat]
        out.append(Charge(FLAT, flat, 1, 0, c.rate_excl, c.rate_incl, den))
    for cid, vol in volumes.items():
        c = comps[cid]
        x = extra.get(cid, 0)
        billed = vol + x
        out.append(
            Charge(
                c.dimension,
                cid,
                vol,
                x,
                c.rate_excl * billed,
                c.rate_incl * billed if c.rate_incl is not None else None,
                den,
            )
        )
    # reservation: FLAT once, TIME rounded once with the last reservation TIME component
    if res_flat >= 0:
        c = comps[res_flat]
        out.append(Charge(FLAT, res_flat, 1, 0, c.rate_excl, c.rate_incl, den, reservation=True))
    rvol: dict[int, int] = {}
    for p in reservation_periods:
        cid = p.components[1]
        if cid >= 0:
            rvol[cid] = rvol.get(cid, 0) + p.end_ms - p.start_ms
    rtotal = sum(rvol.values())
    for cid, vol in rvol.items():
        c = comps[cid]
        x = _kernel._ceil_to(rtotal, c.step) - rtotal if cid == res_time_last else 0
        billed = vol + x
        out.append(
            Charge(
                TIME,
                cid,
                vol,
                x,
                c.rate_excl * billed,
                c.rate_incl * billed if c.rate_incl is not None else None,
                den,
                reservation=True,
            )
        )
    return out


def _reservation_periods(
    ct: CompiledTariff, start: int, end: int, expired: bool
) -> tuple[list[Period], int, int]:
    """Reservation time split where the active reservation components change.
    Returns (periods, FLAT component id, last TIME component id)."""
    if end <= start:
        return [], -1, -1
    idle = ct.power_mask(0.0) & ct.current_mask(0.0) & ct.kwh_masks[0]
    timeline = ct.time_timeline(start, end, start)
    periods: list[Period] = []
    flat = -1
    last_time = -1
    for idx, (t, mask) in enumerate(timeline):
        t_end = timeline[idx + 1][0] if idx + 1 < len(timeline) else end
        tc, fc = ct.reservation_active(mask & idle, expired)
        if flat < 0 and fc >= 0:
            flat = fc
        if tc >= 0:
            last_time = tc
        comps = (-1, tc, -1, fc)
        if periods and periods[-1].components == comps:
            periods[-1].end_ms = t_end
        else:
            periods.append(Period(t, t_end, False, 0, comps))
    return periods, flat, last_time


def _follow_excl_bound(
    tariff: Tariff, before: Money, excl: Decimal, incl: Decimal | None, min_applied, max_applied
):
    """A bound given only excl VAT also moves the incl-VAT total, keeping the session's own
    VAT share (a limit without `incl_vat` cannot leave incl below excl, or far above it)."""
    if incl is None or excl == before.excl_vat:
        return incl
    limit = tariff.min_price if min_applied[0] else tariff.max_price
    if limit is None or limit.incl_vat is not None:
        return incl
    if before.excl_vat > 0 and before.incl_vat is not None:
        return excl * before.incl_vat / before.excl_vat
    return excl


def _price(
    ct: CompiledTariff, s: SampleSeries | _Samples, reservation: Reservation | None, rounding: Rounding
) -> PricingResult:
    warnings: list[str] = []
    res_periods: list[Period] = []
    res_flat = res_last = -1
    session_priced = True
    if reservation is not None:
        expired = bool(reservation.expired)
        r_start = to_ms(reservation.start_date_time)
        if expired:
            r_end = to_ms(reservation.expiry_date_time) if reservation.expiry_date_time else s.end_ms
            session_priced = False  # an expired reservation is not followed by a charging session
        else:
            r_end = s.start_ms
        res_periods, res_flat, res_last = _reservation_periods(ct, r_start, r_end, expired)
    cols = _split_columns(ct, s) if session_priced else ([], [], [], [], [])
    if session_priced and not cols[0]:
        # a session without duration still pays its FLAT fee, as active at its start
        mask = ct.time_timeline(s.start_ms, s.start_ms + 1, s.start_ms)[0][1]
        mask &= ct.kwh_masks[0] & ct.power_mask(0.0) & ct.current_mask(0.0)
        flat_cols: _kernel.Columns = (
            [s.start_ms],
            [s.start_ms],
            [False],
            [0],
            [(-1, -1, -1, ct.active(mask)[3])],
        )
        charges = _charges(ct, flat_cols, res_periods, res_flat, res_last)
    else:
        charges = _charges(ct, cols, res_periods, res_flat, res_last)

    excl_n = 0
    incl_n: int | None = 0
    res_excl_n = 0
    res_incl_n: int | None = 0
    for ch in charges:
        excl_n += ch.excl_num
        incl_n = None if incl_n is None or ch.incl_num is None else incl_n + ch.incl_num
        if ch.reservation:
            res_excl_n += ch.excl_num
            res_incl_n = None if res_incl_n is None or ch.incl_num is None else res_incl_n + ch.incl_num
    den = ct.money_den_dec
    excl = Decimal(excl_n) / den
    incl = Decimal(incl_n) / den if incl_n is not None else None
    before = Money(excl, incl)
    min_applied = max_applied = (False, False)
    if ct.limits:
        lo, lo_i, hi, hi_i = ct.limits
        e_lo = e_hi = i_lo = i_hi = False
        if lo is not None and excl < lo:
            excl, e_lo = lo, True
        if lo_i is not None and incl is not None and incl < lo_i:
            incl, i_lo = lo_i, True
        if hi is not None and excl > hi:
            excl, e_hi = hi, True
        if hi_i is not None and incl is not None and incl > hi_i:
            incl, i_hi = hi_i, True
        min_applied, max_applied = (e_lo, i_lo), (e_hi, i_hi)
        incl = _follow_excl_bound(ct.tariff, before, excl, incl, min_applied, max_applied)
    if session_priced:
        total_energy = sum(cols[3])
        total_time: int | None = s.end_ms - s.start_ms
        total_parking: int | None = total_time - sum(compress(map(sub, cols[1], cols[0]), cols[2]))
        if ct.valid_from_ms is not None and s.start_ms < ct.valid_from_ms:
            warnings.append("the session starts before the tariff's start_date_time")
        if ct.valid_until_ms is not None and s.start_ms > ct.valid_until_ms:
            warnings.append("the session starts after the tariff's end_date_time")
    else:
        total_energy, total_time, total_parking = 0, None, None
    return PricingResult(
        currency=ct.currency,
        total_cost=Money(excl, incl),
        cost_before_limits=before,
        total_energy_mwh=total_energy,
        total_time_ms=total_time,
        total_parking_time_ms=total_parking,
        period_columns=PeriodColumns(*cols),
        charges=charges,
        reservation_periods=res_periods,
        reservation_cost=(
            Money(Decimal(res_excl_n) / den, Decimal(res_incl_n) / den if res_incl_n is not None else None)
            if reservation is not None
            else None
        ),
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        tariff_id=ct.tariff_id,
        warnings=warnings,
        rounding=rounding,
    )
