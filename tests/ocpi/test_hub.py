"""Roaming through a hub (OCPI 2.2.1): evroam, a CPO, registered with a small hub (tests/ocpi/hub.py)
that relays between it and two eMSP parties, DE/AAA and FR/BBB.

Shown: the hub registers as role HUB and its parties become known (its ClientInfo list read at
registration, ClientInfo PUT to our hubclientinfo receiver); our location changes are broadcast
(addressed to the hub) and reach both parties; each party's requests are accepted for that party
only; a session is addressed to its driver's party alone; no push is queued to a party the hub
reports OFFLINE and the party is brought up to date when it is CONNECTED again; a CommandResult
goes back by open routing; configuration modules carry no routing headers."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from hub import HUB_PARTY, Hub, Party
from ocpp.v16 import call

from evroam.demo import load_demo
from evroam.ocpi.credentials import handshake
from harness import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import COMMANDED, PASSWORD, charge_point, iso, past  # noqa: E402

CPO = ("NL", "CPO")


def _token(party: Party, uid: str) -> dict:
    return {"country_code": party.country_code, "party_id": party.party_id, "uid": uid, "type": "RFID",
            "contract_id": f"{party.country_code}-{party.party_id}-{uid}", "issuer": party.party_id, "valid": True,
            "whitelist": "ALWAYS", "last_updated": "2024-01-01T00:00:00Z"}


def _routing(entry: dict) -> tuple:
    h = entry["headers"]
    return (h.get("ocpi-from-country-code"), h.get("ocpi-from-party-id"), h.get("ocpi-to-country-code"),
            h.get("ocpi-to-party-id"))


def _sessions(party: Party, session_id: str) -> list[dict]:
    return [r for r in party.received if r["path"].endswith(f"/sessions/NL/CPO/{session_id}")]


async def _outbox(cpo, object_key: str) -> list[dict]:
    async with cpo.platform.store.connect() as conn:
        rows = await cpo.platform.store.outbox.messages(conn, limit=1000)
    return [r for r in rows if r["object_key"] == object_key]


async def test_roaming_through_a_hub(make_instance):
    cpo = await make_instance("cpo", country_code=CPO[0], party_id=CPO[1], roles=("CPO",),
                              extra={"session_push_interval": 0})
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})
    a, b = Party("DE", "AAA", "EMSP"), Party("FR", "BBB", "EMSP")
    hub = await Hub([a, b]).start()
    try:
        await _scenario(cpo, hub, a, b)
    finally:
        await hub.stop()


async def _scenario(cpo, hub: Hub, a: Party, b: Party) -> None:
    # --- the hub registers as HUB; its ClientInfo list names A, a PUT names B
    _, token_a = await handshake.invite(cpo.platform, "hub")
    assert (await hub.register_with(cpo.versions_url, token_a))["status_code"] == 1000

    async def partner():
        async with cpo.platform.store.connect() as conn:
            return await cpo.platform.store.partners.by_name(conn, "hub")

    p = await partner()
    assert p.is_hub and p.version == "2.2.1" and p.hub_party() == HUB_PARTY
    await wait_for(lambda: _has_party(partner(), a))  # the ClientInfo list, read after registering
    info_url = hub.platform_endpoints[("hubclientinfo", "RECEIVER")]
    r = await hub.client_info(info_url, b, "CONNECTED", "2024-01-01T00:00:01Z")
    assert r.status_code == 201 and r.json()["status_code"] == 1000
    p = await partner()
    assert set(p.parties("EMSP")) == {a.key, b.key}
    # configuration modules carry no routing headers, ours included (the hub's versions read back)
    config = [e for e in hub.received if not e["path"].startswith(("/hub/2.2.1/locations", "/hub/2.2.1/sessions",
                                                                    "/hub/2.2.1/cdrs", "/hub/2.2.1/results"))]
    assert config and all(_routing(e) == (None, None, None, None) for e in config)
    assert "ocpi-to-party-id" not in r.headers

    # --- broadcast: our EVSE status change is addressed to the hub, which passes it to both
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E2", "BLOCKED")
    await wait_for(lambda: all(any(x["method"] == "PATCH" for x in party.received) for party in (a, b)))
    [patch] = [e for e in hub.received if e["method"] == "PATCH"]
    assert _routing(patch) == (*CPO, *HUB_PARTY)
    assert patch["path"] == "/hub/2.2.1/locations/NL/CPO/EVR-GENT-1/EVR-GENT-1-E2"
    assert patch["body"]["status"] == "BLOCKED" and patch["headers"].get("x-request-id")

    # --- each party acts for itself only, through the hub
    r = await hub.send(a, "PUT", "tokens", "RECEIVER", "/DE/AAA/TAG-A", _token(a, "TAG-A"), to=CPO)
    assert r.status_code == 201 and r.json()["status_code"] == 1000
    assert (r.headers["ocpi-to-country-code"], r.headers["ocpi-to-party-id"]) == a.key  # answered to A
    r = await hub.send(b, "PUT", "tokens", "RECEIVER", "/FR/BBB/TAG-B", _token(b, "TAG-B"), to=CPO)
    assert r.status_code == 201
    stranger = Party("IT", "CCC", "EMSP")
    r = await hub.send(stranger, "PUT", "tokens", "RECEIVER", "/IT/CCC/TAG-C", _token(stranger, "TAG-C"), to=CPO)
    assert r.status_code == 403 and "IT/CCC is not one of your EMSP parties" in r.json()["status_message"]
    # nor may a hub's party be our own
    r = await hub.client_info(info_url, Party(*CPO, "EMSP"), "CONNECTED", "2024-01-01T00:00:02Z")
    assert r.status_code in (200, 201)
    p = await partner()
    assert CPO not in p.parties("EMSP")
    assert any(e.get("refused") == "our own party" for e in p.hub_parties)

    t0 = past(30)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        # --- a session of A's driver: addressed to A, relayed to A alone
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="TAG-A", meter_start=0, timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        sid_a = (await cpo.platform.charging.get_transaction("CP-1", str(start.transaction_id))).session_id
        await wait_for(lambda: _sessions(a, sid_a))
        [put] = [e for e in hub.received if e["path"].endswith(f"/sessions/NL/CPO/{sid_a}")]
        assert _routing(put) == (*CPO, *a.key) and _sessions(b, sid_a) == []

        # --- B goes OFFLINE: a session of B's driver is not queued; CONNECTED again: it is sent
        r = await hub.client_info(info_url, b, "OFFLINE", "2024-01-01T00:01:00Z")
        assert r.status_code == 200
        start_b = await cp.call(call.StartTransaction(connector_id=2, id_tag="TAG-B", meter_start=0,
                                                      timestamp=iso(t0 + timedelta(minutes=1))))
        sid_b = (await cpo.platform.charging.get_transaction("CP-1", str(start_b.transaction_id))).session_id
        await cpo.platform.bus.drain()
        assert await _outbox(cpo, f"sessions:{sid_b}") == [] and _sessions(b, sid_b) == []
        r = await hub.client_info(info_url, b, "CONNECTED", "2024-01-01T00:02:00Z")
        assert r.status_code == 200
        await wait_for(lambda: _sessions(b, sid_b))
        resent = _sessions(b, sid_b)[0]
        assert resent["method"] == "PUT" and resent["body"]["cdr_token"]["uid"] == "TAG-B"
        assert (resent["headers"]["ocpi-to-country-code"], resent["headers"]["ocpi-to-party-id"]) == b.key
        assert _sessions(a, sid_b) == []

        # --- a command of A through the hub; its result goes back by open routing
        await cp.call(call.StopTransaction(meter_stop=5000, timestamp=iso(t0 + timedelta(minutes=10)),
                                           transaction_id=start.transaction_id, reason="Local"))
        response_url = f"{hub.url}/hub/2.2.1/results/DE/AAA/cmd-1"
        r = await hub.send(a, "POST", "commands", "RECEIVER", "/START_SESSION", {
            "response_url": response_url, "token": _token(a, "TAG-A"), "location_id": "EVR-GENT-1",
            "evse_uid": "EVR-GENT-1-E3"}, to=CPO)
        assert r.status_code == 200 and r.json()["data"]["result"] == "ACCEPTED"
        await wait_for(lambda: [x for x in a.received if x["path"] == "/results/DE/AAA/cmd-1"])
        [result] = [e for e in hub.received if e["path"] == "/hub/2.2.1/results/DE/AAA/cmd-1"]
        assert result["body"]["result"] == "ACCEPTED"
        assert _routing(result) == (*CPO, None, None)  # open routing: the hub knows the way back
        assert ("RemoteStartTransaction", {"id_tag": "TAG-A", "connector_id": 1}) in [
            (action, {k: v for k, v in kw.items() if k in ("id_tag", "connector_id")}) for action, kw in cp.received]


async def _has_party(partner_coro, party: Party):
    p = await partner_coro
    return p is not None and party.key in p.parties("EMSP")
