"""Interoperability in OCPI 2.1.1 with the `extrawest-ocpi` library (its 2.1.1 routes and pydantic
models), run as a separate process (see conftest.py and extrawest_party.py `--version 2.1.1`).

- evroam, eMSP, registers with the extrawest CPO and pulls its 2.1.1 locations and tariffs;
- the extrawest eMSP registers with evroam, CPO (the other way round), pushes a token of its own,
  which an `ocpp`-library charger at evroam presents: evroam asks extrawest in real time, and the
  Session and the priced CDR of the charge are pushed to extrawest, whose 2.1.1 models validate
  them. docs/interop.md lists what differs between the two implementations."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from ocpp.v16 import call

from evroam.demo import load_demo
from evroam.ocpi import sync
from evroam.ocpi.credentials import handshake
from harness import auth, httpx, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import PASSWORD, charge_point, iso, past  # noqa: E402

XW = ("NL", "XWT")


async def _partner(platform, name):
    async with platform.store.connect() as conn:
        return await platform.store.partners.by_name(conn, name)


async def test_evroam_registers_with_a_2_1_1_cpo_and_pulls_locations_and_tariffs(make_instance, extrawest):
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    token_a = "extrawest-211-token-A"
    party = await extrawest("--version", "2.1.1", f"--token-a={token_a}", "--roles", "CPO")

    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url, token_a)

    # the only version both speak; 2.1.1 tokens go as they are; roles read from the endpoints
    assert partner.registered and partner.version == "2.1.1" and partner.outgoing_encoding == "plain"
    assert partner.parties("CPO") == [XW] and partner.parties("EMSP") == []
    assert partner.endpoint("locations", "SENDER") == f"{party.url}/ocpi/cpo/2.1.1/locations/"
    assert partner.endpoint("tokens", "RECEIVER") == f"{party.url}/ocpi/cpo/2.1.1/tokens/"
    # extrawest's side: our 2.1.1 credentials (one party, no roles) and our 2.1.1 endpoints
    [peer] = (await party.state())["peers"]
    assert peer["credentials"]["country_code"].upper() == "DE" and peer["credentials"]["party_id"].upper() == "EVR"
    assert "roles" not in peer["credentials"]
    assert {e["identifier"] for e in peer["version_details"]["endpoints"]} >= {"credentials", "locations",
                                                                              "tariffs", "sessions", "cdrs"}
    assert all("role" not in e for e in peer["version_details"]["endpoints"])
    assert (await party.state())["registration_tokens"] == []  # token A retired
    async with httpx.AsyncClient() as http:
        # (its versions endpoint tries Base64 on any token: one that is not answers OCPI 3000, HTTP 200)
        r = await http.get(party.versions_url, headers=auth(token_a, "plain"))
        assert (r.status_code, r.json()["status_code"]) == (200, 3000)
        # the token C it gave us opens its 2.1.1 modules as it is
        r = await http.get(partner.endpoint("locations", "SENDER"), headers=auth(partner.outgoing_token, "plain"))
        assert r.status_code == 200 and r.json()["status_code"] == 1000

    await emsp.platform.bus.drain()  # the first pull, right after registering
    assert await sync.pull(emsp.platform, partner, full=True) == {"tariffs": 1, "locations": 3, "sessions": 0,
                                                                   "cdrs": 0}
    async with emsp.platform.store.connect() as conn:
        locations = await emsp.platform.store.locations.all(conn, owners=[XW])
        [tariff] = await emsp.platform.store.tariffs.all(conn, owners=[XW])
    first = next(loc for loc in locations if loc["id"].upper() == "XWT-LOC-1")
    # read into the model: the owner is the partner's party, type -> parking_type, voltage -> max_voltage
    assert (first["country_code"], first["party_id"], first["publish"]) == ("NL", "XWT", True)
    assert first["parking_type"] == "ON_STREET" and first["time_zone"] == "Europe/Amsterdam"
    connector = first["evses"][0]["connectors"][0]
    assert (connector["max_voltage"], connector["max_amperage"]) == (400, 32)
    assert [t.upper() for t in connector["tariff_ids"]] == ["XWT-AC-1"]
    assert (tariff["country_code"], tariff["party_id"], tariff["currency"]) == ("NL", "XWT", "EUR")
    assert tariff["elements"] == [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}]


async def test_a_2_1_1_emsp_token_authorised_and_a_charge_pushed_to_it(make_instance, extrawest):
    cpo = await make_instance("cpo", country_code="DE", party_id="EVR", roles=("CPO",),
                              extra={"session_push_interval": 0})
    assert await load_demo(cpo.platform)  # before the registration: pushed are only what follows
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3"})
    _, token_a = await handshake.invite(cpo.platform, "extrawest")

    party = await extrawest("--version", "2.1.1", "--roles", "EMSP", "--register-with", cpo.versions_url,
                            f"--peer-token-a={token_a}")
    keyword, result = await party.expect("REGISTERED", "REGISTRATION-FAILED")
    assert keyword == "REGISTERED", f"{result}\n{party.log()}"
    assert result["version"] == "2.1.1" and result["credentials_url"] == f"{cpo.url}/ocpi/2.1.1/credentials"
    assert result["party"] == ["DE", "EVR"] and result["roles"] is None  # our 2.1.1 credentials: one party
    partner = await _partner(cpo.platform, "extrawest")
    assert partner.version == "2.1.1" and partner.parties("EMSP") == [XW] and partner.parties("CPO") == []
    assert partner.endpoint("sessions", "RECEIVER") == f"{party.url}/ocpi/emsp/2.1.1/sessions/"

    # our location with its DC EVSE (DC-1 is a tariff 2.1.1 can say) goes to extrawest in 2.1.1
    gent = await cpo.platform.locations.get_own("EVR-GENT-1")
    await cpo.platform.locations.import_locations({**gent, "evses": [e for e in gent["evses"]
                                                                     if e["uid"] == "EVR-GENT-1-E3"]})

    async def location_at_extrawest():
        return (await party.state())["received"]["locations"]

    [location] = (await wait_for(location_at_extrawest, 20)).values()
    assert location["type"] == "ON_STREET" and "country_code" not in location
    connector = location["evses"][0]["connectors"][0]
    assert connector["tariff_id"].upper() == "DC-1" and connector["voltage"] > 0 and "max_voltage" not in connector

    # extrawest pushes its driver's token (its own 2.1.1 Token model; the token as it is)
    async with httpx.AsyncClient() as http:
        pushed = (await http.post(f"{party.url}/_control/push-token", json={})).json()
    assert pushed["status"] == 201 and pushed["body"]["status_code"] == 1000, pushed
    async with cpo.platform.store.connect() as conn:
        token = await cpo.platform.store.tokens.get(conn, "NL", "XWT", "XWT-RFID-1", "RFID")
    assert token["contract_id"] == "NL-XWT-C00042-7" and token["whitelist"] == "NEVER"

    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        # whitelist NEVER: authorised in real time at extrawest
        assert (await cp.call(call.Authorize(id_tag="XWT-RFID-1"))).id_tag_info["status"] == "Accepted"
        assert [a["token_uid"] for a in (await party.state())["authorized"]] == ["XWT-RFID-1"]
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="XWT-RFID-1", meter_start=1000,
                                                    timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        session_id = (await cpo.platform.charging.get_transaction("CP-1", str(start.transaction_id))).session_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
            {"timestamp": iso(t0 + timedelta(minutes=10)), "sampledValue": [
                {"value": "8500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        await cp.call(call.StopTransaction(meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=30)),
                                           transaction_id=start.transaction_id, reason="Local"))

        async def received():
            got = (await party.state())["received"]
            return got if got["cdrs"] and any(s["status"] == "COMPLETED" for s in got["sessions"].values()) else None

        got = await wait_for(received, 20)

    # what extrawest's 2.1.1 models accepted
    session = next(iter(got["sessions"].values()))
    assert session["id"] == session_id and session["auth_id"] == "NL-XWT-C00042-7"
    assert session["kwh"] == 20.0 and session["total_cost"] == 5.5 and session["status"] == "COMPLETED"
    assert session["location"]["id"].upper() == "EVR-GENT-1"
    assert [e["uid"].upper() for e in session["location"]["evses"]] == ["EVR-GENT-1-E3"]
    [cdr] = got["cdrs"].values()
    assert cdr["id"] == session_id and cdr["auth_id"] == "NL-XWT-C00042-7" and cdr["auth_method"] == "AUTH_REQUEST"
    assert cdr["total_cost"] == 5.5 and cdr["total_energy"] == 20.0 and cdr["total_time"] == 0.5
    assert cdr["location"]["evses"][0]["connectors"][0]["tariff_id"].upper() == "DC-1"
    assert [t["id"].upper() for t in cdr["tariffs"]] == ["DC-1"]
    # every push was accepted
    async def outbox():
        async with cpo.platform.store.connect() as conn:
            rows = await cpo.platform.store.outbox.messages(conn, limit=100)
        return [(r["method"], r["module"], r["status"], r["last_error"]) for r in rows]

    async def drained():
        return all(status == "delivered" for _, _, status, _ in await outbox())

    try:
        await wait_for(drained, 10)
    except AssertionError:
        raise AssertionError(await outbox()) from None
    sent = {(method, module) for method, module, _, _ in await outbox()}
    assert {("PUT", "locations"), ("PUT", "sessions"), ("POST", "cdrs")} <= sent <= {
        ("PUT", "locations"), ("PATCH", "locations"), ("PUT", "sessions"), ("PATCH", "sessions"), ("POST", "cdrs")}
