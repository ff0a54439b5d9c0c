"""From an OCPP transaction's meter readings to the OCPI numbers of its Session and CDR:
charging periods, energy, times and costs, priced by the tariff engine with the tariff in force
at the start, in the location's time zone. Money is reported to the cent.

Only plausible energy readings are billed (`plausibility.check_energy`); the refused ones are
reported in `Priced.refused`. Pricing never raises: a session the engine cannot price (whatever
the reason) comes back unpriced, with its energy and times, and `Priced.error` saying why, so a
transaction can always be stopped and its CDR made."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from evroam.model.common import format_datetime
from evroam.services.plausibility import Refused, check_energy
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
    refused: list[Refused] = field(default_factory=list)  # energy readings refused as implausible
    error: str | None = None  # why the session could not be priced (then total_cost is None)
    end_wh: float | None = None  # the last billed energy register reading


def meter_samples(readings: Sequence[Reading], start: datetime, end: datetime,
                  meter_start_wh: float | None, meter_stop_wh: float | None, *,
                  max_power_w: float | None = None, margin: float = 0.0) -> tuple[list[MeterSample], list[Refused]]:
    """The plausible energy register readings (with power and current at the same instants) as
    engine samples: sorted by time, one per instant, never decreasing; the transaction's start
    and stop meter values at its start and end (when plausible). And the refused readings."""
    energy: dict[datetime, float] = {}
    power: dict[datetime, float] = {}
    current: dict[datetime, dict[str, float]] = {}
    for r in readings:
        if r.measurand == ENERGY_REGISTER and r.phase == "":
            energy[r.timestamp] = max(energy.get(r.timestamp, r.value), r.value)
        elif r.measurand == POWER and r.phase == "":
            power[r.timestamp] = r.value
        elif r.measurand == CURRENT:
            current.setdefault(r.timestamp, {})[r.phase] = r.value
    checked = check_energy(energy.items(), start=start, meter_start_wh=meter_start_wh, end=end,
                           meter_stop_wh=meter_stop_wh, max_power_w=max_power_w, margin=margin)
    kept: dict[datetime, float] = {}
    for p in checked.kept:  # (a stop at the instant of a reading: the higher of the two, both plausible)
        kept[p.at] = max(kept.get(p.at, p.wh), p.wh)
    samples: list[MeterSample] = []
    for at in sorted(kept):
        amps = current.get(at)
        total_a = None
        if amps:
            total_a = amps[""] if "" in amps and len(amps) == 1 else sum(v for k, v in amps.items() if k != "")
        samples.append(MeterSample(at, kept[at] / 1000.0, power[at] / 1000.0 if at in power else None, total_a))
    return samples, checked.refused


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
          end: datetime, meter_start_wh: float | None, meter_stop_wh: float | None, *,
          max_power_w: float | None = None, margin: float = 0.0) -> Priced:
    """The Session's / CDR's numbers. Never raises (see the module docstring)."""
    if end < start:
        end = start
    refused: list[Refused] = []
    kwh = 0.0
    end_wh = None
    try:
        samples, refused = meter_samples(readings, start, end, meter_start_wh, meter_stop_wh,
                                         max_power_w=max_power_w, margin=margin)
        kwh = energy_kwh(samples, start, end)
        end_wh = samples[-1].kwh_total * 1000.0 if samples else None
        if tariff is None:
            return unpriced(start, end, kwh, refused, end_wh)
        compiled = compile_tariff(tariff, time_zone)
        result = price_session(compiled, ChargingSession(start, end, samples), rounding=MONEY)
        return _priced(tariff, result, start, end, kwh, refused, end_wh)
    except (PricingError, ValueError) as exc:
        log.warning("session could not be priced with tariff %s: %s", (tariff or {}).get("id"), exc)
        return unpriced(start, end, kwh, refused, end_wh, error=str(exc))
    except Exception as exc:  # whatever it is, the session still gets its numbers (unpriced)
        log.exception("session could not be priced with tariff %s", (tariff or {}).get("id"))
        return unpriced(start, end, kwh, refused, end_wh, error=f"{type(exc).__name__}: {exc}")


def unpriced(start: datetime, end: datetime, kwh: float, refused: list[Refused], end_wh: float | None, *,
              error: str | None = None) -> Priced:
    return Priced(kwh, _unpriced_periods(start, end, kwh), None,
                  {"total_time": round((end - start).total_seconds() / 3600, _VOLUME)}, refused, error, end_wh)


def _priced(tariff: dict[str, Any], result, start: datetime, end: datetime, kwh: float, refused: list[Refused],
            end_wh: float | None) -> Priced:
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
    return Priced(round(result.total_energy_mwh / 1e6, _VOLUME), periods, _money(result.total_cost), totals,
                  refused, None, end_wh)


def _unpriced_periods(start: datetime, end: datetime, kwh: float, tariff_id: str | None = None) -> list[dict]:
    period: dict[str, Any] = {
        "start_date_time": format_datetime(start),
        "dimensions": [{"type": "ENERGY", "volume": kwh},
                       {"type": "TIME", "volume": round((end - start).total_seconds() / 3600, _VOLUME)}],
    }
    if tariff_id:
        period["tariff_id"] = tariff_id
    return [period]
