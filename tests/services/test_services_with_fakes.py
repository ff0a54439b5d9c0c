"""Services depend only on the ports they define: here they run against in-memory fakes of
ChargerControl and PartnerCalls (no OCPP gateway, no HTTP), on a real store."""

from __future__ import annotations

from typing import Any

import pytest

from evroam.events import Bus
from evroam.services.authorization import AuthorizationService
from evroam.services.charging import ChargingService
from evroam.services.errors import Invalid
from evroam.services.operations import ChargerOperations
from evroam.services.ports import (
    CannotSay,
    ChargerAnswer,
    ChargerCommand,
    ChargerOffline,
    PartnerCallFailed,
)
from evroam.settings import Settings
from evroam.store import Store


class FakeChargers:
    """ChargerControl in memory: connected chargers answer every command with `status`."""

    def __init__(self, connected: dict[str, str]) -> None:
        self.connected = connected
        self.sent: list[tuple[str, ChargerCommand]] = []
        self.status = "Accepted"

    def version(self, charger_id: str) -> str | None:
        return self.connected.get(charger_id)

    def is_connected(self, charger_id: str) -> bool:
        return charger_id in self.connected

    def action(self, charger_id: str, command: ChargerCommand) -> str:
        if charger_id not in self.connected:
            raise ChargerOffline(f"charger {charger_id!r} is not connected")
        if command.name == "trigger_message" and command.args["message"] == "Nonsense":
            raise CannotSay("cannot trigger 'Nonsense'")
        return "".join(p.title() for p in command.name.split("_"))

    async def send(self, charger_id: str, command: ChargerCommand, *, timeout: float) -> ChargerAnswer:  # noqa: ASYNC109
        action = self.action(charger_id, command)
        self.sent.append((charger_id, command))
        return ChargerAnswer(action=action, ocpp_version=self.connected[charger_id], status=self.status,
                             text=self.status, result="ACCEPTED", data={"status": self.status})


class FakePartners:
    """PartnerCalls in memory: the eMSP's answer to real-time authorization."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.answer: dict[str, Any] | Exception = {"allowed": "ALLOWED", "authorization_reference": "REF-1"}

    async def authorize(self, partner, token, *, location_id, evse_uids):
        self.asked.append({"uid": token["uid"], "location_id": location_id})
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
async def store(tmp_path):
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'fakes.db'}")
    await s.migrate()
    yield s
    await s.close()


async def test_operator_commands_through_a_fake_charger_control(store):
    settings = Settings(database_url=store.url)
    chargers = FakeChargers({"CP-1": "2.0.1"})
    bus = Bus()
    charging = ChargingService(store, bus, settings, pushes=None, authorization=None)
    operations = ChargerOperations(store, settings, charging, chargers)
    reply = await operations.reset("CP-1", hard=True)
    assert reply == {"charger_id": "CP-1", "ocpp_version": "2.0.1", "action": "Reset",
                     "answer": {"status": "Accepted"}}
    await operations.unlock("CP-1", evse_number=2, connector_number=1)
    assert chargers.sent == [("CP-1", ChargerCommand("reset", {"hard": True})),
                             ("CP-1", ChargerCommand("unlock_connector", {"evse_number": 2, "connector_number": 1}))]
    with pytest.raises(ChargerOffline):
        await operations.reset("CP-2")
    with pytest.raises(Invalid, match="Nonsense"):
        await operations.trigger("CP-1", "Nonsense")


async def test_real_time_authorization_through_fake_partner_calls(store):
    settings = Settings(database_url=store.url)
    partners = FakePartners()
    service = AuthorizationService(store, Bus(), settings, partners)
    async with store.begin() as conn:  # a token an eMSP pushed, to be asked about every time
        from evroam.model.common import parse_datetime

        await store.tokens.put(conn, "DE", "MSP", "TAG-9", "RFID", {
            "country_code": "DE", "party_id": "MSP", "uid": "TAG-9", "type": "RFID", "contract_id": "DE-MSP-X",
            "issuer": "MSP", "valid": True, "whitelist": "NEVER", "last_updated": "2026-01-01T00:00:00Z"},
            parse_datetime("2026-01-01T00:00:00Z"))
    decision = await service.authorize("TAG-9", location_id="LOC-1")
    assert (decision.status, decision.authorization_reference, decision.decided_by) == ("Accepted", "REF-1",
                                                                                         "realtime")
    assert partners.asked == [{"uid": "TAG-9", "location_id": "LOC-1"}]
    partners.answer = PartnerCallFailed("unknown token", retryable=False, unknown=True)
    assert (await service.authorize("TAG-9")).status == "Invalid"
    partners.answer = PartnerCallFailed("eMSP down")  # NEVER: no local fallback
    decision = await service.authorize("TAG-9")
    assert (decision.status, decision.decided_by) == ("Invalid", "unreachable")
