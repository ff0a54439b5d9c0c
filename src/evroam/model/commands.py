"""Remote commands (OCPI 2.2.1 shape): the request objects an eMSP sends to a CPO, the CPO's
synchronous CommandResponse and the asynchronous CommandResult posted to `response_url`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from evroam.model.common import URL, CiString, DateTime, DisplayText, OcpiModel
from evroam.model.tokens import Token
from evroam.model.types import fail_at

__all__ = [
    "COMMAND_REQUESTS",
    "CancelReservation",
    "CommandRequest",
    "CommandResponse",
    "CommandResponseType",
    "CommandResult",
    "CommandResultType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
]


class CommandType(StrEnum):
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class StartSession(OcpiModel):
    """`connector_id` is needed when the EVSE has START_SESSION_CONNECTOR_REQUIRED (a check
    for the CPO, which knows the EVSE); `evse_uid` is needed whenever `connector_id` is set."""

    response_url: URL
    token: Token
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    connector_id: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None

    @model_validator(mode="after")
    def _connector_needs_evse(self) -> StartSession:
        if self.connector_id is not None and self.evse_uid is None:
            fail_at("StartSession", [(("evse_uid",), "required when connector_id is set", None)])
        return self


class StopSession(OcpiModel):
    response_url: URL
    session_id: CiString(36)


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString(36)
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: CiString(36)


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)


CommandRequest = StartSession | StopSession | ReserveNow | CancelReservation | UnlockConnector

#: The request body class for each command (the last path segment of `POST {commands_url}/{command}`).
COMMAND_REQUESTS: dict[CommandType, type[CommandRequest]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}


class CommandResponse(OcpiModel):
    """The CPO's immediate answer: whether it accepted the command, and how many seconds the
    eMSP should wait for the CommandResult."""

    result: CommandResponseType
    timeout: Annotated[int, Field(ge=0)]
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """The outcome at the charge point, posted by the CPO to the command's `response_url`."""

    result: CommandResultType
    message: list[DisplayText] | None = None
