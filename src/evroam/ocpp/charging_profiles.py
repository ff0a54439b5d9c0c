"""The charging-profile CALLs the load manager sends, built for each OCPP version, and the
answers read back in version-neutral terms.

- A session's limit: 1.6 SetChargingProfile TxProfile on its connector (with the
  transactionId); 2.0.1/2.1 SetChargingProfile TxProfile on its EVSE (with the transactionId).
- A charger's maximum: 1.6 ChargePointMaxProfile on connector 0; 2.x ChargingStationMaxProfile on
  EVSE 0.
- ClearChargingProfile of the profile we set, when a session ends.
- GetCompositeSchedule: what the charger will actually do (for OCPI ActiveChargingProfile).

Each EVSE has one profile of ours per purpose, with a fixed id and stack level, so a new limit
replaces the previous one on the charger. Limits are rounded DOWN to one decimal (the precision
OCPP 1.6 allows): a limit sent is never above the one planned. AC is limited in A (per phase),
DC in W."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.services.ports import MAX, TX, round_limit

STACK_LEVEL = 1
_TX_ID_BASE = 7_100_000  # + EVSE number: our TxProfile of that EVSE
_MAX_ID = 7_000_000  # our charger maximum profile
_DEFAULT_ID = 7_050_000  # our limit of new transactions (TxDefaultProfile)


class Unsupported(ValueError):
    """The profile cannot be said in the charger's OCPP version."""


def is_16(version: str) -> bool:
    return version == "1.6"


def _calls2(version: str):
    if version == "2.0.1":
        return call201
    if version == "2.1":
        return call21
    raise Unsupported(f"unknown OCPP version {version!r}")


def profile_id(purpose: str, evse_number: int) -> int:
    return _MAX_ID if purpose == MAX else _TX_ID_BASE + evse_number


def _periods(limit: float, number_phases: int | None) -> list[dict[str, Any]]:
    period: dict[str, Any] = {"start_period": 0, "limit": limit}
    if number_phases is not None:
        period["number_phases"] = number_phases
    return [period]


def set_tx_profile(version: str, *, evse_number: int, transaction_id: str, unit: str, limit: float,
                   number_phases: int | None = None) -> Any:
    """Limit one running transaction (a TxProfile, relative to the transaction's start: in force
    at once and until it ends)."""
    limit = round_limit(limit)
    if is_16(version):
        try:
            tx = int(transaction_id)
        except ValueError:
            raise Unsupported(f"OCPP 1.6 transaction ids are integers, not {transaction_id!r}") from None
        return call16.SetChargingProfile(connector_id=evse_number, cs_charging_profiles={
            "charging_profile_id": profile_id(TX, evse_number), "transaction_id": tx, "stack_level": STACK_LEVEL,
            "charging_profile_purpose": "TxProfile", "charging_profile_kind": "Relative",
            "charging_schedule": {"charging_rate_unit": unit,
                                  "charging_schedule_period": _periods(limit, number_phases)},
        })
    return _calls2(version).SetChargingProfile(evse_id=evse_number, charging_profile={
        "id": profile_id(TX, evse_number), "stack_level": STACK_LEVEL, "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative", "transaction_id": transaction_id,
        "charging_schedule": [{"id": profile_id(TX, evse_number), "charging_rate_unit": unit,
                               "charging_schedule_period": _periods(limit, number_phases)}],
    })


def set_max_profile(version: str, *, unit: str, limit: float, number_phases: int | None = None,
                    start: datetime | None = None) -> Any:
    """The whole charger's maximum (1.6 ChargePointMaxProfile on connector 0, 2.x
    ChargingStationMaxProfile on EVSE 0), from `start` (default now) on."""
    limit = round_limit(limit)
    start_text = format_datetime(start or utcnow())
    if is_16(version):
        return call16.SetChargingProfile(connector_id=0, cs_charging_profiles={
            "charging_profile_id": _MAX_ID, "stack_level": STACK_LEVEL,
            "charging_profile_purpose": "ChargePointMaxProfile", "charging_profile_kind": "Absolute",
            "charging_schedule": {"charging_rate_unit": unit, "start_schedule": start_text,
                                  "charging_schedule_period": _periods(limit, number_phases)},
        })
    return _calls2(version).SetChargingProfile(evse_id=0, charging_profile={
        "id": _MAX_ID, "stack_level": STACK_LEVEL, "charging_profile_purpose": "ChargingStationMaxProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": [{"id": _MAX_ID, "charging_rate_unit": unit, "start_schedule": start_text,
                               "charging_schedule_period": _periods(limit, number_phases)}],
    })


