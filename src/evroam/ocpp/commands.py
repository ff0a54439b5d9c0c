"""The CALLs the central system sends to chargers, built for each OCPP version, and their
answers read back in version-neutral terms. The services say what to do (start on EVSE 2 for
this token, reset, read a configuration key); this module knows how 1.6 and 2.0.1/2.1 say it.

OCPP 2.1 keeps the 2.0.1 messages used here with the same required fields and statuses, so one
builder serves both (with the `ocpp.v21` call classes for a 2.1 charger). Where 2.1 differs:
IdToken.type is an open string (2.0.1: an enumeration; the values we send exist in both),
TriggerMessage knows SignV2G20Certificate too (and CustomTrigger, which needs a name we do not
send), Reset also has ImmediateAndResume (not used: hard = Immediate, soft = OnIdle)."""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from evroam.model.commands import CommandResultType

#: OCPI token type -> OCPP 2.x IdTokenType
ID_TOKEN_TYPES = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central", "OTHER": "Central"}

#: A charger's answer status -> the OCPI CommandResult
RESULTS: dict[str, CommandResultType] = {
    "Accepted": CommandResultType.ACCEPTED,
    "Unlocked": CommandResultType.ACCEPTED,
    "Rejected": CommandResultType.REJECTED,
    "Occupied": CommandResultType.EVSE_OCCUPIED,
    "Faulted": CommandResultType.EVSE_INOPERATIVE,
    "Unavailable": CommandResultType.EVSE_INOPERATIVE,
    "UnlockFailed": CommandResultType.FAILED,
    "OngoingAuthorizedTransaction": CommandResultType.REJECTED,
    "UnknownConnector": CommandResultType.REJECTED,
    "NotSupported": CommandResultType.NOT_SUPPORTED,
    "UnknownReservation": CommandResultType.UNKNOWN_RESERVATION,
}

#: TriggerMessage names: 1.6 and 2.x spell most of them the same way
TRIGGERS_16 = ("BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
               "MeterValues", "StatusNotification")
TRIGGERS_2 = ("BootNotification", "LogStatusNotification", "FirmwareStatusNotification", "Heartbeat",
              "MeterValues", "SignChargingStationCertificate", "SignV2GCertificate", "StatusNotification",
              "TransactionEvent", "SignCombinedCertificate", "PublishFirmwareStatusNotification")
TRIGGERS_21 = (*TRIGGERS_2, "SignV2G20Certificate")


class Unsupported(ValueError):
    """The request cannot be said in the charger's OCPP version (or is malformed for it)."""


def is_16(version: str) -> bool:
    return version == "1.6"


def _calls2(version: str) -> ModuleType:
    if version == "2.0.1":
        return call201
    if version == "2.1":
        return call21
    raise Unsupported(f"unknown OCPP version {version!r}")


def id_token(uid: str, token_type: str | None) -> dict[str, str]:
    """An OCPP 2.x IdToken for an OCPI token."""
    return {"id_token": uid, "type": ID_TOKEN_TYPES.get(token_type or "RFID", "Central")}


def _id_tag(uid: str) -> str:
    if len(uid) > 20:
        raise Unsupported(f"token uid {uid!r} is longer than the 20 characters of an OCPP 1.6 idTag")
    return uid


# ---------------------------------------------------------------------- OCPI commands


def remote_start(version: str, *, uid: str, token_type: str | None, evse_number: int | None,
                 remote_start_id: int) -> Any:
    if is_16(version):
        return call16.RemoteStartTransaction(id_tag=_id_tag(uid), connector_id=evse_number)
    return _calls2(version).RequestStartTransaction(id_token=id_token(uid, token_type),
                                                    remote_start_id=remote_start_id, evse_id=evse_number)


def remote_stop(version: str, transaction_id: str) -> Any:
    if is_16(version):
        try:
            return call16.RemoteStopTransaction(transaction_id=int(transaction_id))
        except ValueError:
            raise Unsupported(f"OCPP 1.6 transaction ids are integers, not {transaction_id!r}") from None
    return _calls2(version).RequestStopTransaction(transaction_id=transaction_id)


def reserve_now(version: str, *, reservation_id: int, expiry_date: str, uid: str, token_type: str | None,
                evse_number: int | None) -> Any:
    if is_16(version):
        return call16.ReserveNow(connector_id=evse_number or 0, expiry_date=expiry_date, id_tag=_id_tag(uid),
                                 reservation_id=reservation_id)
    return _calls2(version).ReserveNow(id=reservation_id, expiry_date_time=expiry_date,
                                       id_token=id_token(uid, token_type), evse_id=evse_number)


def cancel_reservation(version: str, reservation_id: int) -> Any:
    if is_16(version):
        return call16.CancelReservation(reservation_id=reservation_id)
    return _calls2(version).CancelReservation(reservation_id=reservation_id)


