"""Remote commands we send as the eMSP, for our drivers, to the CPO that runs the charger:
START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR.

A command is recorded (state REQUESTED) before it is sent, with an id of ours that ends its
`response_url`; the CPO's CommandResponse (ACCEPTED, REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION)
becomes the state, and an ACCEPTED command then waits for the CommandResult the CPO POSTs to
that URL (ACCEPTED, EVSE_OCCUPIED, FAILED, ...). When no result arrives within the `timeout` the
CPO gave, the state becomes TIMEOUT (a result that still comes later replaces it: it is the
truth from the charger). When the CPO cannot be reached, or does not answer with a
CommandResponse, the state is FAILED. Every change publishes "remote_command.changed".

A START_SESSION carries an `authorization_reference` (the command's id): the CPO echoes it in the
Session it starts, which links the session to the command.

Locations of our own party when we are also the CPO: START_SESSION and STOP_SESSION go straight
to our own charger (the operator commands of CommandService), with the same record and states;
the other commands are refused there with a clear message (use the operator commands).

Errors (`UnknownTarget`, `CommandRefused`) are ValueErrors with a clear message, and ServiceErrors
(NotFound / Invalid) for the APIs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from evroam.events import Bus
from evroam.model.commands import (
    CancelReservation,
    CommandResult,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from evroam.model.common import format_datetime, utcnow
from evroam.model.partners import Partner
from evroam.model.tokens import Token
from evroam.services.errors import Forbidden, Invalid, NotFound, ServiceError
from evroam.services.objects import same_id, validated
from evroam.services.ports import ChargerTimedOut, PartnerCallFailed, PartnerCalls
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.remote_commands import RemoteCommand

log = logging.getLogger(__name__)

REQUESTED, ACCEPTED, FAILED, TIMEOUT = "REQUESTED", "ACCEPTED", "FAILED", "TIMEOUT"
LOCAL = "(local)"  # the partner name of commands routed to our own chargers


class UnknownTarget(NotFound, ValueError):
    """An unknown location, EVSE, connector, session or command."""


class CommandRefused(Invalid, ValueError):
    """The command cannot be sent (not a CPO partner, no commands endpoint, a session that ended...)."""


def _text(text: str) -> list[dict[str, str]]:
    return [{"language": "en", "text": text[:512]}]


class RemoteCommandService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, partners: PartnerCalls,
                 local: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.partners = partners
        self._local = local  # -> ChargerOperations of this platform (commands at our own chargers)
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._sweeper: asyncio.Task | None = None
        bus.subscribe("session.received", self._on_session)

    # ------------------------------------------------------------------ commands

    async def start_session(self, *, token: dict[str, Any], country_code: str, party_id: str, location_id: str,
                            evse_uid: str | None, connector_id: str | None = None) -> dict[str, Any]:
        token = self._our_token(token)
        loc, evse_uid, connector_id = await self._place(country_code, party_id, location_id, evse_uid, connector_id)
        if self._is_local(country_code, party_id):
            return await self._local_start(token, loc, evse_uid)
        partner = await self._cpo_partner(country_code, party_id)
        cid = _new_id()
        body = StartSession(response_url=self._response_url(CommandType.START_SESSION, cid, partner), token=token,
                            location_id=loc["id"], evse_uid=evse_uid, connector_id=connector_id,
                            authorization_reference=cid).to_dict()
        record = await self._create(cid, CommandType.START_SESSION, partner, country_code, party_id,
                                    location_id=loc["id"], evse_uid=evse_uid, connector_id=connector_id,
                                    token_uid=token["uid"], authorization_reference=cid)
        return await self._send(record, partner, CommandType.START_SESSION, body)

    async def stop_session(self, *, country_code: str, party_id: str, session_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            session = await self.store.sessions.get(conn, country_code, party_id, session_id)
        if session is None:
            raise UnknownTarget(f"session {session_id!r} of {country_code}/{party_id} is unknown", kind="session")
        if session["status"] in ("COMPLETED", "INVALID"):
            raise CommandRefused(f"session {session_id!r} has ended ({session['status']})")
        if self._is_local(country_code, party_id):
            return await self._local_stop(session)
        partner = await self._cpo_partner(country_code, party_id)
        cid = _new_id()
        body = StopSession(response_url=self._response_url(CommandType.STOP_SESSION, cid, partner),
                           session_id=session["id"]).to_dict()
        record = await self._create(cid, CommandType.STOP_SESSION, partner, country_code, party_id,
                                    location_id=session.get("location_id"), evse_uid=session.get("evse_uid"),
                                    connector_id=session.get("connector_id"), session_id=session["id"],
                                    token_uid=session["cdr_token"]["uid"])
        return await self._send(record, partner, CommandType.STOP_SESSION, body)

    async def reserve_now(self, *, token: dict[str, Any], country_code: str, party_id: str, location_id: str,
                          evse_uid: str | None, expiry_date: datetime,
                          reservation_id: str | None = None) -> dict[str, Any]:
        token = self._our_token(token)
        loc, evse_uid, _ = await self._place(country_code, party_id, location_id, evse_uid, None)
        self._not_local(country_code, party_id, "RESERVE_NOW")
        partner = await self._cpo_partner(country_code, party_id)
        cid = _new_id()
        reservation_id = reservation_id or cid
        body = validated(ReserveNow, {
            "response_url": self._response_url(CommandType.RESERVE_NOW, cid, partner), "token": token,
            "expiry_date": format_datetime(expiry_date), "reservation_id": reservation_id,
            "location_id": loc["id"], "evse_uid": evse_uid, "authorization_reference": cid}).to_dict()
        record = await self._create(cid, CommandType.RESERVE_NOW, partner, country_code, party_id,
                                    location_id=loc["id"], evse_uid=evse_uid, reservation_id=reservation_id,
                                    token_uid=token["uid"], authorization_reference=cid)
        return await self._send(record, partner, CommandType.RESERVE_NOW, body)

    async def cancel_reservation(self, *, country_code: str, party_id: str, reservation_id: str) -> dict[str, Any]:
        self._not_local(country_code, party_id, "CANCEL_RESERVATION")
        partner = await self._cpo_partner(country_code, party_id)
        cid = _new_id()
        body = CancelReservation(response_url=self._response_url(CommandType.CANCEL_RESERVATION, cid, partner),
                                 reservation_id=reservation_id).to_dict()
        record = await self._create(cid, CommandType.CANCEL_RESERVATION, partner, country_code, party_id,
                                    reservation_id=reservation_id)
        return await self._send(record, partner, CommandType.CANCEL_RESERVATION, body)

    async def unlock_connector(self, *, country_code: str, party_id: str, location_id: str, evse_uid: str,
                               connector_id: str) -> dict[str, Any]:
        loc, evse_uid, connector_id = await self._place(country_code, party_id, location_id, evse_uid, connector_id)
        self._not_local(country_code, party_id, "UNLOCK_CONNECTOR")
        partner = await self._cpo_partner(country_code, party_id)
        cid = _new_id()
        body = UnlockConnector(response_url=self._response_url(CommandType.UNLOCK_CONNECTOR, cid, partner),
                               location_id=loc["id"], evse_uid=evse_uid, connector_id=connector_id).to_dict()
        record = await self._create(cid, CommandType.UNLOCK_CONNECTOR, partner, country_code, party_id,
                                    location_id=loc["id"], evse_uid=evse_uid, connector_id=connector_id)
        return await self._send(record, partner, CommandType.UNLOCK_CONNECTOR, body)

    # ------------------------------------------------------------------ reading

    async def get(self, command_id: str) -> dict[str, Any] | None:
        async with self.store.connect() as conn:
            record = await self.store.remote_commands.get(conn, command_id)
        if record is None:
            return None
        if record.state == ACCEPTED and record.deadline is not None and record.deadline <= utcnow():
            await self._expire(record)  # also when no sweeper runs in this process (the CLI)
            async with self.store.connect() as conn:
                record = await self.store.remote_commands.get(conn, command_id)
        return record.view()

    async def list(self, *, limit: int = 50, token_uid: str | None = None) -> list[dict[str, Any]]:
        await self.expire_overdue()
        async with self.store.connect() as conn:
            return [r.view() for r in await self.store.remote_commands.list(conn, limit=limit, token_uid=token_uid)]

    # ------------------------------------------------------------------ the CPO's CommandResult

    async def receive_result(self, command: str, command_id: str, partner: Partner, body: Any) -> dict[str, Any]:
        """A CommandResult a CPO POSTed to one of our response_urls. Only the partner the command
        went to may post it."""
        async with self.store.connect() as conn:
            record = await self.store.remote_commands.get(conn, command_id)
        if record is None or record.command != command.upper() or record.partner_pk is None:
            raise UnknownTarget(f"no {command} command {command_id!r} was sent", kind="command")
        if record.partner_pk != partner.pk:
            raise Forbidden(f"command {command_id!r} was not sent to you")
        result = validated(CommandResult, body).to_dict()
        async with self.store.begin() as conn:
            await self.store.remote_commands.update(conn, command_id, state=result["result"], result=result)
        log.info("command %s %s at %s: result %s", command, command_id, partner.name, result["result"])
        self._changed(command_id, result["result"])
        return result

    # ------------------------------------------------------------------ timeouts

    async def expire_overdue(self) -> int:
        """Commands ACCEPTED whose result is overdue become TIMEOUT; how many."""
        async with self.store.connect() as conn:
            overdue = await self.store.remote_commands.overdue(conn, utcnow())
        n = 0
        for record in overdue:
            n += await self._expire(record)
        return n

    async def _expire(self, record: RemoteCommand) -> int:
        async with self.store.begin() as conn:
            changed = await self.store.remote_commands.update(conn, record.id, only_states=(ACCEPTED,),
                                                              state=TIMEOUT)
        if changed:
            log.info("command %s %s: no result by %s: TIMEOUT", record.command, record.id, record.deadline)
            self._changed(record.id, TIMEOUT)
        return int(changed)

    def start(self) -> None:
        """Watch the deadlines of ACCEPTED commands while the server runs (eMSP role)."""
        if self._sweeper is None and "EMSP" in self.settings.roles:
            self._stop.clear()
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="remote-command-timeouts")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._sweeper is not None:
            await self._sweeper
            self._sweeper = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _sweep(self) -> None:
        poll = self.settings.outbox_poll_seconds  # commands sent by other processes (the CLI)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.expire_overdue()
                async with self.store.connect() as conn:
                    nxt = await self.store.remote_commands.next_deadline(conn)
            except Exception:
                log.exception("remote command timeouts: check failed")
                nxt = None
            timeout = poll if nxt is None else max(0.0, min(poll, (nxt - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ sending

    async def _send(self, record: RemoteCommand, partner: Partner, command: CommandType,
                    body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.partners.send_command(partner, command.value, body,
                                                        to_party=(record.country_code, record.party_id))
        except PartnerCallFailed as exc:
            log.warning("command %s %s to %s failed: %s", command.value, record.id, partner.name, exc)
            return await self._answered(record.id, None, FAILED, {"result": FAILED, "message": _text(
                f"the CPO could not be reached or refused the request: {exc}")})
        state = response["result"]
        deadline = None
        if state == ACCEPTED:
            deadline = utcnow() + timedelta(seconds=response["timeout"] or self.settings.command_timeout)
        return await self._answered(record.id, response, state, None, deadline)

    async def _answered(self, command_id: str, response: dict[str, Any] | None, state: str,
                        result: dict[str, Any] | None, deadline: datetime | None = None) -> dict[str, Any]:
        """Record the CommandResponse (or the failure to get one). A CommandResult may have come
        in already (a quick CPO): it keeps the state."""
        async with self.store.begin() as conn:
            values: dict[str, Any] = {"response": response, "deadline": deadline}
            if result is not None:
                values["result"] = result
            if not await self.store.remote_commands.update(conn, command_id, only_states=(REQUESTED,), state=state,
                                                           **values):
                await self.store.remote_commands.update(conn, command_id, response=response)
            record = await self.store.remote_commands.get(conn, command_id)
        self._changed(command_id, record.state)
        if deadline is not None:
            self._wake.set()
        return record.view()

    async def _create(self, cid: str, command: CommandType, partner: Partner | None, cc: str, pid: str,
                      **values: Any) -> RemoteCommand:
        async with self.store.begin() as conn:
            record = await self.store.remote_commands.create(
                conn, id=cid, command=command.value, partner_pk=partner.pk if partner else None,
                partner=partner.name if partner else LOCAL, country_code=cc.upper(), party_id=pid.upper(),
                state=REQUESTED, **values)
        self._changed(cid, REQUESTED)
        return record

    def _changed(self, command_id: str, state: str) -> None:
        self.bus.publish("remote_command.changed", command_id=command_id, state=state)

    def _response_url(self, command: CommandType, command_id: str, partner: Partner) -> str:
        return self.partners.results_url("commands", command.value, command_id, partner=partner)

    # ------------------------------------------------------------------ checks

    def _our_token(self, token: Any) -> dict[str, Any]:
        try:
            data = validated(Token, token, where="token").to_dict()
        except Invalid as exc:
            raise CommandRefused(exc.message) from None
        ours = (self.settings.country_code, self.settings.party_id)
        if (data["country_code"].upper(), data["party_id"].upper()) != ours:
            raise CommandRefused(f"token {data['uid']!r} belongs to {data['country_code']}/{data['party_id']}, "
                                 f"not to us ({ours[0]}/{ours[1]}): we send commands for our own drivers only")
        if not data.get("valid", True):
            raise CommandRefused(f"token {data['uid']!r} is not valid")
        return data

    async def _cpo_partner(self, cc: str, pid: str) -> Partner:
        async with self.store.connect() as conn:
            partners = await self.store.partners.registered(conn)
        for partner in partners:
            if partner.owns(cc, pid, "CPO"):
                if not self.partners.takes_commands(partner):
                    raise CommandRefused(f"CPO partner {partner.name} ({cc}/{pid}) offers no commands endpoint")
                return partner
        raise CommandRefused(f"{cc}/{pid} is not a registered CPO partner (see `evroam partners list`)")

    async def _place(self, cc: str, pid: str, location_id: str, evse_uid: str | None,
                     connector_id: str | None) -> tuple[dict[str, Any], str | None, str | None]:
        """The location we hold from that CPO, and the EVSE uid and connector id as it spells them."""
        async with self.store.connect() as conn:
            loc = await self.store.locations.get(conn, cc, pid, location_id)
        if loc is None:
            raise UnknownTarget(f"location {location_id!r} of {cc}/{pid} is unknown", kind="location")
        if evse_uid is None:
            if connector_id is not None:
                raise CommandRefused("a connector needs its EVSE: give evse_uid too")
            return loc, None, None
        evse = next((e for e in loc.get("evses") or [] if same_id(e["uid"], evse_uid)), None)
        if evse is None or evse.get("status") == "REMOVED":
            raise UnknownTarget(f"EVSE {evse_uid!r} is not at location {location_id!r}", kind="evse")
        if connector_id is None:
            return loc, evse["uid"], None
        connector = next((c for c in evse.get("connectors") or [] if same_id(c["id"], connector_id)), None)
        if connector is None:
            raise UnknownTarget(f"connector {connector_id!r} is not at EVSE {evse_uid!r}", kind="connector")
        return loc, evse["uid"], connector["id"]

    # ------------------------------------------------------------------ our own chargers

    def _is_local(self, cc: str, pid: str) -> bool:
        s = self.settings
        return "CPO" in s.roles and (cc.upper(), pid.upper()) == (s.country_code, s.party_id)

    def _not_local(self, cc: str, pid: str, command: str) -> None:
        if self._is_local(cc, pid):
            raise CommandRefused(f"{cc}/{pid} is our own party: {command} at our own chargers is an operator command "
                                 "(`evroam chargers ...` or the admin API), not a roaming one")

    async def _local_start(self, token: dict[str, Any], loc: dict[str, Any], evse_uid: str | None) -> dict[str, Any]:
        if evse_uid is None:
            raise CommandRefused("at our own chargers, give the EVSE (evse_uid)")
        async with self.store.connect() as conn:
            chargers = await self.store.chargers.list(conn)
        place = next(((c.id, n) for c in chargers if c.location_id and same_id(c.location_id, loc["id"])
                      for n, uid in c.evses.items() if same_id(uid, evse_uid)), None)
        cid = _new_id()
        record = await self._create(cid, CommandType.START_SESSION, None, loc["country_code"], loc["party_id"],
                                    location_id=loc["id"], evse_uid=evse_uid, token_uid=token["uid"])
        if place is None:
            return await self._answered(cid, {"result": "REJECTED", "timeout": 0, "message": _text(
                "no charger holds this EVSE")}, "REJECTED", None)
        charger_id, number = place
        local = self._local()
        return await self._local_run(record, lambda: local.start(charger_id, evse_number=number, uid=token["uid"]))

    async def _local_stop(self, session: dict[str, Any]) -> dict[str, Any]:
        cid = _new_id()
        record = await self._create(cid, CommandType.STOP_SESSION, None, session["country_code"],
                                    session["party_id"], location_id=session.get("location_id"),
                                    evse_uid=session.get("evse_uid"), session_id=session["id"],
                                    token_uid=session["cdr_token"]["uid"])
        local = self._local()
        return await self._local_run(record, lambda: local.stop(None, session_id=session["id"]))

    async def _local_run(self, record: RemoteCommand, call: Callable[[], Any]) -> dict[str, Any]:
        """Hand the command to our own charger; the charger's answer becomes the result."""
        timeout = self.settings.command_timeout
        view = await self._answered(record.id, {"result": ACCEPTED, "timeout": timeout}, ACCEPTED, None,
                                    utcnow() + timedelta(seconds=timeout + 5))

        async def run() -> None:
            try:
                answer = (await call())["answer"]
                ok = str(answer.get("status", "")).lower() == "accepted"
                result = {"result": ACCEPTED if ok else "REJECTED",
                          "message": _text(f"the charge point answered {answer.get('status')}")}
            except ServiceError as exc:
                kind = TIMEOUT if isinstance(exc, ChargerTimedOut) else FAILED
                result = {"result": kind, "message": _text(exc.message)}
            except Exception as exc:  # the record must not stay open
                log.exception("local command %s failed", record.id)
                result = {"result": FAILED, "message": _text(str(exc))}
            async with self.store.begin() as conn:
                await self.store.remote_commands.update(conn, record.id, state=result["result"], result=result)
            self._changed(record.id, result["result"])

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return view

    async def drain(self) -> None:
        """Wait for commands handed to our own chargers (tests, CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ sessions started by a command

    async def _on_session(self, event) -> None:
        reference = event.data.get("authorization_reference")
        if not reference:
            return
        async with self.store.connect() as conn:  # most session updates find nothing to link
            record = await self.store.remote_commands.by_authorization_reference(
                conn, event.data["country_code"], event.data["party_id"], reference)
        if record is None or record.session_id is not None or record.command != CommandType.START_SESSION.value:
            return
        async with self.store.begin() as conn:
            await self.store.remote_commands.update(conn, record.id, session_id=event.data["session_id"])
        self._changed(record.id, record.state)


def _new_id() -> str:
    return uuid.uuid4().hex