def clear_tx_profile(version: str, *, evse_number: int) -> Any:
    """Remove our TxProfile of an EVSE."""
    return _clear(version, profile_id(TX, evse_number), evse_number, "TxProfile", "TxProfile")


def set_default_profile(version: str, *, unit: str, limit: float) -> Any:
    """The limit of every new transaction of the charger until it gets its own TxProfile (1.6
    TxDefaultProfile on connector 0, 2.x on EVSE 0), relative to each transaction's start."""
    limit = round_limit(limit)
    if is_16(version):
        return call16.SetChargingProfile(connector_id=0, cs_charging_profiles={
            "charging_profile_id": _DEFAULT_ID, "stack_level": STACK_LEVEL,
            "charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Relative",
            "charging_schedule": {"charging_rate_unit": unit, "charging_schedule_period": _periods(limit, None)},
        })
    return _calls2(version).SetChargingProfile(evse_id=0, charging_profile={
        "id": _DEFAULT_ID, "stack_level": STACK_LEVEL, "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [{"id": _DEFAULT_ID, "charging_rate_unit": unit,
                               "charging_schedule_period": _periods(limit, None)}],
    })


def clear_default_profile(version: str) -> Any:
    """Remove our limit of new transactions."""
    return _clear(version, _DEFAULT_ID, 0, "TxDefaultProfile", "TxDefaultProfile")


def clear_max_profile(version: str) -> Any:
    """Remove our charger maximum."""
    return _clear(version, _MAX_ID, 0, "ChargePointMaxProfile", "ChargingStationMaxProfile")


def _clear(version: str, pid: int, evse_number: int, purpose16: str, purpose2: str) -> Any:
    """ClearChargingProfile of our profile `pid` on an EVSE (0: the whole charger), with the
    purpose's name in the charger's OCPP version."""
    if is_16(version):
        return call16.ClearChargingProfile(id=pid, connector_id=evse_number, charging_profile_purpose=purpose16,
                                           stack_level=STACK_LEVEL)
    return _calls2(version).ClearChargingProfile(charging_profile_id=pid, charging_profile_criteria={
        "evse_id": evse_number, "charging_profile_purpose": purpose2, "stack_level": STACK_LEVEL})


def composite_schedule(version: str, *, evse_number: int, duration: int, unit: str | None = None) -> Any:
    """Ask what the charger plans for an EVSE over the next `duration` seconds."""
    if is_16(version):
        return call16.GetCompositeSchedule(connector_id=evse_number, duration=duration, charging_rate_unit=unit)
    return _calls2(version).GetCompositeSchedule(duration=duration, evse_id=evse_number, charging_rate_unit=unit)


# ---------------------------------------------------------------------- answers


def status_of(answer: Any) -> str:
    status = getattr(answer, "status", None)
    return str(status) if status is not None else "Failed"


def active_profile(answer: Any) -> dict[str, Any] | None:
    """An OCPI ActiveChargingProfile from a GetCompositeSchedule answer (None when the charger
    gave none)."""
    if status_of(answer) != "Accepted":
        return None
    schedule = getattr(answer, "charging_schedule", None)  # 1.6
    start = getattr(answer, "schedule_start", None)
    if schedule is None:  # 2.x: the schedule object carries its start
        schedule = getattr(answer, "schedule", None)
        if isinstance(schedule, dict):
            start = schedule.get("schedule_start")
    if not isinstance(schedule, dict):
        return None
    start = start or schedule.get("start_schedule")
    periods = [{"start_period": int(p.get("start_period", 0)), "limit": round_limit(float(p.get("limit", 0)))}
               for p in schedule.get("charging_schedule_period") or []]
    profile: dict[str, Any] = {"charging_rate_unit": schedule.get("charging_rate_unit") or "A",
                               "charging_profile_period": periods}
    if schedule.get("duration") is not None:
        profile["duration"] = int(schedule["duration"])
    try:
        start_text = format_datetime(parse_datetime(str(start))) if start else format_datetime(utcnow())
    except ValueError:
        start_text = format_datetime(utcnow())
    return {"start_date_time": start_text, "charging_profile": profile}
