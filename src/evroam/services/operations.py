"""Operators' commands to chargers (reset, availability, trigger message, configuration, cache,
local lists, start, stop, unlock): sent to the charger wherever its connection is, and its
answer returned. Used by the admin API, the CLI (through the admin API) and the driver API's
starts at our own chargers."""

from __future__ import annotations

import secrets
from typing import Any

from evroam.services.charging import ACTIVE, ChargingService
from evroam.services.errors import Invalid, NotFound
from evroam.services.ports import CannotSay, ChargerCommand, ChargerControl, ChargerOffline, ChargerTimedOut
from evroam.settings import Settings
from evroam.store import Store


class ChargerOperations:
    def __init__(self, store: Store, settings: Settings, charging: ChargingService, control: ChargerControl) -> None:
        self.store = store
        self.settings = settings
        self.charging = charging
        self.control = control

    async def operate(self, charger_id: str, command: ChargerCommand) -> dict[str, Any]:
        """Send `command` to a connected charger and return its answer. Raises ChargerOffline,
        ChargerTimedOut, ChargerRefused, or Invalid (the command cannot be said in the charger's
        OCPP version)."""
        try:
            answer = await self.control.send(charger_id, command, timeout=self.settings.command_timeout)
        except CannotSay as exc:
            raise Invalid(exc.message) from None
        return {"charger_id": charger_id, "ocpp_version": answer.ocpp_version, "action": answer.action,
                "answer": answer.data}

    async def reset(self, charger_id: str, *, hard: bool = False) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("reset", {"hard": hard}))

    async def availability(self, charger_id: str, *, evse_number: int, operative: bool) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("change_availability", {
            "evse_number": evse_number, "operative": operative}))

    async def trigger(self, charger_id: str, message: str, *, evse_number: int | None = None) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("trigger_message", {
            "message": message, "evse_number": evse_number}))

    async def get_config(self, charger_id: str, keys: list[str]) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("get_configuration", {"keys": keys}))

    async def set_config(self, charger_id: str, key: str, value: str) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("set_configuration", {"key": key, "value": value}))

    async def clear_cache(self, charger_id: str) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("clear_cache"))

    async def local_list_version(self, charger_id: str) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("local_list_version"))

    async def send_local_list(self, charger_id: str, uids: list[str], *, list_version: int | None = None,
                              full: bool = True) -> dict[str, Any]:
        """Send a local authorisation list (`uids`, all Accepted; empty with `full`: clear it). The
        list version is the charger's current one plus one unless given."""
        if list_version is None:
            current = (await self.local_list_version(charger_id))["answer"]
            list_version = max(0, int(current.get("list_version", current.get("version_number", 0)))) + 1
        return await self.operate(charger_id, ChargerCommand("send_local_list", {
            "list_version": list_version, "uids": uids, "full": full}))

    async def start(self, charger_id: str, *, evse_number: int, uid: str, token: dict[str, Any] | None = None,
                    authorization_reference: str | None = None) -> dict[str, Any]:
        """A remote start for a token: an operator's (one the platform knows, or taken as ours), or
        a driver paying ad hoc (`token` and the payment's `authorization_reference` given). The
        answer carries `remote_start_pk`, the expectation the transaction will be matched with."""
        if token is None:
            async with self.store.connect() as conn:
                found = await self.store.tokens.find(conn, uid)
            token = found[0] if found else {"country_code": self.settings.country_code,
                                            "party_id": self.settings.party_id, "uid": uid, "type": "RFID",
                                            "contract_id": uid}
        if not self.control.is_connected(charger_id):
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        remote_start_id = secrets.randbelow(2**31 - 1) + 1
        expected = await self.charging.expect_remote_start(charger_id, id_tag=uid, token=token,
                                                           authorization_reference=authorization_reference,
                                                           remote_start_id=remote_start_id, evse_number=evse_number)
        try:
            reply = await self.operate(charger_id, ChargerCommand("remote_start", {
                "uid": uid, "token_type": token.get("type"), "evse_number": evse_number,
                "remote_start_id": remote_start_id}))
        except ChargerTimedOut:
            raise  # the charger may still start: the expectation stays
        except Exception:
            await self._no_start(expected.pk)
            raise
        if reply["answer"].get("status") != "Accepted":
            await self._no_start(expected.pk)
        return {**reply, "remote_start_pk": expected.pk}

    async def forget_start(self, remote_start_pk: int) -> None:
        """A start that must no longer be matched with a transaction (its payment was released)."""
        await self._no_start(remote_start_pk)

    async def _no_start(self, remote_start_pk: int) -> None:
        async with self.store.begin() as conn:
            await self.charging.remote_starts.cancel(conn, remote_start_pk)

    async def stop(self, charger_id: str | None, *, session_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        if tx is None or (charger_id and tx.charger_id != charger_id):
            raise NotFound(f"session {session_id!r} not found" + (f" at charger {charger_id!r}" if charger_id else ""),
                           kind="session")
        if tx.status != ACTIVE:
            raise Invalid(f"session {session_id!r} has ended")
        return await self.operate(tx.charger_id, ChargerCommand("remote_stop", {"transaction_id": tx.transaction_id}))

    async def unlock(self, charger_id: str, *, evse_number: int, connector_number: int = 1) -> dict[str, Any]:
        return await self.operate(charger_id, ChargerCommand("unlock_connector", {
            "evse_number": evse_number, "connector_number": connector_number}))
