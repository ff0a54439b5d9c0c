"""Remote commands: OCPI commands from eMSPs (START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION, UNLOCK_CONNECTOR) and the operators' commands (reset, availability, trigger
message, configuration, cache, local lists, start, stop, unlock), sent to the charger that holds
the EVSE.

An OCPI command gets its CommandResponse at once: ACCEPTED when the charger is connected and the
request makes sense, REJECTED / UNKNOWN_SESSION otherwise (an unknown location is an error,
OCPI 2003). The charger's answer then becomes the CommandResult, POSTed durably (outbox) to the
command's `response_url` by a task that awaits that answer; no answer within
`command_timeout` seconds gives TIMEOUT.

Operator commands wait for the charger's answer and return it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from ocpp.exceptions import OCPPError

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
from evroam.ocpi.outbox import Pushes
from evroam.ocpp import commands as ocpp_commands
from evroam.ocpp.commands import Unsupported
from evroam.services.charging import ChargingService
from evroam.services.errors import Forbidden, Invalid, NotFound, ServiceError
from evroam.services.locations import LocationService
from evroam.services.objects import same_id
from evroam.settings import Settings
from evroam.store import Store

log = logging.getLogger(__name__)

CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"


class ChargerOffline(ServiceError):
    """The charger has no open OCPP connection."""


class ChargerTimedOut(ServiceError):
    """The charger did not answer within `command_timeout`."""


class ChargerRefused(ServiceError):
    """The charger answered with a CALLERROR."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _text(text: str) -> list[dict[str, str]]:
    return [{"language": "en", "text": text[:512]}]


