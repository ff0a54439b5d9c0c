"""The JSON contract of `evroam tariff price`: a case (tariff + time zone + session) in, the
priced result out, as plain dicts. Validation errors name the field:
`tariff.elements[0].price_components[0].step_size: Field required`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from evroam.model.common import DateTime, field_errors, format_datetime
from evroam.model.tariffs import Tariff
from evroam.tariffs.compiled import CompiledTariff, normalise_tariff
from evroam.tariffs.engine import PricingError, price_session
from evroam.tariffs.types import (
    DEFAULT_ROUNDING,
    ENERGY,
    MS_PER_HOUR,
    MWH_PER_KWH,
    PARKING_TIME,
    TIME,
    ChargingSession,
    MeterSample,
    Money,
    PricingResult,
    Reservation,
    Rounding,
    from_ms,
)

VOLUME_DECIMALS = 6


class InputError(ValueError):
    """Invalid input; `str(err)` is one line naming the field."""


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Sample(_In):
    timestamp: DateTime
    kwh_total: float
    power_kw: float | None = None
    current_a: float | None = None


class _Reservation(_In):
    start_date_time: DateTime
    expiry_date_time: DateTime | None = None
    expired: bool = False


class _Session(_In):
    start_date_time: DateTime
    end_date_time: DateTime
    meter_samples: list[_Sample] = []
    reservation: _Reservation | None = None


class _Case(_In):
    tariff: Tariff
    location_time_zone: str
    session: _Session

    @field_validator("location_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name such as Europe/Amsterdam)"
            ) from None
        return value


def _first_error(exc: ValidationError) -> str:
    return field_errors(exc)[0]


def parse_tariff(data: Any) -> Tariff:
    try:
        return Tariff.model_validate(normalise_tariff(data))
    except ValidationError as exc:
        raise InputError(_first_error(exc)) from None


def parse_case(data: Any) -> tuple[Tariff, str, ChargingSession]:
    if not isinstance(data, dict):
        raise InputError("(body): expected a JSON object with tariff, location_time_zone and session")
    data = dict(data)
    if "tariff" in data:
        data["tariff"] = normalise_tariff(data["tariff"])
    try:
        case = _Case.model_validate(data)
    except ValidationError as exc:
        raise InputError(_first_error(exc)) from None
    s = case.session
    if s.end_date_time < s.start_date_time:
        raise InputError("session.end_date_time: is before session.start_date_time")
    for i in range(1, len(s.meter_samples)):
        if s.meter_samples[i].timestamp < s.meter_samples[i - 1].timestamp:
            raise InputError(f"session.meter_samples[{i}].timestamp: is earlier than the sample before it")
        if s.meter_samples[i].kwh_total < s.meter_samples[i - 1].kwh_total:
            raise InputError(f"session.meter_samples[{i}].kwh_total: is lower than the sample before it")
    r = s.reservation
    if r is not None and r.expired and r.expiry_date_time is None:
        r = _Reservation(start_date_time=r.start_date_time, expiry_date_time=s.end_date_time, expired=True)
    session = ChargingSession(
        s.start_date_time,
        s.end_date_time,
        tuple(MeterSample(m.timestamp, m.kwh_total, m.power_kw, m.current_a) for m in s.meter_samples),
        Reservation(r.start_date_time, r.expiry_date_time, r.expired) if r is not None else None,
    )
    return case.tariff, case.location_time_zone, session


# ---------------------------------------------------------------------------- output


def _num(value: Decimal) -> float:
    return float(value)


def money_dict(m: Money, rounding: Rounding) -> dict[str, float]:
    out = {"excl_vat": _num(rounding.money(m.excl_vat))}
    if m.incl_vat is not None:
        out["incl_vat"] = _num(rounding.money(m.incl_vat))
    return out


def _hours(ms: int) -> float:
    return round(ms / MS_PER_HOUR, VOLUME_DECIMALS)


def _kwh(mwh: int) -> float:
    return round(mwh / MWH_PER_KWH, VOLUME_DECIMALS)


def period_dict(ct: CompiledTariff, p, tariff_id: str | None) -> dict[str, Any]:
    if p.charging:
        dims = [
            {"type": ENERGY, "volume": _kwh(p.energy_mwh)},
            {"type": TIME, "volume": _hours(p.duration_ms)},
        ]
    else:
        dims = [{"type": PARKING_TIME, "volume": _hours(p.duration_ms)}]
    active = {}
    for dim, cid in zip(("ENERGY", "TIME", "PARKING_TIME", "FLAT"), p.components, strict=True):
        if cid >= 0:
            active[dim] = ct.components[cid].element
    out: dict[str, Any] = {
        "start_date_time": format_datetime(from_ms(p.start_ms)),
        "end_date_time": format_datetime(from_ms(p.end_ms)),
        "dimensions": dims,
    }
    if tariff_id is not None:
        out["tariff_id"] = tariff_id
    out["active_elements"] = active
    return out


def result_dict(ct: CompiledTariff, result: PricingResult) -> dict[str, Any]:
    """The priced result in the contract's shape (CDR-like totals and charging periods)."""
    r = result.rounding
    out: dict[str, Any] = {
        "currency": result.currency,
        "total_cost": money_dict(result.total_cost, r),
        "total_energy": _kwh(result.total_energy_mwh),
        "total_time": _hours(result.total_time_ms) if result.total_time_ms is not None else None,
        "total_parking_time": (
            _hours(result.total_parking_time_ms) if result.total_parking_time_ms is not None else None
        ),
    }
    by_dim = result.cost_by_dimension()
    names = {
        "FLAT": "total_fixed_cost",
        "ENERGY": "total_energy_cost",
        "TIME": "total_time_cost",
        "PARKING_TIME": "total_parking_cost",
        "RESERVATION": "total_reservation_cost",
    }
    for dim, key in names.items():
        if dim in by_dim:
            out[key] = money_dict(by_dim[dim], r)
    out["cost_breakdown_excl_vat"] = {
        dim: _num(r.money(m.excl_vat)) for dim, m in by_dim.items() if m.excl_vat != 0
    }
    if result.min_price_applied != (False, False) or result.max_price_applied != (False, False):
        out["cost_before_limits"] = money_dict(result.cost_before_limits, r)
    out["charging_periods"] = [period_dict(ct, p, result.tariff_id) for p in result.periods]
    if result.reservation_periods:
        out["reservation_periods"] = [
            {
                "start_date_time": format_datetime(from_ms(p.start_ms)),
                "end_date_time": format_datetime(from_ms(p.end_ms)),
                "dimensions": [{"type": "RESERVATION_TIME", "volume": _hours(p.duration_ms)}],
            }
            for p in result.reservation_periods
        ]
    if result.warnings:
        out["warnings"] = list(result.warnings)
    return out


def price_case(case: dict[str, Any], *, rounding: Rounding = DEFAULT_ROUNDING) -> dict[str, Any]:
    """Price a case in the JSON contract and return the result JSON object (a dict).
    Raises InputError (one line naming the field) on invalid input."""
    tariff, tz, session = parse_case(case)
    ct = CompiledTariff(tariff, tz)
    try:
        result = price_session(ct, session, rounding=rounding)
    except PricingError as exc:
        raise InputError(f"session: {exc}") from None
    return result_dict(ct, result)
