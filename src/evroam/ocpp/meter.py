"""OCPP meter values (1.6 MeterValue / 2.x MeterValueType, as snake_case dicts) -> readings
in normalised units: energy in Wh, power in W, current in A."""

from __future__ import annotations

from datetime import datetime
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


def _reading_16(at: datetime, sv: dict[str, Any]) -> Reading | None:
    """One 1.6 SampledValue (its field names are the same in camelCase and snake_case), or None
    when it holds no number (signed meter data)."""
    if sv.get("format") == "SignedData":
        return None
    value = _value(sv.get("value"), sv.get("unit"))
    if value is None:
        return None
    return Reading(at, sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase") or "",
                   sv.get("context") or "Sample.Periodic", value)


def readings_16(meter_values: list[dict[str, Any]] | None) -> list[Reading]:
    out: list[Reading] = []
    for mv in meter_values or []:
        at = parse_datetime(mv["timestamp"])
        for sv in mv.get("sampled_value") or []:
            reading = _reading_16(at, sv)
            if reading is not None:
                out.append(reading)
    return out


# OCPP 1.6 MeterValues.req, as its JSON schema defines it: the enumerations of SampledValue.
_SAMPLED_16: dict[str, frozenset[str] | None] = {
    "value": None,
    "context": frozenset(("Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic",
                          "Transaction.Begin", "Transaction.End", "Trigger", "Other")),
    "format": frozenset(("Raw", "SignedData")),
    "measurand": frozenset((
        "Energy.Active.Export.Register", "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval", "Power.Active.Export",
        "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import", "Power.Factor",
        "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency", "Temperature", "SoC",
        "RPM")),
    "phase": frozenset(("L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1")),
    "location": frozenset(("Cable", "EV", "Inlet", "Outlet", "Body")),
    "unit": frozenset(("Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V", "K",
                       "Celcius", "Celsius", "Fahrenheit", "Percent", "Hertz")),
}
_METER_VALUES_16 = frozenset(("connectorId", "transactionId", "meterValue"))


def meter_values_16(payload: dict[str, Any]) -> tuple[int, int | None, list[Reading]] | None:
    """A 1.6 MeterValues.req payload (camelCase, as received) read in one pass: (connectorId,
    transactionId, readings), or None unless the payload is plainly valid (every field of the
    schema's types and enumerations, nothing else, every timestamp readable). None means: let the
    library's validation judge it; so this accepts nothing the JSON schema refuses."""
    if not _METER_VALUES_16.issuperset(payload):
        return None
    connector_id = payload.get("connectorId")
    transaction_id = payload.get("transactionId")
    meter_values = payload.get("meterValue")
    if type(connector_id) is not int or (transaction_id is not None and type(transaction_id) is not int):
        return None
    if "transactionId" in payload and transaction_id is None:
        return None
    if type(meter_values) is not list or not meter_values:
        return None
    out: list[Reading] = []
    for mv in meter_values:
        if type(mv) is not dict or len(mv) != 2 or "timestamp" not in mv or "sampledValue" not in mv:
            return None
        timestamp, sampled = mv["timestamp"], mv["sampledValue"]
        if type(timestamp) is not str or type(sampled) is not list or not sampled:
            return None
        try:
            at = parse_datetime(timestamp)
        except ValueError:
            return None
        for sv in sampled:
            if type(sv) is not dict or type(sv.get("value")) is not str:
                return None
            for key, value in sv.items():
                allowed = _SAMPLED_16.get(key, False)
                if allowed is False or type(value) is not str or (allowed is not None and value not in allowed):
                    return None
            reading = _reading_16(at, sv)
            if reading is not None:
                out.append(reading)
    return connector_id, transaction_id, out


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
