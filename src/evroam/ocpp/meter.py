"""OCPP meter values (1.6 MeterValue / 2.x MeterValueType, as snake_case dicts) -> readings
in normalised units: energy in Wh, power in W, current in A."""

from __future__ import annotations

from typing import Any

from evroam.model.common import parse_datetime
from evroam.store.charging import Reading

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
_KILO = {"kWh": 1000.0, "kW": 1000.0, "kvarh": 1000.0, "kvar": 1000.0, "kVA": 1000.0}


def _value(raw: Any, unit: str | None, multiplier: int = 0) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None  # e.g. signed meter data: not a number
    return value * (10 ** multiplier) * _KILO.get(unit or "", 1.0)


def readings_16(meter_values: list[dict[str, Any]] | None) -> list[Reading]:
    out: list[Reading] = []
    for mv in meter_values or []:
        at = parse_datetime(mv["timestamp"])
        for sv in mv.get("sampled_value") or []:
            if sv.get("format") == "SignedData":
                continue
            value = _value(sv.get("value"), sv.get("unit"))
            if value is None:
                continue
            out.append(Reading(at, sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase") or "",
                               sv.get("context") or "Sample.Periodic", value))
    return out


def readings_2(meter_values: list[dict[str, Any]] | None) -> list[Reading]:
    out: list[Reading] = []
    for mv in meter_values or []:
        at = parse_datetime(mv["timestamp"])
        for sv in mv.get("sampled_value") or []:
            unit = sv.get("unit_of_measure") or {}
            value = _value(sv.get("value"), unit.get("unit"), int(unit.get("multiplier") or 0))
            if value is None:
                continue
            out.append(Reading(at, sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase") or "",
                               sv.get("context") or "Sample.Periodic", value))
    return out


def energy_at(readings: list[Reading], context: str) -> float | None:
    """The energy register reading of one context (e.g. Transaction.Begin), if any."""
    for r in readings:
        if r.measurand == DEFAULT_MEASURAND and r.phase == "" and r.context == context:
            return r.value
    return None
