"""Pricing a session against a compiled tariff.

1. Split the session into periods: meter intervals (power, current, charging or not) cut at
   every time-driven change (local time of day, local day, dates, DST, duration thresholds)
   and every cumulative-kWh threshold. Consecutive pieces with the same active components
   and the same charging state form one charging period.
2. Sum the billable volume per price component; FLAT once (the first FLAT that is active).
3. step_size once per session: on the ENERGY total, and on the PARKING_TIME total when
   parking was billed, otherwise on the TIME total; the rounding extra is billed at the last
   active component of that dimension.
4. Money: price * volume per component in Decimal, VAT per component, then min_price and
   max_price with the excl and incl bounds each on their own. Reported values are rounded by
   `Rounding.money` only.
"""

from __future__ import annotations

from decimal import Decimal

from evroam.model.tariffs import Tariff
from evroam.tariffs.compiled import CompiledTariff, Component, dec
from evroam.tariffs.types import (
    DEFAULT_ROUNDING,
    ENERGY,
    FLAT,
    MS_PER_HOUR,
    MWH_PER_KWH,
    PARKING_TIME,
    TIME,
    Charge,
    ChargingSession,
    Money,
    Period,
    PricingResult,
    Rounding,
    SampleSeries,
    to_ms,
)

_ZERO = Decimal(0)
_MWH = Decimal(MWH_PER_KWH)
_MS_H = Decimal(MS_PER_HOUR)


class PricingError(ValueError):
    """The session cannot be priced (e.g. meter readings that go backwards)."""


def compile_tariff(tariff: Tariff | dict, time_zone: str) -> CompiledTariff:
    """Precompile a tariff for one location time zone; reuse it for every session."""
    if isinstance(tariff, dict):
        tariff = Tariff.model_validate(tariff)
    return CompiledTariff(tariff, time_zone)


