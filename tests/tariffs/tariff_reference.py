"""A straightforward per-step reference pricer, independent of the engine: it walks the
session minute by minute (or in any step), evaluates every restriction of every element
directly on the pydantic model, and sums the costs. Exact when every boundary of the
session falls on a step; used to cross-check the engine and as the benchmark baseline."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from evroam.model.tariffs import Tariff, TariffRestrictions

DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


def _matches(
    r: TariffRestrictions | None, local: datetime, elapsed_s: float, kwh: float, power, current
) -> bool:
    if r is None:
        return True
    if r.reservation is not None:
        return False
    minute = local.hour * 60 + local.minute + local.second / 60
    if r.start_time or r.end_time:
        s = int(r.start_time[:2]) * 60 + int(r.start_time[3:]) if r.start_time else 0
        e = int(r.end_time[:2]) * 60 + int(r.end_time[3:]) if r.end_time else 1440
        e = e or 1440
        if s < e and not s <= minute < e:
            return False
        if s > e and not (minute >= s or minute < e):
            return False
    if r.day_of_week and DAYS[local.weekday()] not in [d.value for d in r.day_of_week]:
        return False
    if r.start_date and local.date() < date.fromisoformat(r.start_date):
        return False
    if r.end_date and local.date() >= date.fromisoformat(r.end_date):
        return False
    if r.min_kwh is not None and kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and elapsed_s < r.min_duration:
        return False
    if r.max_duration is not None and elapsed_s >= r.max_duration:
        return False
    for lo, hi, v in ((r.min_power, r.max_power, power), (r.min_current, r.max_current, current)):
        if lo is None and hi is None:
            continue
        if v is None or (lo is not None and v < lo) or (hi is not None and v >= hi):
            return False
    return True


def reference_price(
    tariff: Tariff,
    tz: str,
    start: datetime,
    end: datetime,
    samples: list[tuple[datetime, float, float | None, float | None]],
    step_s: int = 60,
) -> tuple[Decimal, Decimal]:
    """(total excl VAT, total incl VAT) of a session given as (timestamp, kwh_total, power_kw, current_a)."""
    zone = ZoneInfo(tz)
    volumes: dict[tuple[int, int], float] = {}
    last: dict[str, tuple[int, int]] = {}
    flat: tuple[int, int] | None = None
    base = samples[0][1]
    i = 0
    steps = math.ceil((end - start).total_seconds() / step_s)
    for k in range(steps):
        t = start + timedelta(seconds=k * step_s)
        t_next = min(t + timedelta(seconds=step_s), end)
        while i + 1 < len(samples) - 1 and samples[i + 1][0] <= t:
            i += 1
        (ta, ea, p, c), (tb, eb, _, _) = samples[i], samples[i + 1]

        def energy(x: datetime, ta=ta, tb=tb, ea=ea, eb=eb) -> float:
            return ea + (eb - ea) * (x - ta).total_seconds() / (tb - ta).total_seconds()

        charging = eb > ea
        if not charging:
            p = 0.0 if p is None else p
            c = 0.0 if c is None else c
        kwh_now = energy(t) - base
        local = t.astimezone(zone)
        elapsed = (t - start).total_seconds()
        chosen = {}
        for dim in ("ENERGY", "TIME", "PARKING_TIME", "FLAT"):
            for ei, el in enumerate(tariff.elements):
                comp = next((ci for ci, pc in enumerate(el.price_components) if pc.type.value == dim), None)
                if comp is not None and _matches(el.restrictions, local, elapsed, kwh_now, p, c):
                    chosen[dim] = (ei, comp)
                    break
        if flat is None and "FLAT" in chosen:
            flat = chosen["FLAT"]
        seconds = (t_next - t).total_seconds()
        if charging:
            if "ENERGY" in chosen:
                volumes[chosen["ENERGY"]] = volumes.get(chosen["ENERGY"], 0.0) + energy(t_next) - energy(t)
                last["ENERGY"] = chosen["ENERGY"]
            if "TIME" in chosen:
                volumes[chosen["TIME"]] = volumes.get(chosen["TIME"], 0.0) + seconds
                last["TIME"] = chosen["TIME"]
        elif "PARKING_TIME" in chosen:
            volumes[chosen["PARKING_TIME"]] = volumes.get(chosen["PARKING_TIME"], 0.0) + seconds
            last["PARKING_TIME"] = chosen["PARKING_TIME"]

    def comp(key):
        return tariff.elements[key[0]].price_components[key[1]]

    def total_of(dim: str) -> float:
        return sum(v for key, v in volumes.items() if comp(key).type.value == dim)

    billed = {key: Decimal(str(round(v, 9))) for key, v in volumes.items()}
    if "ENERGY" in last:
        wh = Decimal(str(round(total_of("ENERGY") * 1000, 6)))
        step = max(comp(last["ENERGY"]).step_size, 1)
        billed[last["ENERGY"]] += (math.ceil(wh / step) * step - wh) / 1000
    time_dim = "PARKING_TIME" if total_of("PARKING_TIME") > 0 else "TIME"
    if time_dim in last:
        secs = Decimal(str(round(total_of(time_dim), 6)))
        step = max(comp(last[time_dim]).step_size, 1)
        billed[last[time_dim]] += math.ceil(secs / step) * step - secs
    excl = incl = Decimal(0)
    for key, vol in billed.items():
        pc = comp(key)
        price = Decimal(str(pc.price))
        amount = price * vol if pc.type.value == "ENERGY" else price * vol / 3600
        excl += amount
        incl += amount * (1 + Decimal(str(pc.vat)) / 100) if pc.vat is not None else amount
    if flat is not None:
        pc = comp(flat)
        excl += Decimal(str(pc.price))
        incl += Decimal(str(pc.price)) * ((1 + Decimal(str(pc.vat)) / 100) if pc.vat is not None else 1)
    if tariff.min_price is not None:
        excl = max(excl, Decimal(str(tariff.min_price.excl_vat)))
        if tariff.min_price.incl_vat is not None:
            incl = max(incl, Decimal(str(tariff.min_price.incl_vat)))
    if tariff.max_price is not None:
        excl = min(excl, Decimal(str(tariff.max_price.excl_vat)))
        if tariff.max_price.incl_vat is not None:
            incl = min(incl, Decimal(str(tariff.max_price.incl_vat)))
    return excl, incl
