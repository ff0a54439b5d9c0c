"""OCPP meter values (1.6 MeterValue / 2.x MeterValueType, as snake_case dicts) -> readings
in normalised units: energy in Wh, power in W, current in A.

Every number and time goes through `evroam.ocpp.values`: a value it refuses raises the OCPP
error for it (the CALL is answered with a CALLERROR, nothing stored). With `lenient` (a
transaction's stop: refusing it would leave the transaction open for ever) a refused sampled
value (or meter value, when its timestamp is refused) is left out instead and described in
`MeterData.dropped`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from ocpp.exceptions import OCPPError

from evroam.ocpp import values
from evroam.store.charging import Reading

DEFAULT_MEASURAND = "Energy.Active.Import.Register"


class MeterData(NamedTuple):
    readings: list[Reading]
    dropped: list[str]  # why each left-out value was refused (lenient reading only)


def _reading_16(at: datetime, sv: dict[str, Any]) -> Reading | None:
    """One 1.6 SampledValue (its field names are the same in camelCase and snake_case), or None
    when it holds no number (signed meter data)."""
    if sv.get("format") == "SignedData":
        return None
    unit = sv.get("unit")
    value = values.scaled(values.decimal_16(sv.get("value")), unit)
    return Reading(at, sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase") or "",
                   sv.get("context") or "Sample.Periodic", value)


def _reading_2(at: datetime, sv: dict[str, Any]) -> Reading | None:
    unit = sv.get("unit_of_measure") or {}
    value = values.scaled(values.number_2(sv.get("value")), unit.get("unit"), values.multiplier(unit.get("multiplier")))
    return Reading(at, sv.get("measurand") or DEFAULT_MEASURAND, sv.get("phase") or "",
                   sv.get("context") or "Sample.Periodic", value)


def _read(meter_values: list[dict[str, Any]] | None, reading: Callable[[datetime, dict[str, Any]], Reading | None],
          lenient: bool) -> MeterData:
    out: list[Reading] = []
    dropped: list[str] = []
    for mv in meter_values or []:
        try:
            at = values.timestamp(mv.get("timestamp"))
        except OCPPError as error:
            if not lenient:
                raise
            dropped.append(_why(error))
            continue
        for sv in mv.get("sampled_value") or []:
            try:
                r = reading(at, sv)
            except OCPPError as error:
                if not lenient:
                    raise
                dropped.append(_why(error))
                continue
            if r is not None:
                out.append(r)
    return MeterData(out, dropped)


def _why(error: OCPPError) -> str:
    return f"{error.code}: {(error.details or {}).get('cause', error.description)}"


def readings_16(meter_values: list[dict[str, Any]] | None) -> list[Reading]:
    return _read(meter_values, _reading_16, False).readings


def meter_data_16(meter_values: list[dict[str, Any]] | None, *, lenient: bool = False) -> MeterData:
    return _read(meter_values, _reading_16, lenient)


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
    schema's types and enumerations, nothing else). None means: let the library's validation
    judge it; so this accepts nothing the JSON schema refuses. A payload of the schema's shape
    with a value or timestamp that `values` refuses raises its OCPP error, as the library's
    path does."""
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
    for mv in meter_values:
        if type(mv) is not dict or len(mv) != 2 or "timestamp" not in mv or "sampledValue" not in mv:
            return None
        timestamp, sampled = mv["timestamp"], mv["sampledValue"]
        if type(timestamp) is not str or type(sampled) is not list or not sampled:
            return None
        for sv in sampled:
            if type(sv) is not dict or type(sv.get("value")) is not str:
                return None
            for key, value in sv.items():
                allowed = _SAMPLED_16.get(key, False)
                if allowed is False or type(value) is not str or (allowed is not None and value not in allowed):
                    return None
    out: list[Reading] = []
    for mv in meter_values:
        at = values.timestamp(mv["timestamp"])
        for sv in mv["sampledValue"]:
            reading = _reading_16(at, sv)
            if reading is not None:
                out.append(reading)
    return connector_id, transaction_id, out


def readings_2(meter_values: list[dict[str, Any]] | None) -> list[Reading]:
    return _read(meter_values, _reading_2, False).readings


def meter_data_2(meter_values: list[dict[str, Any]] | None, *, lenient: bool = False) -> MeterData:
    return _read(meter_values, _reading_2, lenient)


def energy_at(readings: list[Reading], context: str) -> float | None:
    """The energy register reading of one context (e.g. Transaction.Begin), if any."""
    for r in readings:
        if r.measurand == DEFAULT_MEASURAND and r.phase == "" and r.context == context:
            return r.value
    return None