def price_session(
    tariff: CompiledTariff | Tariff | dict,
    session: ChargingSession | SampleSeries,
    time_zone: str | None = None,
    *,
    reservation: object | None = None,
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
        series = SampleSeries.from_session(session)
    else:
        series = session
    return _price(tariff, series, reservation, rounding)


# ---------------------------------------------------------------------------- splitting


def split_periods(ct: CompiledTariff, s: SampleSeries) -> list[Period]:
    """The session's charging periods (see the module docstring)."""
    start, end = s.start_ms, s.end_ms
    if end < start:
        raise PricingError("session ends before it starts")
    times, kwhs, powers, currents = s.times_ms, s.kwh, s.power_kw, s.current_a
    n = len(times)
    # Meter intervals clipped to [start, end): (a, b, energy at a, energy at b, power, current)
    # with energy in mWh relative to the first reading.
    intervals: list[tuple[int, int, int, int, float | None, float | None]] = []
    if n:
        base = kwhs[0]
        ev = [round((k - base) * MWH_PER_KWH) for k in kwhs]
        if times[0] > start:
            intervals.append((start, min(times[0], end), 0, 0, 0.0, 0.0))
        prev_t = times[0]
        prev_e = 0
        for i in range(1, n):
            t = times[i]
            e = ev[i]
            if t < prev_t:
                raise PricingError(f"meter_samples[{i}].timestamp is earlier than the sample before it")
            if e < prev_e:
                raise PricingError(f"meter_samples[{i}].kwh_total is lower than the sample before it")
            if t > prev_t:
                a, b, ea, eb = prev_t, t, prev_e, e
                if a < start or b > end:  # clip to the session, interpolating energy
                    if b <= start or a >= end:
                        prev_t, prev_e = t, e
                        continue
                    if a < start:
                        ea = prev_e + (e - prev_e) * (start - prev_t) // (t - prev_t)
                        a = start
                    if b > end:
                        eb = prev_e + (e - prev_e) * (end - prev_t) // (t - prev_t)
                        b = end
                p = powers[i - 1]
                c = currents[i - 1]
                if eb == ea:
                    p = 0.0 if p is None else p
                    c = 0.0 if c is None else c
                elif p is None:
                    p = (eb - ea) * 3600 / (b - a) / 1000  # average kW over the interval
                intervals.append((a, b, ea, eb, p, c))
            prev_t, prev_e = t, e
        if prev_t < end:
            e_last = ev[-1]
            intervals.append((max(prev_t, start), end, e_last, e_last, 0.0, 0.0))
    elif end > start:
        intervals.append((start, end, 0, 0, 0.0, 0.0))

    timeline = ct.time_timeline(start, end, start)
    tl_n = len(timeline)
    ti = 0
    tl_mask = timeline[0][1]
    tl_next = timeline[1][0] if tl_n > 1 else end + 1
    kth = ct.kwh_th
    kmasks = ct.kwh_masks
    nk = len(kth)
    kb = 0
    active = ct.active
    has_power, has_current = ct.has_power, ct.has_current
    all_bits = ct.all_bits
    power_mask, current_mask = ct.power_mask, ct.current_mask

    periods: list[Period] = []
    cur: Period | None = None
    cur_comps: tuple[int, int, int, int] | None = None
    cur_charging = False
    for a, b, ea, eb, p, c in intervals:
        charging = eb > ea
        sm = all_bits
        if has_power:
            sm &= power_mask(p)
        if has_current:
            sm &= current_mask(c)
        t = a
        e = ea
        while t < b:
            while tl_next <= t:
                ti += 1
                tl_mask = timeline[ti][1]
                tl_next = timeline[ti + 1][0] if ti + 1 < tl_n else end + 1
            while kb < nk and kth[kb] <= e:
                kb += 1
            if tl_next < b:
                seg_end = tl_next
                seg_e = ea + (eb - ea) * (seg_end - a) // (b - a)
            else:
                seg_end = b
                seg_e = eb
            if kb < nk and kth[kb] < seg_e:
                k = kth[kb]
                tk = a + ((k - ea) * (b - a) + (eb - ea) - 1) // (eb - ea)
                if tk <= t:
                    tk = t + 1
                if tk < seg_end:
                    seg_end = tk
                    seg_e = k
            comps = active(tl_mask & kmasks[kb] & sm)
            if comps is cur_comps and charging == cur_charging and cur is not None:
                cur.end_ms = seg_end
                cur.energy_mwh += seg_e - e
            else:
                cur = Period(t, seg_end, charging, seg_e - e, comps)
                periods.append(cur)
                cur_comps = comps
                cur_charging = charging
            t = seg_end
            e = seg_e
    return periods


# ---------------------------------------------------------------------------- costing


def _amount(comp: Component, volume: int) -> Money:
    if comp.dimension == ENERGY:
        base = comp.price * volume / _MWH
    elif comp.dimension == FLAT:
        base = comp.price * volume
    else:
        base = comp.price * volume / _MS_H
    return Money(base * comp.excl_mult, base * comp.incl_mult if comp.incl_mult is not None else None)


def _ceil_to(volume: int, step: int) -> int:
    return -(-volume // step) * step


def _charges(
    ct: CompiledTariff, periods: list[Period], reservation_periods: list[Period], res_flat: int, res_time_last: int
) -> list[Charge]:
    comps = ct.components
    volumes: dict[int, int] = {}
    last = {ENERGY: -1, TIME: -1, PARKING_TIME: -1}
    flat = -1
    for p in periods:
        ce, cti, cp, cf = p.components
        if flat < 0 and cf >= 0:
            flat = cf
        if p.charging:
            if ce >= 0:
                volumes[ce] = volumes.get(ce, 0) + p.energy_mwh
                last[ENERGY] = ce
            if cti >= 0:
                volumes[cti] = volumes.get(cti, 0) + p.end_ms - p.start_ms
                last[TIME] = cti
        elif cp >= 0:
            volumes[cp] = volumes.get(cp, 0) + p.end_ms - p.start_ms
            last[PARKING_TIME] = cp
    extra: dict[int, int] = {}
    totals = {ENERGY: 0, TIME: 0, PARKING_TIME: 0}
    for cid, vol in volumes.items():
        totals[comps[cid].dimension] += vol
    if last[ENERGY] >= 0:
        c = last[ENERGY]
        extra[c] = _ceil_to(totals[ENERGY], comps[c].step) - totals[ENERGY]
    # TIME and PARKING_TIME share one rounding: parking's when parking was billed.
    time_dim = PARKING_TIME if totals[PARKING_TIME] > 0 else TIME
    if last[time_dim] >= 0:
        c = last[time_dim]
        extra[c] = _ceil_to(totals[time_dim], comps[c].step) - totals[time_dim]
    out: list[Charge] = []
    if flat >= 0:
        out.append(Charge(FLAT, flat, 1, 0, _amount(comps[flat], 1)))
    for cid, vol in volumes.items():
        x = extra.get(cid, 0)
        out.append(Charge(comps[cid].dimension, cid, vol, x, _amount(comps[cid], vol + x)))
    # reservation: FLAT once, TIME rounded once with the last reservation TIME component
    if res_flat >= 0:
        out.append(Charge(FLAT, res_flat, 1, 0, _amount(comps[res_flat], 1), reservation=True))
    rvol: dict[int, int] = {}
    for p in reservation_periods:
        cid = p.components[1]
        if cid >= 0:
            rvol[cid] = rvol.get(cid, 0) + p.end_ms - p.start_ms
    rtotal = sum(rvol.values())
    for cid, vol in rvol.items():
        x = _ceil_to(rtotal, comps[cid].step) - rtotal if cid == res_time_last else 0
        out.append(Charge(TIME, cid, vol, x, _amount(comps[cid], vol + x), reservation=True))
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


def _follow_excl_bound(tariff: Tariff, before: Money, excl: Decimal, incl: Decimal | None, min_applied, max_applied):
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


def _price(ct: CompiledTariff, s: SampleSeries, reservation, rounding: Rounding) -> PricingResult:
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
    periods = split_periods(ct, s) if session_priced else []
    charges = _charges(ct, periods, res_periods, res_flat, res_last)

    excl = _ZERO
    incl: Decimal | None = _ZERO
    res_excl = _ZERO
    res_incl: Decimal | None = _ZERO
    for ch in charges:
        excl += ch.cost.excl_vat
        incl = None if incl is None or ch.cost.incl_vat is None else incl + ch.cost.incl_vat
        if ch.reservation:
            res_excl += ch.cost.excl_vat
            res_incl = None if res_incl is None or ch.cost.incl_vat is None else res_incl + ch.cost.incl_vat
    before = Money(excl, incl)
    tariff = ct.tariff
    min_applied = [False, False]
    max_applied = [False, False]
    if tariff.min_price is not None:
        lo = dec(tariff.min_price.excl_vat)
        if excl < lo:
            excl, min_applied[0] = lo, True
        if tariff.min_price.incl_vat is not None and incl is not None:
            lo_i = dec(tariff.min_price.incl_vat)
            if incl < lo_i:
                incl, min_applied[1] = lo_i, True
    if tariff.max_price is not None:
        hi = dec(tariff.max_price.excl_vat)
        if excl > hi:
            excl, max_applied[0] = hi, True
        if tariff.max_price.incl_vat is not None and incl is not None:
            hi_i = dec(tariff.max_price.incl_vat)
            if incl > hi_i:
                incl, max_applied[1] = hi_i, True
    incl = _follow_excl_bound(tariff, before, excl, incl, min_applied, max_applied)
    if session_priced:
        total_energy = sum(p.energy_mwh for p in periods)
        total_time: int | None = s.end_ms - s.start_ms
        total_parking: int | None = sum(p.end_ms - p.start_ms for p in periods if not p.charging)
        if tariff.start_date_time is not None and s.start_ms < to_ms(tariff.start_date_time):
            warnings.append("the session starts before the tariff's start_date_time")
        if tariff.end_date_time is not None and s.start_ms > to_ms(tariff.end_date_time):
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
        periods=periods,
        charges=charges,
        reservation_periods=res_periods,
        reservation_cost=Money(res_excl, res_incl) if reservation is not None else None,
        min_price_applied=(min_applied[0], min_applied[1]),
        max_price_applied=(max_applied[0], max_applied[1]),
        tariff_id=ct.tariff_id,
        warnings=warnings,
        rounding=rounding,
    )
