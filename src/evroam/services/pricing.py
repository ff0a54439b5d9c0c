"""From an OCPP transaction's meter readings to the OCPI numbers of its Session and CDR:
charging periods, energy, times and costs, priced by the tariff engine with the tariff in force
at the start, in the location's time zone. Money is reported to the cent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from evroam.model.common import format_datetime
from evroam.store.charging import Reading
from evroam.tariffs import (
    ChargingSession,
    MeterSample,
    Money,
    PricingError,
    Rounding,
    compile_tariff,
    price_session,
)
from evroam.tariffs.types import from_ms

log = logging.getLogger(__name__)

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
MONEY = Rounding(decimals=2)
_VOLUME = 4  # decimals of period volumes


@dataclass
class Priced:
    kwh: float
    charging_periods: list[dict[str, Any]]
    total_cost: dict[str, float] | None
    totals: dict[str, Any] = field(default_factory=dict)  # CDR totals (costs, time, parking time)


def meter_samples(readings: Sequence[Reading], start: datetime, end: datetime,
                  meter_start_wh: float | None, meter_stop_wh: float | None) -> list[MeterSample]:
    """Energy register readings (with power and current at the same instants) as engine
    samples: sorted by time, one per instant, never decreasing; the transaction's start and
    stop meter values at its start and end."""
    energy: dict[datetime, float] = {}
    power: dict[datetime, float] = {}
    current: dict[datetime, dict[str, float]] = {}
    for r in readings:
        if r.measurand == ENERGY_REGISTER and r.phase == "":
            energy[r.timestamp] = max(energy.get(r.timestamp, 0.0), r.value)
        elif r.measurand == POWER and r.phase == "":
            power[r.timestamp] = r.value
        elif r.measurand == CURRENT:
            current.setdefault(r.timestamp, {})[r.phase] = r.value
    if meter_start_wh is not None:
        energy.setdefault(start, meter_start_wh)
    if meter_stop_wh is not None:
        energy[end] = max(meter_stop_wh, energy.get(end, 0.0))
    samples: list[MeterSample] = []
    highest = None
    for at in sorted(energy):
        wh = energy[at]
        if highest is not None and wh < highest:
            wh = highest  # a reading lower than an earlier one (meter reset, wrong order): no negative energy
        highest = wh
        amps = current.get(at)
        total_a = None
        if amps:
            total_a = amps[""] if "" in amps and len(amps) == 1 else sum(v for k, v in amps.items() if k != "")
        samples.append(MeterSample(at, wh / 1000.0, power[at] / 1000.0 if at in power else None, total_a))
    return samples


def energy_kwh(samples: Sequence[MeterSample], start: datetime, end: datetime) -> float:
    inside = [s.kwh_total for s in samples if start <= s.timestamp <= end]
    if len(inside) < 2:
        return 0.0
    return round(max(inside) - inside[0], _VOLUME)


def _money(m: Money) -> dict[str, float]:
    out = {"excl_vat": float(MONEY.money(m.excl_vat))}
    if m.incl_vat is not None:
        out["incl_vat"] = float(MONEY.money(m.incl_vat))
    return out


def price(tariff: dict[str, Any] | None, time_zone: str, readings: Sequence[Reading], start: datetime,
          end: datetime, meter_start_wh: float | None, meter_stop_wh: float | None) -> Priced:
    samples = meter_samples(readings, start, end, meter_start_wh, meter_stop_wh)
    kwh = energy_kwh(samples, start, end)
    if end < start:
        end = start
    if tariff is None:
        return Priced(kwh, _unpriced_periods(start, end, kwh), None,
                      {"total_time": round((end - start).total_seconds() / 3600, _VOLUME)})
    try:
        compiled = compile_tariff(tariff, time_zone)
        result = price_session(compiled, ChargingSession(start, end, samples), rounding=MONEY)
    except (PricingError, ValueError) as exc:
        log.warning("session could not be priced with tariff %s: %s", tariff.get("id"), exc)
        return Priced(kwh, _unpriced_periods(start, end, kwh), None,
                      {"total_time": round((end - start).total_seconds() / 3600, _VOLUME)})
    periods = []
    for p in result.periods:
        if p.charging:
            dims = [{"type": "ENERGY", "volume": round(p.energy_mwh / 1e6, _VOLUME)},
                    {"type": "TIME", "volume": round(p.duration_ms / 3.6e6, _VOLUME)}]
        else:
            dims = [{"type": "PARKING_TIME", "volume": round(p.duration_ms / 3.6e6, _VOLUME)}]
        periods.append({"start_date_time": format_datetime(from_ms(p.start_ms)), "dimensions": dims,
                        "tariff_id": tariff["id"]})
    if not periods:
        periods = _unpriced_periods(start, end, kwh, tariff["id"])
    by_dim = result.cost_by_dimension()
    totals: dict[str, Any] = {
        "total_energy": round(result.total_energy_mwh / 1e6, _VOLUME),
        "total_time": round((end - start).total_seconds() / 3600, _VOLUME),
        "total_parking_time": round((result.total_parking_time_ms or 0) / 3.6e6, _VOLUME),
    }
    for dim, key in (("FLAT", "total_fixed_cost"), ("ENERGY", "total_energy_cost"), ("TIME", "total_time_cost"),
                     ("PARKING_TIME", "total_parking_cost"), ("RESERVATION", "total_reservation_cost")):
        if dim in by_dim and by_dim[dim].excl_vat != Decimal(0):
            totals[key] = _money(by_dim[dim])
    return Priced(round(result.total_energy_mwh / 1e6, _VOLUME), periods, _money(result.total_cost), totals)


def _unpriced_periods(start: datetime, end: datetime, kwh: float, tariff_id: str | None = None) -> list[dict]:
    period: dict[str, Any] = {
        "start_date_time": format_datetime(start),
        "dimensions": [{"type": "ENERGY", "volume": kwh},
                       {"type": "TIME", "volume": round((end - start).total_seconds() / 3600, _VOLUME)}],
    }
    if tariff_id:
        period["tariff_id"] = tariff_id
    return [period]
