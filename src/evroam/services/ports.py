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

    async def terminal_push(self, conn: AsyncConnection, partner: Partner, method: str, path: str, body: Any, *,
                            object_key: str) -> int:
        """A push to a Payment Terminal Provider's payments Sender interface (`path` below it:
        `/terminals/{terminal_id}`, `/terminals/activate` ...). Invalid when the partner cannot
        take it (its version has no payments module, or it offers no such interface)."""


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



# ---------------------------------------------------------------------- payments and mail
#
# Money crosses these ports in minor units of its currency (cents), as integers: never floats.


class PaymentDeclined(ServiceError):
    """The payment provider refused the card (declined, expired, insufficient funds ...):
    nothing is held. `reason` says why, in words a driver understands."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class PaymentUnavailable(ServiceError):
    """The payment provider could not be reached, or answered with an error that is not the
    card's: trying again later may work."""


class WebhookRefused(ServiceError):
    """A webhook call that is not the provider's (bad or missing signature, too old) or that
    cannot be read."""


#: the states of a hold, in the platform's terms
AUTHORIZED, ACTION_REQUIRED, PROCESSING, CAPTURED, CANCELED, DECLINED = (
    "AUTHORIZED", "ACTION_REQUIRED", "PROCESSING", "CAPTURED", "CANCELED", "DECLINED")


@dataclass(frozen=True)
class Hold:
    """An amount reserved on a driver's card (a PaymentIntent with manual capture)."""

    ref: str  # the provider's id
    state: str  # AUTHORIZED, ACTION_REQUIRED, PROCESSING, CAPTURED, CANCELED, DECLINED
    amount_minor: int  # held (authorized) amount
    captured_minor: int = 0
    client_secret: str | None = None  # what the driver's browser needs to authenticate the card (3-D Secure)
    reason: str | None = None  # why it was declined or canceled


@dataclass(frozen=True)
class PaymentEvent:
    """What a provider's webhook told: `kind` is authorized, captured, canceled, failed or other."""

    event_id: str
    kind: str
    ref: str | None


class PaymentProvider(Protocol):
    """A card payment provider: pre-authorise (hold) an amount, capture part of it, release the
    rest. Each call is idempotent for the same payment (a retry never holds or captures twice)."""

    name: str

    def public_config(self) -> dict[str, Any]:
        """What the driver's browser needs to collect a card (e.g. a publishable key); no secret."""

    async def hold(self, *, amount_minor: int, currency: str, payment_method: str, reference: str,
                   description: str, email: str | None = None) -> Hold:
        """Authorise `amount_minor` on the card `payment_method` (a token the browser got from the
        provider). Raises PaymentDeclined or PaymentUnavailable."""

    async def confirm(self, ref: str) -> Hold:
        """The hold after the driver authenticated the card (3-D Secure)."""

    async def get(self, ref: str) -> Hold: ...

    async def capture(self, ref: str, amount_minor: int) -> Hold:
        """Take `amount_minor` (at most the held amount) and release the rest."""

    async def release(self, ref: str) -> Hold:
        """Release the whole hold (nothing is taken)."""

    def read_webhook(self, payload: bytes, headers: dict[str, str]) -> PaymentEvent:
        """Check the webhook's signature and read it. Raises WebhookRefused."""


class Mailer(Protocol):
    """Sends e-mail (receipts). Raises ServiceError when the message cannot be handed over."""

    async def send(self, *, to: str, subject: str, text: str, html: str | None = None) -> None: ...
