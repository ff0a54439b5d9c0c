"""The ports of the services: what the use cases need from the world outside, said in their own
terms. The adapters implement them (the OCPP gateway: `ChargerControl`; the OCPI adapter:
`PartnerPushes` and the real-time partner calls) and `app.py` wires them in. Services never
import an adapter, so they can be tested with in-memory fakes of these ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.partners import Partner
from evroam.services.errors import Invalid, ServiceError

# ---------------------------------------------------------------------- chargers


class ChargerOffline(ServiceError):
    """The charger has no open connection (on any node), or the node holding it is unreachable."""


class ChargerTimedOut(ServiceError):
    """The charger did not answer in time."""


class ChargerRefused(ServiceError):
    """The charger answered with an error (OCPP CALLERROR): `code` names it."""

    def __init__(self, message: str, code: str, description: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.description = description


class CannotSay(Invalid):
    """The command cannot be said in the charger's protocol version (or is malformed for it)."""


@dataclass(frozen=True)
class ChargerCommand:
    """Something to ask of a charger, independent of its protocol version: `name` is one of
    the commands the charger control knows (reset, remote_start, set_tx_profile ...) and
    `args` its arguments (JSON values, so that the command can travel to another node)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargerAnswer:
    """A charger's answer to a command, read in version-neutral terms."""

    action: str  # the message that was sent (e.g. "Reset")
    ocpp_version: str
    status: str | None  # the answer's status ("Accepted", "Rejected" ...)
    text: str  # the status for people, with the charger's reason when it gave one
    result: str  # the OCPI CommandResult the answer means (ACCEPTED, REJECTED, EVSE_OCCUPIED ...)
    data: dict[str, Any] = field(default_factory=dict)  # the whole answer
    reading: dict[str, Any] | None = None  # what a query returned, read (e.g. an active charging profile)


# The charging profiles the load manager sends (commands set_tx_profile, set_max_profile,
# set_default_profile and their clear_* counterparts): one profile of ours per purpose and EVSE.
TX, MAX, DEFAULT = "TX", "MAX", "DEFAULT"  # a session's limit, the charger's maximum, new sessions' limit
#: a charger's answer meaning "I do not take charging profiles"
REFUSALS = ("Rejected", "NotSupported", "NotImplemented")


def round_limit(value: float) -> float:
    """A limit as sent: down to one decimal (the precision OCPP 1.6 allows; never above what
    was planned), never negative."""
    import math

    return max(0.0, math.floor(round(value * 10, 6)) / 10)


class ChargerControl(Protocol):
    """Reaches the chargers, wherever their connections are (this node or another)."""

    def version(self, charger_id: str) -> str | None:
        """The protocol version of a connected charger; None when it is offline."""

    def is_connected(self, charger_id: str) -> bool: ...

    def action(self, charger_id: str, command: ChargerCommand) -> str:
        """The message `command` becomes for this charger (raises CannotSay, ChargerOffline):
        to check a command, and record it, before it is sent."""

    async def send(self, charger_id: str, command: ChargerCommand, *, timeout: float) -> ChargerAnswer:  # noqa: ASYNC109
        """Send the command and return the charger's answer. Raises ChargerOffline,
        ChargerTimedOut, ChargerRefused or CannotSay."""


# ---------------------------------------------------------------------- partners


class PartnerPushes(Protocol):
    """Pushes to roaming partners, written in the caller's database transaction (the outbox),
    delivered later, retried until the partner takes them."""

    async def location_put(self, conn: AsyncConnection, location: dict[str, Any]) -> int: ...

    async def evse_patch(self, conn: AsyncConnection, location_id: str, evse_uid: str,
                         patch: dict[str, Any]) -> int: ...

    async def tariff_put(self, conn: AsyncConnection, tariff: dict[str, Any]) -> int: ...

    async def tariff_delete(self, conn: AsyncConnection, tariff_id: str) -> int: ...

    async def token_put(self, conn: AsyncConnection, partner_pk: int, token: dict[str, Any]) -> int: ...

    async def post_url(self, conn: AsyncConnection, partner_pk: int, url: str, body: Any, *,
                       module: str = "commands", object_key: str | None = None) -> int:
        """POST a result (a CommandResult, a ChargingProfileResult ...) to the `response_url`
        the partner gave."""

    async def session_put(self, conn: AsyncConnection, partner_pk: int, session: dict[str, Any]) -> int: ...

    async def session_patch(self, conn: AsyncConnection, partner_pk: int, session_id: str,
                            patch: dict[str, Any]) -> int: ...

    async def cdr_post(self, conn: AsyncConnection, partner_pk: int, cdr: dict[str, Any]) -> int: ...

    async def active_profile_put(self, conn: AsyncConnection, partner: Partner, session_id: str,
                                 active: dict[str, Any]) -> bool:
        """The ActiveChargingProfile of a session to the eMSP that set a profile on it (False:
        the eMSP has no endpoint for it)."""


class PartnerCallFailed(ServiceError):
    """A real-time call to a partner failed: it could not be reached (`retryable`: trying again
    later may work), or it answered with an error; `unknown` when it does not know the object
    asked about (e.g. a token)."""

    def __init__(self, message: str, *, retryable: bool = True, unknown: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.unknown = unknown


class PartnerCalls(Protocol):
    """Real-time calls to roaming partners (answered at once, not through the outbox). Each
    raises PartnerCallFailed."""

    async def authorize(self, partner: Partner | None, token: dict[str, Any], *, location_id: str | None,
                        evse_uids: list[str] | None) -> dict[str, Any]:
        """Ask the eMSP of `token` whether it may charge here: its AuthorizationInfo."""

    async def send_command(self, partner: Partner, command: str, body: dict[str, Any], *,
                           to_party: tuple[str, str] | None) -> dict[str, Any]:
        """Send a command (START_SESSION ...) to a CPO: its CommandResponse."""

    def takes_commands(self, partner: Partner) -> bool: ...

    async def charging_profile(self, partner: Partner, method: str, session_id: str, *,
                               body: dict[str, Any] | None, params: dict[str, Any] | None) -> dict[str, Any]:
        """Set (PUT), ask for (GET) or clear (DELETE) a session's charging profile at its CPO:
        the ChargingProfileResponse."""

    def results_url(self, module: str, *parts: str, partner: Partner | None = None) -> str:
        """Where a partner posts the asynchronous result of a request of ours (e.g.
        `results_url("commands", "START_SESSION", command_id, partner=cpo)`), in the partner's
        protocol version."""
