"""Remote commands: OCPI commands from eMSPs (START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION, UNLOCK_CONNECTOR) and the operators' commands (reset, availability, trigger
message, configuration, cache, local lists, start, stop, unlock), sent to the charger that holds
the EVSE.

An OCPI command gets its CommandResponse at once (OCPI 2.2.1 commands module): ACCEPTED when
the charger is connected and the request can be sent to it; REJECTED when it cannot be sent (the
charger is offline, the token is not one of the eMSP's, the reservation expired already);
NOT_SUPPORTED when the EVSE has no charger we can command or the request cannot be said in the
charger's OCPP version; UNKNOWN_SESSION for a STOP_SESSION of a session the eMSP does not have
here (also when the session is another eMSP's: for that eMSP it does not exist). UNLOCK_CONNECTOR
is REJECTED while a session that is not the eMSP's own (another eMSP's driver's, or one of our
own drivers') is in progress on the EVSE, and nothing is sent to the charger. An unknown
location, EVSE or connector is answered with OCPI status 2003 (and a REJECTED CommandResponse
as data, as the spec's example shows).

Nothing acknowledged is lost: an ACCEPTED command is stored (`received_commands`) before it is
answered and before the charger is asked. The charger's answer then becomes the CommandResult,
which goes into the outbox (retried until the eMSP takes it, across restarts) in the same
database transaction that marks the command done and records what it changed (a reservation's
status, a remote start the charger refused). A CALLRESULT maps to its result (Accepted ->
ACCEPTED, Rejected -> REJECTED, Occupied -> EVSE_OCCUPIED, ...), a CALLERROR NotImplemented /
NotSupported to NOT_SUPPORTED and any other CALLERROR to FAILED, each with a message; no answer
within `command_timeout` seconds gives TIMEOUT. When the platform restarts while commands wait
for their charger, `resume()` gives each its TIMEOUT at its deadline (the answer went with the
old connection). Remote starts are remembered in the store too (services/remote_starts.py), so
the transaction a charger starts after a restart still belongs to its command.

A Payment Terminal Provider (OCPI 2.3.0 payments module) sends START_SESSION and STOP_SESSION
too, for drivers paying at its terminals, with tokens of its own party: a START_SESSION is
accepted only at an EVSE assigned to one of its active terminals and with an
`authorization_reference` not used before (services/terminal_payments.py), and is an ad-hoc
start (the ad-hoc tariff; the CDR carries the invoice number when we issue the invoice).

Operator commands wait for the charger's answer and return it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.events import Bus
from evroam.model.commands import (
    CancelReservation,
    CommandRequest,
    CommandResponseType,
    CommandResultType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from evroam.model.common import format_datetime, utcnow
from evroam.model.partners import Partner
from evroam.services.charging import ACTIVE, ChargingService
from evroam.services.errors import Invalid, NotFound
from evroam.services.locations import LocationService
from evroam.services.objects import same_id
from evroam.services.ports import (
    CannotSay,
    ChargerCommand,
    ChargerControl,
    ChargerOffline,
    ChargerRefused,
    ChargerTimedOut,
    PartnerPushes,
)
from evroam.services.terminal_payments import TerminalPayments
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.commands import ReceivedCommand

log = logging.getLogger(__name__)

CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
TIMED_OUT = "the charge point did not answer in time"
#: Results after which a charger will not start the transaction it was asked for
NO_START = {CommandResultType.REJECTED, CommandResultType.FAILED, CommandResultType.NOT_SUPPORTED,
            CommandResultType.EVSE_OCCUPIED, CommandResultType.EVSE_INOPERATIVE}


def _text(text: str) -> list[dict[str, str]]:
    return [{"language": "en", "text": text[:512]}]


class CommandService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes, charging: ChargingService,
                 locations: LocationService, control: ChargerControl,
                 terminal_payments: TerminalPayments | None = None) -> None:
        self.store = store
        self.terminal_payments = terminal_payments  # START_SESSIONs of Payment Terminal Providers
        self.bus = bus
        self.settings = settings
        self.pushes = pushes
        self.charging = charging
        self.locations = locations
        self.control = control
        self._tasks: set[asyncio.Task] = set()
        self._awaited: set[int] = set()  # received commands this process is waiting on

    async def resume(self) -> int:
        """Every command still waiting for its charger and not awaited in this process gets its
        TIMEOUT result at its deadline (at once when that has passed), unless the charger's
        answer comes first (to the node that sent it). Run after a restart and periodically by
        the node holding the "command-deadlines" lease, so that the commands of a node that died
        are answered too. The number taken over."""
        async with self.store.connect() as conn:
            waiting = await self.store.received_commands.waiting(conn)
        resumed = 0
        for command in waiting:
            if command.pk not in self._awaited:
                self._spawn(self._expire(command), command.pk)
                resumed += 1
        if resumed:
            log.info("%d command(s) waiting for a charger's answer elsewhere or since before a restart: TIMEOUT "
                     "at their deadline unless answered", resumed)
        return resumed

    async def close(self) -> None:
        """Stop waiting for chargers' answers (at shutdown; the commands stay stored as waiting,
        and `resume()` of the next process gives them their result)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every command's result has been handed to the outbox."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ OCPI commands

    def response(self, result: CommandResponseType, message: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"result": result.value, "timeout": self.settings.command_timeout}
        if message:
            out["message"] = _text(message)
        return out

    async def receive(self, command: CommandType, request: CommandRequest, partner: Partner) -> dict[str, Any]:
        """An eMSP's command: the CommandResponse to answer now (the CommandResult follows)."""
        handler = {
            CommandType.START_SESSION: self._start_session,
            CommandType.STOP_SESSION: self._stop_session,
            CommandType.RESERVE_NOW: self._reserve_now,
            CommandType.CANCEL_RESERVATION: self._cancel_reservation,
            CommandType.UNLOCK_CONNECTOR: self._unlock_connector,
        }[command]
        response = await handler(request, partner)
        self.bus.publish("command.received", command=command.value, partner=partner.name, result=response["result"])
        return response

    def _foreign_token(self, partner: Partner, token: dict[str, Any]) -> dict[str, Any] | None:
        """REJECTED when the token is not one of the eMSP's own (OCPI: an eMSP uses only its own
        tokens in commands; a Payment Terminal Provider, those of its own party); None when it is."""
        cc, pid = token.get("country_code", ""), token.get("party_id", "")
        if partner.owns_token_party(cc, pid):
            return None
        mine = ", ".join(f"{c}/{p}" for c, p in partner.parties("EMSP") + partner.ptp_parties()) or "none"
        return self.response(CommandResponseType.REJECTED,
                             f"token {cc}/{pid} is not one of your eMSP parties (yours: {mine})")

    async def _start_session(self, request: StartSession, partner: Partner) -> dict[str, Any]:
        token = request.token.to_dict()
        if (refused := self._foreign_token(partner, token)) is not None:
            return refused
        loc = await self.locations.get_own(request.location_id)
        if request.evse_uid is None:
            place = await self._free_evse(loc)
            if place is None:
                return self.response(CommandResponseType.REJECTED, "no available EVSE at this location: give evse_uid")
            evse, charger_id, evse_number = place
        else:
            evse, charger_id, evse_number = await self._evse(loc, request.evse_uid)
        terminal = None
        if self.terminal_payments is not None and \
                (token["country_code"].upper(), token["party_id"].upper()) in partner.ptp_parties():
            # a driver paying at the PTP's terminal: an ad-hoc start, at an EVSE of its terminals only
            try:
                terminal = await self.terminal_payments.check(partner, location_id=loc["id"], evse_uid=evse["uid"],
                                                              authorization_reference=request.authorization_reference)
            except Invalid as exc:
                return self.response(CommandResponseType.REJECTED, exc.message)
        if charger_id is None:
            return self.response(CommandResponseType.NOT_SUPPORTED, "this EVSE cannot be started remotely")
        if request.connector_id is not None:
            _connector_number(evse, request.connector_id)  # it must exist
        elif CONNECTOR_REQUIRED in (evse.get("capabilities") or []):
            return self.response(CommandResponseType.REJECTED, "connector_id is required for this EVSE")
        remote_start_id = secrets.randbelow(2**31 - 1) + 1
        command = ChargerCommand("remote_start", {"uid": token["uid"], "token_type": token.get("type"),
                                                  "evse_number": evse_number, "remote_start_id": remote_start_id})
        action, refused = self._action(charger_id, command)
        if refused is not None:
            return refused
        data: dict[str, Any] = {}
        start_data = None
        if terminal is not None:
            try:
                payment, start_data = await self.terminal_payments.open(
                    partner, terminal, location_id=loc["id"], evse_uid=evse["uid"],
                    authorization_reference=request.authorization_reference)
            except Invalid as exc:
                return self.response(CommandResponseType.REJECTED, exc.message)
            data["terminal_payment_pk"] = payment.pk
        expected = await self.charging.expect_remote_start(
            charger_id, id_tag=token["uid"], token=token, authorization_reference=request.authorization_reference,
            remote_start_id=remote_start_id, evse_number=evse_number, data=start_data)
        return await self._send(partner, request.response_url, CommandType.START_SESSION, charger_id, command,
                                action, data={"remote_start_pk": expected.pk, **data})

    async def _stop_session(self, request: StopSession, partner: Partner) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, request.session_id)
        emsp = (tx.state.get("emsp") or ["", ""]) if tx is not None else ["", ""]
        if tx is None or not partner.owns_token_party(emsp[0], emsp[1]):
            return self.response(CommandResponseType.UNKNOWN_SESSION, f"unknown session {request.session_id!r}")
        if tx.status != ACTIVE:
            return self.response(CommandResponseType.REJECTED, "the session has ended")
        command = ChargerCommand("remote_stop", {"transaction_id": tx.transaction_id})
        action, refused = self._action(tx.charger_id, command)
        if refused is not None:
            return refused
        return await self._send(partner, request.response_url, CommandType.STOP_SESSION, tx.charger_id, command,
                                action)

    async def _reserve_now(self, request: ReserveNow, partner: Partner) -> dict[str, Any]:
        token = request.token.to_dict()
        if (refused := self._foreign_token(partner, token)) is not None:
            return refused
        loc = await self.locations.get_own(request.location_id)
        evse_number: int | None = None
        if request.evse_uid is not None:
            _, charger_id, evse_number = await self._evse(loc, request.evse_uid)
        else:
            chargers = sorted({c.id for c in await self._chargers_at(loc["id"])})
            if len(chargers) > 1:
                return self.response(CommandResponseType.REJECTED, "several charge points here: give evse_uid")
            charger_id = chargers[0] if chargers else None
        if charger_id is None:
            return self.response(CommandResponseType.NOT_SUPPORTED, "this EVSE cannot be reserved remotely")
        if request.expiry_date <= utcnow():
            return self.response(CommandResponseType.REJECTED, "expiry_date has passed")
        if not self.control.is_connected(charger_id):
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        try:
            # the reservation, its CALL and the command are stored together (or, when the CALL
            # cannot be made for this charger, nothing is)
            async with self.store.begin() as conn:
                reservation = await self.store.reservations.put(
                    conn, country_code=token["country_code"], party_id=token["party_id"],
                    reservation_id=request.reservation_id, partner_pk=partner.pk, charger_id=charger_id,
                    evse_number=evse_number, expiry_date=request.expiry_date,
                    data={"token": token, "location_id": loc["id"], "evse_uid": request.evse_uid,
                          "authorization_reference": request.authorization_reference})
                command = ChargerCommand("reserve_now", {
                    "reservation_id": reservation.pk, "expiry_date": format_datetime(request.expiry_date),
                    "uid": token["uid"], "token_type": token.get("type"), "evse_number": evse_number})
                action = self.control.action(charger_id, command)
                recorded = await self._record(conn, partner, request.response_url, CommandType.RESERVE_NOW,
                                              charger_id, action, data={"reservation_pk": reservation.pk})
        except ChargerOffline:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        except CannotSay as exc:
            return self.response(CommandResponseType.NOT_SUPPORTED, exc.message)
        return self._sent(recorded, charger_id, command, action)

    async def _cancel_reservation(self, request: CancelReservation, partner: Partner) -> dict[str, Any]:
        reservation = None
        async with self.store.connect() as conn:
            for cc, pid in partner.parties("EMSP"):
                reservation = await self.store.reservations.find(conn, cc, pid, request.reservation_id)
                if reservation is not None:
                    break
        if reservation is None or reservation.status in ("CANCELED", "REJECTED"):
            # accepted, and the result says so at once (nothing to ask a charger)
            async with self.store.begin() as conn:
                pk = await self.store.received_commands.add(
                    conn, partner_pk=partner.pk, command=CommandType.CANCEL_RESERVATION.value,
                    response_url=request.response_url, charger_id=None, action=None, deadline=utcnow())
                command = await self._conclude(conn, pk, CommandResultType.UNKNOWN_RESERVATION,
                                               f"unknown reservation {request.reservation_id!r}")
            self._published(command)
            return self.response(CommandResponseType.ACCEPTED)
        command = ChargerCommand("cancel_reservation", {"reservation_id": reservation.pk})
        action, refused = self._action(reservation.charger_id, command)
        if refused is not None:
            return refused
        return await self._send(partner, request.response_url, CommandType.CANCEL_RESERVATION, reservation.charger_id,
                                command, action, data={"reservation_pk": reservation.pk})

    async def _unlock_connector(self, request: UnlockConnector, partner: Partner) -> dict[str, Any]:
        loc = await self.locations.get_own(request.location_id)
        evse, charger_id, evse_number = await self._evse(loc, request.evse_uid)
        connector_number = _connector_number(evse, request.connector_id)
        if charger_id is None:
            return self.response(CommandResponseType.NOT_SUPPORTED, "this EVSE cannot be unlocked remotely")
        if (refused := await self._in_use_by_another(partner, charger_id, evse_number)) is not None:
            return refused
        command = ChargerCommand("unlock_connector", {"evse_number": evse_number, "connector_number": connector_number})
        action, refused = self._action(charger_id, command)
        if refused is not None:
            return refused
        return await self._send(partner, request.response_url, CommandType.UNLOCK_CONNECTOR, charger_id, command,
                                action)

    def _action(self, charger_id: str, command: ChargerCommand) -> tuple[str | None, dict[str, Any] | None]:
        """(the message `command` becomes at the charger, None), or (None, the CommandResponse
        refusing it: the charger is offline, or the command cannot be said in its version)."""
        try:
            return self.control.action(charger_id, command), None
        except ChargerOffline:
            return None, self.response(CommandResponseType.REJECTED, "the charge point is offline")
        except CannotSay as exc:
            return None, self.response(CommandResponseType.NOT_SUPPORTED, exc.message)

    async def _in_use_by_another(self, partner: Partner, charger_id: str, evse_number: int | None) -> dict | None:
        """REJECTED when a session that is not one of the eMSP's drivers' is in progress on the
        EVSE (another eMSP's, or one of our own drivers'); None when the EVSE is free or the
        session is the eMSP's own."""
        async with self.store.connect() as conn:
            active = [tx for tx in await self.store.transactions.active(conn, charger_id)
                      if tx.evse_number == evse_number]
        for tx in active:
            emsp = tx.state.get("emsp") or ["", ""]
            if not partner.owns_token_party(emsp[0], emsp[1]):
                return self.response(CommandResponseType.REJECTED,
                                     "a session of another eMSP's driver is in progress on this EVSE: only that "
                                     "eMSP can unlock its connector")
        return None

    # ------------------------------------------------------------------ where an EVSE is

    async def _chargers_at(self, location_id: str):
        async with self.store.connect() as conn:
            return [c for c in await self.store.chargers.list(conn)
                    if c.location_id and same_id(c.location_id, location_id) and c.status == "ACCEPTED"]

    async def _evse(self, loc: dict[str, Any], evse_uid: str) -> tuple[dict[str, Any], str | None, int | None]:
        """The EVSE object of a location, and the charger and OCPP EVSE/connector number that hold
        it (None, None when no charger is mapped to it)."""
        evse = next((e for e in loc.get("evses") or [] if same_id(e["uid"], evse_uid)), None)
        if evse is None or evse.get("status") == "REMOVED":
            raise NotFound(f"EVSE {evse_uid!r} not found at location {loc['id']!r}", kind="location")
        for charger in await self._chargers_at(loc["id"]):
            for number, uid in charger.evses.items():
                if same_id(uid, evse["uid"]):
                    return evse, charger.id, number
        return evse, None, None

    async def _free_evse(self, loc: dict[str, Any]) -> tuple[dict[str, Any], str, int] | None:
        """An AVAILABLE EVSE of a connected charger at the location (for a start without evse_uid)."""
        evses = {e["uid"].casefold(): e for e in loc.get("evses") or [] if e.get("status") == "AVAILABLE"}
        for charger in await self._chargers_at(loc["id"]):
            if not self.control.is_connected(charger.id):
                continue
            for number, uid in sorted(charger.evses.items()):
                evse = evses.get(uid.casefold())
                if evse is not None and CONNECTOR_REQUIRED not in (evse.get("capabilities") or []):
                    return evse, charger.id, number
        return None

    # ------------------------------------------------------------------ the asynchronous result

    def _spawn(self, coro, pk: int | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if pk is not None:
            self._awaited.add(pk)
            task.add_done_callback(lambda _t: self._awaited.discard(pk))

    async def _record(self, conn: AsyncConnection, partner: Partner, response_url: str, command: CommandType,
                      charger_id: str, action: str, *, data: dict[str, Any] | None = None) -> tuple[int, datetime]:
        """Store a command about to be sent: it owes its eMSP a result from now on."""
        deadline = utcnow() + timedelta(seconds=self.settings.command_timeout)
        pk = await self.store.received_commands.add(
            conn, partner_pk=partner.pk, command=command.value, response_url=response_url, charger_id=charger_id,
            action=action, deadline=deadline, data=data)
        return pk, deadline

    def _sent(self, recorded: tuple[int, datetime], charger_id: str, command: ChargerCommand,
              action: str) -> dict[str, Any]:
        """Ask the charger (the answer is awaited in the background) and answer ACCEPTED."""
        pk, deadline = recorded
        self._spawn(self._await_answer(pk, deadline, charger_id, command, action), pk)
        return self.response(CommandResponseType.ACCEPTED)

    async def _send(self, partner: Partner, response_url: str, command_type: CommandType, charger_id: str,
                    command: ChargerCommand, action: str, *, data: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.store.begin() as conn:
            recorded = await self._record(conn, partner, response_url, command_type, charger_id, action, data=data)
        return self._sent(recorded, charger_id, command, action)

    async def _await_answer(self, pk: int, deadline: datetime, charger_id: str, command: ChargerCommand,
                            action: str) -> None:
        """Await the charger's answer to a command and give the CommandResult."""
        try:
            # at the deadline at the latest, however long the CALL waited behind earlier ones
            async with asyncio.timeout(max(0.0, (deadline - utcnow()).total_seconds())):
                answer = await self.control.send(charger_id, command, timeout=self.settings.command_timeout)
            result = CommandResultType(answer.result)
            message = f"the charge point answered {answer.text}"
        except (TimeoutError, ChargerTimedOut):
            result, message = CommandResultType.TIMEOUT, TIMED_OUT
        except ChargerRefused as exc:
            result = CommandResultType.NOT_SUPPORTED if exc.code in ("NotImplemented", "NotSupported") \
                else CommandResultType.FAILED
            message = f"the charge point answered {action} with error {exc.code}" + \
                (f": {exc.description}" if exc.description else "")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection went away, or anything else: the eMSP still gets a result
            log.warning("command %s to charger %s failed: %s", action, charger_id, exc)
            result, message = CommandResultType.FAILED, "the command could not be delivered to the charge point"
        await self._finish(pk, result, message)

    async def _expire(self, command: ReceivedCommand) -> None:
        """A command whose charger's answer was lost with a restart: TIMEOUT at its deadline."""
        await asyncio.sleep(max(0.0, (command.deadline - utcnow()).total_seconds()))
        await self._finish(command.pk, CommandResultType.TIMEOUT, TIMED_OUT)

    async def _finish(self, pk: int, result: CommandResultType, message: str | None) -> bool:
        """Give a waiting command its result (False: it had one already)."""
        async with self.store.begin() as conn:
            command = await self._conclude(conn, pk, result, message)
        if command is None:
            return False
        log.info("command %s (%s) to charger %s: %s", command.command, command.action, command.charger_id,
                 result.value)
        self._published(command)
        return True

    def _published(self, command: ReceivedCommand | None) -> None:
        if command is not None:
            self.bus.publish("command.result", command=command.command, charger_id=command.charger_id,
                             result=command.result, response_url=command.response_url)
        self.bus.publish("outbox.enqueued")

    async def _conclude(self, conn: AsyncConnection, pk: int, result: CommandResultType,
                        message: str | None) -> ReceivedCommand | None:
        """Within `conn`: mark the command done, apply what its result changes, and put the
        CommandResult into the outbox for its response_url."""
        command = await self.store.received_commands.finish(conn, pk, result.value, message)
        if command is None:
            return None
        data = command.data
        if command.command == CommandType.RESERVE_NOW and data.get("reservation_pk") is not None:
            await self.store.reservations.set_status(conn, data["reservation_pk"], result.value)
        elif command.command == CommandType.CANCEL_RESERVATION and result is CommandResultType.ACCEPTED:
            await self.store.reservations.set_status(conn, data["reservation_pk"], "CANCELED")
        elif command.command == CommandType.START_SESSION and result in NO_START and data.get("remote_start_pk"):
            await self.charging.remote_starts.cancel(conn, data["remote_start_pk"])
            if data.get("terminal_payment_pk") and self.terminal_payments is not None:
                await self.terminal_payments.refused(conn, data["terminal_payment_pk"])
        body: dict[str, Any] = {"result": result.value}
        if message:
            body["message"] = _text(message)
        await self.pushes.post_url(conn, command.partner_pk, command.response_url, body, object_key=f"commands:{pk}")
        return command

def _connector_number(evse: dict[str, Any], connector_id: str) -> int:
    """The position (from 1) of a connector in its EVSE: the OCPP 2.x connectorId."""
    for i, connector in enumerate(evse.get("connectors") or [], start=1):
        if same_id(connector["id"], connector_id):
            return i
    raise NotFound(f"connector {connector_id!r} not found at EVSE {evse['uid']!r}", kind="location")