class CommandService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: Pushes, charging: ChargingService,
                 locations: LocationService, gateway: Callable[[], Any]) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes
        self.charging = charging
        self.locations = locations
        self._gateway = gateway
        self._tasks: set[asyncio.Task] = set()

    @property
    def gateway(self):
        return self._gateway()

    async def close(self) -> None:
        """Stop waiting for chargers' answers (at shutdown)."""
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

    @staticmethod
    def _require_token_owner(partner: Partner, token: dict[str, Any]) -> None:
        cc, pid = token.get("country_code", ""), token.get("party_id", "")
        if not partner.owns(cc, pid, "EMSP"):
            mine = ", ".join(f"{c}/{p}" for c, p in partner.parties("EMSP")) or "none"
            raise Forbidden(f"token: {cc}/{pid} is not one of your eMSP parties (yours: {mine})")

    async def _start_session(self, request: StartSession, partner: Partner) -> dict[str, Any]:
        token = request.token.to_dict()
        self._require_token_owner(partner, token)
        loc = await self.locations.get_own(request.location_id)
        if request.evse_uid is None:
            place = await self._free_evse(loc)
            if place is None:
                return self.response(CommandResponseType.REJECTED, "no available EVSE at this location: give evse_uid")
            evse, charger_id, evse_number = place
        else:
            evse, charger_id, evse_number = await self._evse(loc, request.evse_uid)
            if charger_id is None:
                return self.response(CommandResponseType.REJECTED, "this EVSE cannot be started remotely")
        if request.connector_id is not None:
            _connector_number(evse, request.connector_id)  # it must exist
        elif CONNECTOR_REQUIRED in (evse.get("capabilities") or []):
            return self.response(CommandResponseType.REJECTED, "connector_id is required for this EVSE")
        version = self.gateway.version(charger_id)
        if version is None:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        remote_start_id = secrets.randbelow(2**31 - 1) + 1
        try:
            payload = ocpp_commands.remote_start(version, uid=token["uid"], token_type=token.get("type"),
                                                 evse_number=evse_number, remote_start_id=remote_start_id)
        except Unsupported as exc:
            return self.response(CommandResponseType.REJECTED, str(exc))
        self.charging.expect_remote_start(charger_id, id_tag=token["uid"], token=token,
                                          authorization_reference=request.authorization_reference,
                                          remote_start_id=remote_start_id, evse_number=evse_number)
        self._spawn(self._complete(partner.pk, request.response_url, charger_id, payload, "START_SESSION"))
        return self.response(CommandResponseType.ACCEPTED)

    async def _stop_session(self, request: StopSession, partner: Partner) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, request.session_id)
        emsp = (tx.state.get("emsp") or ["", ""]) if tx is not None else ["", ""]
        if tx is None or not partner.owns(emsp[0], emsp[1], "EMSP"):
            return self.response(CommandResponseType.UNKNOWN_SESSION, f"unknown session {request.session_id!r}")
        if tx.status != "ACTIVE":
            return self.response(CommandResponseType.REJECTED, "the session has ended")
        version = self.gateway.version(tx.charger_id)
        if version is None:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        try:
            payload = ocpp_commands.remote_stop(version, tx.transaction_id)
        except Unsupported as exc:
            return self.response(CommandResponseType.REJECTED, str(exc))
        self._spawn(self._complete(partner.pk, request.response_url, tx.charger_id, payload, "STOP_SESSION"))
        return self.response(CommandResponseType.ACCEPTED)

    async def _reserve_now(self, request: ReserveNow, partner: Partner) -> dict[str, Any]:
        token = request.token.to_dict()
        self._require_token_owner(partner, token)
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
            return self.response(CommandResponseType.REJECTED, "this EVSE cannot be reserved remotely")
        if request.expiry_date <= utcnow():
            return self.response(CommandResponseType.REJECTED, "expiry_date has passed")
        version = self.gateway.version(charger_id)
        if version is None:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        async with self.store.begin() as conn:
            reservation = await self.store.reservations.put(
                conn, country_code=token["country_code"], party_id=token["party_id"],
                reservation_id=request.reservation_id, partner_pk=partner.pk, charger_id=charger_id,
                evse_number=evse_number, expiry_date=request.expiry_date,
                data={"token": token, "location_id": loc["id"], "evse_uid": request.evse_uid,
                      "authorization_reference": request.authorization_reference})
        try:
            payload = ocpp_commands.reserve_now(version, reservation_id=reservation.pk,
                                                expiry_date=format_datetime(request.expiry_date), uid=token["uid"],
                                                token_type=token.get("type"), evse_number=evse_number)
        except Unsupported as exc:
            return self.response(CommandResponseType.REJECTED, str(exc))

        async def answered(result: CommandResultType) -> None:
            async with self.store.begin() as conn:
                await self.store.reservations.set_status(conn, reservation.pk, result.value)

        self._spawn(self._complete(partner.pk, request.response_url, charger_id, payload, "RESERVE_NOW",
                                   answered=answered))
        return self.response(CommandResponseType.ACCEPTED)

    async def _cancel_reservation(self, request: CancelReservation, partner: Partner) -> dict[str, Any]:
        reservation = None
        async with self.store.connect() as conn:
            for cc, pid in partner.parties("EMSP"):
                reservation = await self.store.reservations.find(conn, cc, pid, request.reservation_id)
                if reservation is not None:
                    break
        if reservation is None or reservation.status in ("CANCELED", "REJECTED"):
            self._spawn(self._post_result(partner.pk, request.response_url, CommandResultType.UNKNOWN_RESERVATION,
                                          f"unknown reservation {request.reservation_id!r}"))
            return self.response(CommandResponseType.ACCEPTED)
        version = self.gateway.version(reservation.charger_id)
        if version is None:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        payload = ocpp_commands.cancel_reservation(version, reservation.pk)

        async def answered(result: CommandResultType) -> None:
            if result is CommandResultType.ACCEPTED:
                async with self.store.begin() as conn:
                    await self.store.reservations.set_status(conn, reservation.pk, "CANCELED")

        self._spawn(self._complete(partner.pk, request.response_url, reservation.charger_id, payload,
                                   "CANCEL_RESERVATION", answered=answered))
        return self.response(CommandResponseType.ACCEPTED)

    async def _unlock_connector(self, request: UnlockConnector, partner: Partner) -> dict[str, Any]:
        loc = await self.locations.get_own(request.location_id)
        evse, charger_id, evse_number = await self._evse(loc, request.evse_uid)
        connector_number = _connector_number(evse, request.connector_id)
        if charger_id is None:
            return self.response(CommandResponseType.REJECTED, "this EVSE cannot be unlocked remotely")
        version = self.gateway.version(charger_id)
        if version is None:
            return self.response(CommandResponseType.REJECTED, "the charge point is offline")
        payload = ocpp_commands.unlock_connector(version, evse_number=evse_number, connector_number=connector_number)
        self._spawn(self._complete(partner.pk, request.response_url, charger_id, payload, "UNLOCK_CONNECTOR"))
        return self.response(CommandResponseType.ACCEPTED)

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
            if not self.gateway.is_connected(charger.id):
                continue
            for number, uid in sorted(charger.evses.items()):
                evse = evses.get(uid.casefold())
                if evse is not None and CONNECTOR_REQUIRED not in (evse.get("capabilities") or []):
                    return evse, charger.id, number
        return None

    # ------------------------------------------------------------------ the asynchronous result

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, partner_pk: int, response_url: str, charger_id: str, payload: Any, command: str, *,
                        answered: Callable[[CommandResultType], Any] | None = None) -> None:
        """Await the charger's answer to a command's CALL and post the CommandResult."""
        message = None
        try:
            answer = await self.gateway.call(charger_id, payload, timeout=self.settings.command_timeout)
            result = ocpp_commands.command_result(answer)
            message = f"the charge point answered {ocpp_commands.answer_status(answer)}"
        except TimeoutError:
            result, message = CommandResultType.TIMEOUT, "the charge point did not answer in time"
        except OCPPError as exc:
            result = CommandResultType.NOT_SUPPORTED if exc.code in ("NotImplemented", "NotSupported") \
                else CommandResultType.FAILED
            message = f"the charge point answered with error {exc.code}: {exc.description}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection went away, or anything else: the eMSP still gets a result
            log.warning("command %s to charger %s failed: %s", command, charger_id, exc)
            result, message = CommandResultType.FAILED, "the command could not be delivered to the charge point"
        if answered is not None:
            try:
                await answered(result)
            except Exception:
                log.exception("command %s to charger %s: recording the answer failed", command, charger_id)
        log.info("command %s to charger %s: %s", command, charger_id, result.value)
        await self._post_result(partner_pk, response_url, result, message, command=command, charger_id=charger_id)

    async def _post_result(self, partner_pk: int, response_url: str, result: CommandResultType,
                           message: str | None, *, command: str | None = None, charger_id: str | None = None) -> None:
        body: dict[str, Any] = {"result": result.value}
        if message:
            body["message"] = _text(message)
        async with self.store.begin() as conn:
            await self.pushes.post_url(conn, partner_pk, response_url, body)
        self.bus.publish("command.result", command=command, charger_id=charger_id, result=result.value,
                         response_url=response_url)
        self.bus.publish("outbox.enqueued")

    # ------------------------------------------------------------------ operator commands

    async def operate(self, charger_id: str, build: Callable[[str], Any]) -> dict[str, Any]:
        """Send the CALL `build(version)` to a connected charger and return its answer."""
        from evroam.ocpp.gateway import ChargerNotConnected

        version = self.gateway.version(charger_id)
        if version is None:
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        try:
            payload = build(version)
        except Unsupported as exc:
            raise Invalid(str(exc)) from None
        try:
            answer = await self.gateway.call(charger_id, payload, timeout=self.settings.command_timeout)
        except TimeoutError:
            raise ChargerTimedOut(f"charger {charger_id!r} did not answer within {self.settings.command_timeout}s") \
                from None
        except OCPPError as exc:
            raise ChargerRefused(f"charger {charger_id!r} answered {exc.code}: {exc.description}", exc.code) from None
        except ChargerNotConnected as exc:
            raise ChargerOffline(str(exc)) from None
        return {"charger_id": charger_id, "ocpp_version": version, "action": type(payload).__name__,
                "answer": ocpp_commands.answer_dict(answer)}

    async def reset(self, charger_id: str, *, hard: bool = False) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.reset(v, hard=hard))

    async def availability(self, charger_id: str, *, evse_number: int, operative: bool) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.change_availability(
            v, evse_number=evse_number, operative=operative))

    async def trigger(self, charger_id: str, message: str, *, evse_number: int | None = None) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.trigger_message(v, message,
                                                                                     evse_number=evse_number))

    async def get_config(self, charger_id: str, keys: list[str]) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.get_configuration(v, keys))

    async def set_config(self, charger_id: str, key: str, value: str) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.set_configuration(v, key, value))

    async def clear_cache(self, charger_id: str) -> dict[str, Any]:
        return await self.operate(charger_id, ocpp_commands.clear_cache)

    async def local_list_version(self, charger_id: str) -> dict[str, Any]:
        return await self.operate(charger_id, ocpp_commands.local_list_version)

    async def send_local_list(self, charger_id: str, uids: list[str], *, list_version: int | None = None,
                              full: bool = True) -> dict[str, Any]:
        """Send a local authorisation list (`uids`, all Accepted; empty with `full`: clear it). The
        list version is the charger's current one plus one unless given."""
        if list_version is None:
            current = (await self.local_list_version(charger_id))["answer"]
            list_version = max(0, int(current.get("list_version", current.get("version_number", 0)))) + 1
        return await self.operate(charger_id, lambda v: ocpp_commands.send_local_list(
            v, list_version=list_version, uids=uids, full=full))

    async def start(self, charger_id: str, *, evse_number: int, uid: str) -> dict[str, Any]:
        """An operator's remote start for a token (one the platform knows, or taken as ours)."""
        async with self.store.connect() as conn:
            found = await self.store.tokens.find(conn, uid)
        token = found[0] if found else {"country_code": self.settings.country_code,
                                        "party_id": self.settings.party_id, "uid": uid, "type": "RFID",
                                        "contract_id": uid}
        remote_start_id = secrets.randbelow(2**31 - 1) + 1
        self.charging.expect_remote_start(charger_id, id_tag=uid, token=token, remote_start_id=remote_start_id,
                                          evse_number=evse_number)
        return await self.operate(charger_id, lambda v: ocpp_commands.remote_start(
            v, uid=uid, token_type=token.get("type"), evse_number=evse_number, remote_start_id=remote_start_id))

    async def stop(self, charger_id: str | None, *, session_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        if tx is None or (charger_id and tx.charger_id != charger_id):
            raise NotFound(f"session {session_id!r} not found" + (f" at charger {charger_id!r}" if charger_id else ""),
                           kind="session")
        if tx.status != "ACTIVE":
            raise Invalid(f"session {session_id!r} has ended")
        return await self.operate(tx.charger_id, lambda v: ocpp_commands.remote_stop(v, tx.transaction_id))

    async def unlock(self, charger_id: str, *, evse_number: int, connector_number: int = 1) -> dict[str, Any]:
        return await self.operate(charger_id, lambda v: ocpp_commands.unlock_connector(
            v, evse_number=evse_number, connector_number=connector_number))


def _connector_number(evse: dict[str, Any], connector_id: str) -> int:
    """The position (from 1) of a connector in its EVSE: the OCPP 2.x connectorId."""
    for i, connector in enumerate(evse.get("connectors") or [], start=1):
        if same_id(connector["id"], connector_id):
            return i
    raise NotFound(f"connector {connector_id!r} not found at EVSE {evse['uid']!r}", kind="location")
