"""A driver's "what will this charge cost": a planned session synthesised from energy and
power, priced by the same engine as real sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from evroam.model.common import format_datetime
from evroam.model.tariffs import Tariff
from evroam.tariffs.case import money_dict, parse_tariff, result_dict
from evroam.tariffs.compiled import CompiledTariff
from evroam.tariffs.engine import price_session
from evroam.tariffs.explain import Explanation, explain
from evroam.tariffs.types import DEFAULT_ROUNDING, ChargingSession, MeterSample, PricingResult, Rounding

PHASE_VOLTAGE = 230.0  # V; the sum of the phase currents is P / V_phase for any number of phases


@dataclass(slots=True)
class Estimate:
    session: ChargingSession
    result: PricingResult
    explanation: Explanation
    compiled: CompiledTariff

    def to_dict(self) -> dict[str, Any]:
        out = result_dict(self.compiled, self.result)
        out["estimate"] = {
            "start_date_time": format_datetime(self.session.start_date_time),
            "end_date_time": format_datetime(self.session.end_date_time),
            "charging_ends": format_datetime(self.session.meter_samples[1].timestamp),
            "power_kw": self.session.meter_samples[0].power_kw,
            "current_a": self.session.meter_samples[0].current_a,
        }
        out["total_cost"] = money_dict(self.result.total_cost, self.result.rounding)
        return out


def planned_session(
    *,
    kwh: float,
    power_kw: float,
    start: datetime,
    time_zone: str,
    parking_minutes: float = 0,
    current_a: float | None = None,
) -> ChargingSession:
    """Meter samples for charging `kwh` at a constant `power_kw` from `start` (a naive
    `start` is local time in `time_zone`), then `parking_minutes` plugged in without charging.
    Without `current_a` the current is derived as power / 230 V (summed over phases)."""
    if kwh < 0:
        raise ValueError("kwh: must not be negative")
    if power_kw <= 0:
        raise ValueError("power_kw: must be greater than 0")
    if parking_minutes < 0:
        raise ValueError("parking_minutes: must not be negative")
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(time_zone))
    start = start.astimezone(UTC)
    charge_ms = round(kwh / power_kw * 3_600_000)
    charge_end = start + timedelta(milliseconds=charge_ms)
    end = charge_end + timedelta(minutes=parking_minutes)
    if current_a is None:
        current_a = round(power_kw * 1000 / PHASE_VOLTAGE, 3)
    samples = [
        MeterSample(start, 0.0, power_kw, current_a),
        MeterSample(charge_end, float(kwh), 0.0, 0.0),
    ]
    if end > charge_end:
        samples.append(MeterSample(end, float(kwh), 0.0, 0.0))
    return ChargingSession(start, end, tuple(samples))


def estimate(
    tariff: Tariff | CompiledTariff | dict,
    *,
    kwh: float,
    power_kw: float,
    start: datetime,
    time_zone: str,
    parking_minutes: float = 0,
    current_a: float | None = None,
    rounding: Rounding = DEFAULT_ROUNDING,
) -> Estimate:
    """Price a planned charge: `kwh` at `power_kw` from `start`, then `parking_minutes`."""
    if isinstance(tariff, CompiledTariff):
        ct = tariff
    else:
        ct = CompiledTariff(parse_tariff(tariff) if isinstance(tariff, dict) else tariff, time_zone)
    session = planned_session(
        kwh=kwh,
        power_kw=power_kw,
        start=start,
        time_zone=time_zone,
        parking_minutes=parking_minutes,
        current_a=current_a,
    )
    result = price_session(ct, session, rounding=rounding)
    return Estimate(session, result, explain(ct, result), ct)