def unlock_connector(version: str, *, evse_number: int, connector_number: int) -> Any:
    if is_16(version):  # a 1.6 connector is what the registry maps to one EVSE
        return call16.UnlockConnector(connector_id=evse_number)
    return _calls2(version).UnlockConnector(evse_id=evse_number, connector_id=connector_number)


# ---------------------------------------------------------------------- operator commands


def reset(version: str, *, hard: bool) -> Any:
    if is_16(version):
        return call16.Reset(type="Hard" if hard else "Soft")
    return _calls2(version).Reset(type="Immediate" if hard else "OnIdle")


def change_availability(version: str, *, evse_number: int, operative: bool) -> Any:
    """`evse_number` 0: the whole charger."""
    if is_16(version):
        return call16.ChangeAvailability(connector_id=evse_number, type="Operative" if operative else "Inoperative")
    return _calls2(version).ChangeAvailability(operational_status="Operative" if operative else "Inoperative",
                                               evse={"id": evse_number} if evse_number else None)


def trigger_message(version: str, message: str, *, evse_number: int | None) -> Any:
    known = TRIGGERS_16 if is_16(version) else TRIGGERS_21 if version == "2.1" else TRIGGERS_2
    name = next((m for m in known if m.casefold() == message.casefold()), None)
    if name is None:
        raise Unsupported(f"OCPP {version} cannot trigger {message!r}; one of: {', '.join(known)}")
    if is_16(version):
        return call16.TriggerMessage(requested_message=name, connector_id=evse_number)
    return _calls2(version).TriggerMessage(requested_message=name,
                                           evse={"id": evse_number} if evse_number else None)


def _variable(name: str) -> dict[str, Any]:
    """`Component.Variable` (optionally `Component.Variable.Attribute`-free) -> 2.x names."""
    component, sep, variable = name.partition(".")
    if not sep or not component or not variable:
        raise Unsupported(f"OCPP 2.x variables are named Component.Variable (e.g. OCPPCommCtrlr.HeartbeatInterval),"
                          f" not {name!r}")
    return {"component": {"name": component}, "variable": {"name": variable}}


def get_configuration(version: str, keys: list[str]) -> Any:
    if is_16(version):
        return call16.GetConfiguration(key=keys or None)
    if not keys:
        raise Unsupported("OCPP 2.x: name the variables to read as Component.Variable")
    return _calls2(version).GetVariables(get_variable_data=[_variable(k) for k in keys])


def set_configuration(version: str, key: str, value: str) -> Any:
    if is_16(version):
        return call16.ChangeConfiguration(key=key, value=value)
    return _calls2(version).SetVariables(set_variable_data=[{"attribute_value": value, **_variable(key)}])


def clear_cache(version: str) -> Any:
    return call16.ClearCache() if is_16(version) else _calls2(version).ClearCache()


def local_list_version(version: str) -> Any:
    return call16.GetLocalListVersion() if is_16(version) else _calls2(version).GetLocalListVersion()


def send_local_list(version: str, *, list_version: int, uids: list[str], full: bool = True) -> Any:
    """The list of `uids` (all Accepted); an empty full list clears the charger's list."""
    update_type = "Full" if full else "Differential"
    if is_16(version):
        entries = [{"id_tag": _id_tag(u), "id_tag_info": {"status": "Accepted"}} for u in uids]
        return call16.SendLocalList(list_version=list_version, update_type=update_type,
                                    local_authorization_list=entries)
    entries = [{"id_token": id_token(u, "RFID"), "id_token_info": {"status": "Accepted"}} for u in uids]
    return _calls2(version).SendLocalList(version_number=list_version, update_type=update_type,
                                          local_authorization_list=entries or None)


# ---------------------------------------------------------------------- answers


def answer_dict(answer: Any) -> dict[str, Any]:
    """A call_result dataclass as a plain dict (None fields left out)."""
    if dataclasses.is_dataclass(answer):
        return {k: v for k, v in dataclasses.asdict(answer).items() if v is not None}
    return dict(answer or {})


def answer_status(answer: Any) -> str | None:
    """The `status` of an answer (the charger's Accepted / Rejected / ...)."""
    status = getattr(answer, "status", None)
    return str(status) if status is not None else None


def answer_text(answer: Any) -> str:
    """The answer's status for people: `Rejected`, with the 2.x statusInfo reason when given
    (`Rejected (NoCable: plug in first)`)."""
    text = answer_status(answer) or "without a status"
    info = getattr(answer, "status_info", None)
    if isinstance(info, dict) and info.get("reason_code"):
        extra = info.get("additional_info")
        text += f" ({info['reason_code']}" + (f": {extra}" if extra else "") + ")"
    return text


def command_result(answer: Any) -> CommandResultType:
    """The OCPI CommandResult of a charger's answer to a command's CALL."""
    return RESULTS.get(answer_status(answer) or "", CommandResultType.FAILED)
