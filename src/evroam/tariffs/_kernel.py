"""The engine's per-sample loops: meter intervals to charging periods, and periods to
billable volumes.

Plain typed loops over the samples, one pass each. The module imports nothing from the
project so it can be compiled on its own with mypyc (see setup.py); the compiled and the
interpreted module give identical results, and `evroam.tariffs.engine` works with either.
`COMPILED` says which one is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

Comps = tuple[int, ...]  # (ENERGY, TIME, PARKING_TIME, FLAT) ids, interned by the tariff
Columns = tuple[list[int], list[int], list[bool], list[int], list[Comps]]

COMPILED: Final = not __file__.endswith(".py")


_UTC: Final = UTC
# kWh beyond any meter (a petawatt-hour). The unchecked pass gives up on values outside
# +-MAX_KWH, NaN included: `round((kwh - base) * 1e6)` of an infinity or NaN raises, and the
# checked pass (engine) refuses them with a PricingError instead.
MAX_KWH: Final = 1e15
_EPOCH_ORDINAL: Final = 719_163  # date(1970, 1, 1).toordinal()


def epoch_ms(ts: datetime) -> int:
    """`round(ts.timestamp() * 1000)`, a naive datetime meaning UTC (as `types.to_ms`).

    A UTC or naive datetime on a whole millisecond (the usual meter reading) is read off
    its fields, exactly the value `timestamp()` rounds to there; any other value takes the
    general formula."""
    tz = ts.tzinfo
    if tz is _UTC or tz is None:
        us: int = ts.microsecond
        if us % 1000 == 0:
            day: int = ts.toordinal() - _EPOCH_ORDINAL
            hour: int = ts.hour
            minute: int = ts.minute
            second: int = ts.second
            return ((day * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + us // 1000
        if tz is None:
            ts = ts.replace(tzinfo=_UTC)
    return round(ts.timestamp() * 1000)


def sample_columns(
    samples: Sequence[Any],
) -> tuple[list[int], list[Any], list[Any], list[Any]]:
    """(epoch ms, kWh, power, current) columns of MeterSamples, values as given."""
    times: list[int] = []
    kwhs: list[Any] = []
    powers: list[Any] = []
    currents: list[Any] = []
    for s in samples:
        times.append(epoch_ms(s.timestamp))
        kwhs.append(s.kwh_total)
        powers.append(s.power_kw)
        currents.append(s.current_a)
    return times, kwhs, powers, currents


def _band(th: tuple[float, ...], value: float) -> int:
    """Index of the band holding `value`: th[b-1] <= value < th[b] (bisect_right)."""
    b = 0
    n = len(th)
    while b < n and th[b] <= value:
        b += 1
    return b


def split(
    ct: Any,
    times: list[int],
    kwhs: list[float],
    powers: list[float | None],
    currents: list[float | None],
    base: float,
    const: int,
    tl_times: list[int],
    tl_masks: list[int],
    kth: tuple[float, ...],
    checked: bool,
) -> Columns | None:
    """Charging periods as columns (starts, ends, charging, energy mWh, components) of the
    meter intervals [times[i], times[i+1]).

    The active elements of interval i are `const` AND the power, current and kWh bands of
    the interval AND the time-driven mask `tl_masks[j]` in force at its start (`tl_times`
    ascending, the first at or before times[0]; pass one entry or none when `const`
    already holds it). A period ends where the components or the charging state change.
    Energy is `round((kwh - base) * 1e6)` mWh at every cut.

    Unless `checked`, returns None as soon as a timestamp does not increase or the energy
    decreases or is not a finite number within +-MAX_KWH (the caller then validates and
    normalises the samples first)."""
    n = len(times) - 1
    power_th: tuple[float, ...] = ct.power_th if ct.has_power else ()
    power_masks: tuple[int, ...] = ct.power_masks
    current_th: tuple[float, ...] = ct.current_th if ct.has_current else ()
    current_masks: tuple[int, ...] = ct.current_masks
    current_free: int = ct.current_free
    kwh_masks: tuple[int, ...] = ct.kwh_masks
    cache: dict[int, Comps] = ct._comps_cache
    n_tl = len(tl_times)
    starts: list[int] = []
    ends: list[int] = []
    charging_col: list[bool] = []
    energy: list[int] = []
    comps_col: list[Comps] = []
    if n <= 0:
        return starts, ends, charging_col, energy, comps_col
    prev: Comps = ()
    comps: Comps = ()
    prev_mask = -1
    prev_charging = False
    e_prev = 0
    j = 0
    t1: int = times[0]
    k1: float = kwhs[0]
    if not checked and not -MAX_KWH <= k1 <= MAX_KWH:
        return None
    for i in range(n):
        t0 = t1
        k0 = k1
        t1 = times[i + 1]
        k1 = kwhs[i + 1]
        if not checked and (t1 <= t0 or not k0 <= k1 <= MAX_KWH):
            return None
        charging = k1 > k0
        mask = const
        if power_th:
            p = powers[i]
            if p is None:
                mask &= power_masks[_band(power_th, (k1 - k0) * 3_600_000 / (t1 - t0))]
            else:
                mask &= power_masks[_band(power_th, p)]
        if current_th:
            c = currents[i]
            if c is None and charging:
                mask &= current_free
            else:
                mask &= current_masks[_band(current_th, 0.0 if c is None else c)]
        if kth:
            mask &= kwh_masks[_band(kth, k0)]
        if n_tl > 1:
            while j + 1 < n_tl and tl_times[j + 1] <= t0:
                j += 1
            mask &= tl_masks[j]
        if mask != prev_mask:
            got = cache.get(mask)
            comps = got if got is not None else ct.active(mask)
            prev_mask = mask
        if comps is not prev or charging != prev_charging:
            e = round((k0 - base) * 1e6)
            if i:
                ends.append(t0)
                energy.append(e - e_prev)
            e_prev = e
            starts.append(t0)
            charging_col.append(charging)
            comps_col.append(comps)
            prev = comps
            prev_charging = charging
    ends.append(t1)
    energy.append(round((k1 - base) * 1e6) - e_prev)
    return starts, ends, charging_col, energy, comps_col


def _ceil_to(volume: int, step: int) -> int:
    return -(-volume // step) * step


def session_volumes(cols: Columns, steps: Sequence[int]) -> tuple[int, dict[int, int], dict[int, int]]:
    """(first active FLAT component or -1, billable volume per component in order of first
    use, step_size extra per component) of a session's charging periods.

    Charging periods bill ENERGY and TIME, others PARKING_TIME. step_size applies once per
    session: to the ENERGY total at the last ENERGY component, and to the PARKING_TIME
    total when parking was billed, otherwise to the TIME total, at the last component of
    that dimension."""
    volumes: dict[int, int] = {}
    last_e = last_t = last_p = -1
    total_e = total_t = total_p = 0
    flat = -1
    starts, ends, charging_col, energy, comps_col = cols
    for i in range(len(starts)):
        ce, cti, cp, cf = comps_col[i]
        if flat < 0 and cf >= 0:
            flat = cf
        if charging_col[i]:
            if ce >= 0:
                e = energy[i]
                volumes[ce] = volumes.get(ce, 0) + e
                total_e += e
                last_e = ce
            if cti >= 0:
                d = ends[i] - starts[i]
                volumes[cti] = volumes.get(cti, 0) + d
                total_t += d
                last_t = cti
        elif cp >= 0:
            d = ends[i] - starts[i]
            volumes[cp] = volumes.get(cp, 0) + d
            total_p += d
            last_p = cp
    extra: dict[int, int] = {}
    if last_e >= 0:
        extra[last_e] = _ceil_to(total_e, steps[last_e]) - total_e
    # TIME and PARKING_TIME share one rounding: parking's when parking was billed.
    if total_p > 0:
        extra[last_p] = _ceil_to(total_p, steps[last_p]) - total_p
    elif last_t >= 0:
        extra[last_t] = extra.get(last_t, 0) + _ceil_to(total_t, steps[last_t]) - total_t
    return flat, volumes, extra
