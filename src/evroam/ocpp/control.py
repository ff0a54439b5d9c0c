"""The charger control the services use (`services.ports.ChargerControl`), over OCPP.

A command names what to do (`ChargerCommand("reset", {"hard": True})`); here it becomes the
CALL of the charger's OCPP version (builders in `commands.py` and `charging_profiles.py`) and
the CALLRESULT is read back in version-neutral terms. The charger's connection may be on this
node or on another node of the platform: then the command travels there (the cluster's calls
between nodes) and the answer, or the error, comes back the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OCPPError

from evroam.cluster import Cluster, NodeUnreachable, RemoteError
from evroam.ocpp import charging_profiles as profiles
from evroam.ocpp import commands
from evroam.services.ports import (
    CannotSay,
    ChargerAnswer,
    ChargerCommand,
    ChargerOffline,
    ChargerRefused,
    ChargerTimedOut,
)

if TYPE_CHECKING:
    from evroam.ocpp.gateway import Gateway

log = logging.getLogger(__name__)

#: command name -> builder `(version, **args) -> CALL of that version`
BUILDERS: dict[str, Callable[..., Any]] = {
    "remote_start": commands.remote_start,
    "remote_stop": commands.remote_stop,
    "reserve_now": commands.reserve_now,
    "cancel_reservation": commands.cancel_reservation,
    "unlock_connector": commands.unlock_connector,
    "reset": commands.reset,
    "change_availability": commands.change_availability,
    "trigger_message": commands.trigger_message,
    "get_configuration": commands.get_configuration,
    "set_configuration": commands.set_configuration,
    "clear_cache": commands.clear_cache,
    "local_list_version": commands.local_list_version,
    "send_local_list": commands.send_local_list,
    "set_tx_profile": profiles.set_tx_profile,
    "set_max_profile": profiles.set_max_profile,
    "set_default_profile": profiles.set_default_profile,
    "clear_tx_profile": profiles.clear_tx_profile,
    "clear_max_profile": profiles.clear_max_profile,
    "clear_default_profile": profiles.clear_default_profile,
    "composite_schedule": profiles.composite_schedule,
}
#: command name -> what its answer says, read (for queries)
READERS: dict[str, Callable[[Any], dict[str, Any] | None]] = {
    "composite_schedule": profiles.active_profile,
}
#: answer statuses counted as themselves in /metrics (anything else a charger says is "other")
STATUSES = frozenset({"Accepted", "Rejected", "Occupied", "Faulted", "Unavailable", "Unlocked", "UnlockFailed",
                      "NotSupported", "Scheduled", "RebootRequired", "Unknown", "Failed", "VersionMismatch"})
SEND = "charger.send"  # the call another node serves for a charger it holds
MARGIN_SECONDS = 2.0  # a command sent through another node gets this much longer


class OcppChargerControl:
    def __init__(self, gateway: Callable[[], Gateway | None], cluster: Cluster,
                 observe: Callable[[str, str, float], None] | None = None) -> None:
        self._gateway = gateway
        self.cluster = cluster
        self.observe = observe  # (command, outcome, seconds) of each command sent, for /metrics
        cluster.serve(SEND, self._serve)

    def _here(self, charger_id: str) -> Gateway | None:
        gateway = self._gateway()
        return gateway if gateway is not None and gateway.is_connected(charger_id) else None

    def version(self, charger_id: str) -> str | None:
        here = self._here(charger_id)
        if here is not None:
            return here.version(charger_id)
        held = self.cluster.holder(charger_id)
        return held.version if held is not None else None

    def is_connected(self, charger_id: str) -> bool:
        return self.version(charger_id) is not None

    def connected(self) -> dict[str, str]:
        """{charger id: OCPP version} of every connected charger, on every node."""
        found = {cid: held.version for cid, held in self.cluster.held_elsewhere().items()}
        gateway = self._gateway()
        if gateway is not None:
            found.update(gateway.connected())
        return found

    def action(self, charger_id: str, command: ChargerCommand) -> str:
        version = self.version(charger_id)
        if version is None:
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        return type(_build(version, command)).__name__

    async def send(self, charger_id: str, command: ChargerCommand, *, timeout: float) -> ChargerAnswer:  # noqa: ASYNC109
        started, outcome = time.perf_counter(), "error"
        try:
            answer = await self._send(charger_id, command, timeout)
            outcome = answer.status if answer.status in STATUSES else "other"
            return answer
        except ChargerOffline:
            outcome = "offline"
            raise
        except ChargerTimedOut:
            outcome = "timeout"
            raise
        except ChargerRefused:
            outcome = "callerror"
            raise
        finally:
            if self.observe is not None:
                self.observe(command.name, outcome, time.perf_counter() - started)

    async def _send(self, charger_id: str, command: ChargerCommand, timeout: float) -> ChargerAnswer:  # noqa: ASYNC109
        here = self._here(charger_id)
        if here is not None:
            return await self._send_here(here, charger_id, command, timeout)
        held = self.cluster.holder(charger_id)
        if held is None:
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        _build(held.version, command)  # a command that cannot be said fails here, before travelling
        try:
            result = await self.cluster.call(held.node, SEND, {"charger_id": charger_id, "name": command.name,
                                                              "args": command.args, "timeout": timeout},
                                             timeout=timeout + MARGIN_SECONDS)
        except NodeUnreachable as exc:
            raise ChargerOffline(f"charger {charger_id!r} is connected to node {held.node}, which cannot be "
                                 f"reached: {exc}") from None
        except TimeoutError:
            raise ChargerTimedOut(f"charger {charger_id!r} (on node {held.node}) did not answer within "
                                  f"{timeout:g}s") from None
        except RemoteError as exc:
            raise _error_of(exc) from None
        return ChargerAnswer(**result)

    async def _send_here(self, gateway: Gateway, charger_id: str, command: ChargerCommand,
                         timeout: float) -> ChargerAnswer:  # noqa: ASYNC109
        from evroam.ocpp.gateway import ChargerNotConnected

        version = gateway.version(charger_id)
        if version is None:
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        payload = _build(version, command)
        try:
            answer = await gateway.call(charger_id, payload, timeout=timeout)
        except ChargerNotConnected as exc:
            raise ChargerOffline(str(exc)) from None
        except TimeoutError:
            raise ChargerTimedOut(f"charger {charger_id!r} did not answer within {timeout:g}s") from None
        except OCPPError as exc:
            raise ChargerRefused(f"charger {charger_id!r} answered {exc.code}: {exc.description}", exc.code,
                                 exc.description or "") from None
        reader = READERS.get(command.name)
        return ChargerAnswer(
            action=type(payload).__name__, ocpp_version=version, status=commands.answer_status(answer),
            text=commands.answer_text(answer), result=commands.command_result(answer).value,
            data=commands.answer_dict(answer), reading=reader(answer) if reader is not None else None,
        )

    async def _serve(self, args: dict[str, Any]) -> dict[str, Any]:
        """Another node sends a command to a charger connected here."""
        charger_id = str(args.get("charger_id"))
        here = self._here(charger_id)
        if here is None:
            raise RemoteError("offline", f"charger {charger_id!r} is not connected to this node any more")
        command = ChargerCommand(str(args.get("name")), dict(args.get("args") or {}))
        try:
            answer = await self._send_here(here, charger_id, command, float(args.get("timeout") or 30))
        except ChargerOffline as exc:
            raise RemoteError("offline", exc.message) from None
        except ChargerTimedOut as exc:
            raise RemoteError("timeout", exc.message) from None
        except ChargerRefused as exc:
            raise RemoteError("refused", exc.message, {"code": exc.code, "description": exc.description}) from None
        except CannotSay as exc:
            raise RemoteError("cannot_say", exc.message) from None
        return {"action": answer.action, "ocpp_version": answer.ocpp_version, "status": answer.status,
                "text": answer.text, "result": answer.result, "data": answer.data, "reading": answer.reading}


def _build(version: str, command: ChargerCommand) -> Any:
    builder = BUILDERS.get(command.name)
    if builder is None:
        raise CannotSay(f"unknown charger command {command.name!r}")
    try:
        return builder(version, **command.args)
    except (commands.Unsupported, profiles.Unsupported) as exc:
        raise CannotSay(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise CannotSay(f"{command.name}: {exc}") from None


def _error_of(exc: RemoteError) -> Exception:
    if exc.kind == "offline":
        return ChargerOffline(exc.message)
    if exc.kind == "timeout":
        return ChargerTimedOut(exc.message)
    if exc.kind == "refused":
        return ChargerRefused(exc.message, str(exc.data.get("code") or "GenericError"),
                              str(exc.data.get("description") or ""))
    if exc.kind == "cannot_say":
        return CannotSay(exc.message)
    return ChargerOffline(f"the node holding the charger failed: {exc.message}")
