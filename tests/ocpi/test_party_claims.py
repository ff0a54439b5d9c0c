"""Which parties a partner speaks for (OCPI 2.2.1 credentials roles, and the party scoping of
every module): a partner's credentials may name neither our own party nor a party another
partner holds (both ways of registering, and on a credentials update), such credentials are
refused with OCPI status 2001 and nothing is stored; and a partner whose stored roles name our
party all the same (a registration made before such claims were refused) cannot write or read
our objects, push a token our chargers accept, command our drivers' sessions, or read another
partner's objects."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from ocpp.v16 import call as call16
from stub_partner import StubPartner
from test_transport import location

from evroam.demo import load_demo
from evroam.ocpi.credentials import handshake
from harness import auth, httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import PASSWORD, charge_point, iso, past  # noqa: E402

ALPHA_TOKEN = "alpha-token-c"  # a partner holding DE/ABC (CPO) and DE/MSP (eMSP)
HOSTILE_TOKEN = "hostile-token-c"  # claims our party NL/EVR beside its own BE/HOS
NOW = "2025-01-01T00:00:00Z"


@pytest.fixture
async def stub():
    partners: list[StubPartner] = []

    async def make(**kwargs) -> StubPartner:
        p = await StubPartner(**kwargs).start()
        partners.append(p)
        return p

    yield make
    for p in partners:
        await p.stop()


def creds(url: str, *parties: tuple[str, str, str], token: str = "stub-token-b") -> dict:
    return {"token": token, "url": url,
            "roles": [{"role": role, "country_code": cc, "party_id": pid, "business_details": {"name": "Stub"}}
                      for role, cc, pid in parties]}


async def partner(instance, name: str):
    async with instance.platform.store.connect() as conn:
        return await instance.platform.store.partners.by_name(conn, name)


# ------------------------------------------------------------------ they register with us


@pytest.mark.parametrize("claimed", [("EMSP", "NL", "EVR"), ("CPO", "nl", "evr")])
async def test_registration_naming_our_party_is_refused_before_any_callback(instance, stub, claimed):
    peer = await stub()
    _, token_a = await handshake.invite(instance.platform, "hostile")
    before = await partner(instance, "hostile")
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", headers=auth(token_a),
                            json=creds(f"{peer.url}/versions", ("CPO", "BE", "HOS"), claimed))
        assert r.status_code == 400
        body = r.json()
        assert body["status_code"] == 2001 and "data" not in body or body.get("data") is None
        assert "NL/EVR" in body["status_message"] and "our own party" in body["status_message"]
        # token A still opens only the registration; no token C was issued
        assert (await http.get(instance.versions_url, headers=auth(token_a))).status_code == 200
    assert peer.seen_auth == []  # the partner was not even called back
    assert await partner(instance, "hostile") == before  # nothing stored (not even last_error)


async def test_registration_naming_another_partners_party_is_refused(instance, stub):
    await instance.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC")])
    peer = await stub()
    _, token_a = await handshake.invite(instance.platform, "hostile")
    before = await partner(instance, "hostile")
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", headers=auth(token_a),
                            json=creds(f"{peer.url}/versions", ("EMSP", "de", "Abc")))
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    message = r.json()["status_message"]
    assert "DE/ABC" in message and "another roaming partner" in message
    assert "Alpha" not in message and ALPHA_TOKEN not in message  # the other partner stays unnamed
    assert peer.seen_auth == []
    assert await partner(instance, "hostile") == before


async def test_a_legitimate_registration_still_works_and_an_update_cannot_claim(instance, stub):
    await instance.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC")])
    peer = await stub()
    _, token_a = await handshake.invite(instance.platform, "stub")
    cred_url = f"{instance.url}/ocpi/2.2.1/credentials"
    async with httpx.AsyncClient() as http:
        r = await http.post(cred_url, headers=auth(token_a),
                            json=creds(f"{peer.url}/versions", ("CPO", "DE", "STB"), ("EMSP", "DE", "STB")))
        assert r.status_code == 200 and r.json()["status_code"] == 1000, r.text
        token_c = r.json()["data"]["token"]
        registered = await partner(instance, "stub")
        assert registered.registered and registered.parties() == [("DE", "STB"), ("DE", "STB")]

        # a credentials update (PUT with token C) may not claim our party or Alpha's either
        calls = len(peer.seen_auth)
        for claimed in [("CPO", "NL", "EVR"), ("CPO", "DE", "ABC")]:
            r = await http.put(cred_url, headers=auth(token_c),
                               json=creds(f"{peer.url}/versions", ("CPO", "DE", "STB"), claimed))
            assert r.status_code == 400 and r.json()["status_code"] == 2001, r.text
            assert f"{claimed[1]}/{claimed[2]}" in r.json()["status_message"]
        assert len(peer.seen_auth) == calls
        assert await partner(instance, "stub") == registered  # same roles, same token C
        assert (await http.get(instance.versions_url, headers=auth(token_c))).status_code == 200
        # updating with its own parties works as before
        r = await http.put(cred_url, headers=auth(token_c), json=creds(f"{peer.url}/versions", ("CPO", "de", "stb")))
        assert r.status_code == 200 and r.json()["status_code"] == 1000


async def test_a_party_changes_hands_through_its_partner_record(instance, stub):
    """An unregistered partner still holds its party; the platform taking the party over is
    invited under that partner's name and registers into its record."""
    await instance.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC")])
    await handshake.unregister(instance.platform, await partner(instance, "Alpha Roaming"))
    peer = await stub()
    cred_url = f"{instance.url}/ocpi/2.2.1/credentials"
    _, token_a = await handshake.invite(instance.platform, "newcomer")
    async with httpx.AsyncClient() as http:
        r = await http.post(cred_url, headers=auth(token_a), json=creds(f"{peer.url}/versions", ("CPO", "DE", "ABC")))
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        _, token_a = await handshake.invite(instance.platform, "Alpha Roaming")
        r = await http.post(cred_url, headers=auth(token_a), json=creds(f"{peer.url}/versions", ("CPO", "DE", "ABC")))
        assert r.status_code == 200 and r.json()["status_code"] == 1000, r.text
    assert (await partner(instance, "Alpha Roaming")).registered


# ------------------------------------------------------------------ we register with them


async def test_we_refuse_a_partner_answering_with_our_or_another_partners_party(instance, stub):
    await instance.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC")])
    for name, claimed, why in [("copycat", ("CPO", "nl", "evr"), "our own party"),
                               ("squatter", ("CPO", "DE", "ABC"), "another roaming partner")]:
        peer = await stub(modules=[("credentials", "SENDER"), ("locations", "SENDER")], accept_token="token-a",
                          roles=[("EMSP", "BE", "STB"), claimed])
        with pytest.raises(RuntimeError, match=f"{claimed[1].upper()}/{claimed[2].upper()}.*{why}"):
            await handshake.register_with(instance.platform, name, f"{peer.url}/versions", "token-a")
        mine = await partner(instance, name)
        assert not mine.registered and mine.roles == [] and mine.outgoing_token is None
        assert f"{claimed[1].upper()}/{claimed[2].upper()}" in mine.last_error
        # the registration is withdrawn at the partner (DELETE with the token it gave us) ...
        assert [(method, header) for method, header, _ in peer.credentials_calls] == [
            ("POST", auth("token-a")["Authorization"]), ("DELETE", auth(peer.token_c)["Authorization"])]
        # ... and the token we offered it opens nothing here
        token_b = peer.credentials_calls[0][2]["token"]
        async with httpx.AsyncClient() as http:
            assert (await http.get(instance.versions_url, headers=auth(token_b))).status_code == 401


async def test_we_refuse_a_credentials_update_claiming_another_partners_party(make_instance):
    us = await make_instance("us", country_code="NL", party_id="EVR", roles=("CPO", "EMSP"))
    await us.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC")])
    them = await make_instance("them", country_code="BE", party_id="BBB", roles=("CPO",))
    _, token_a = await handshake.invite(them.platform, "us")
    registered = await handshake.register_with(us.platform, "them", them.versions_url, token_a)
    assert registered.parties() == [("BE", "BBB")]
    await them.stop()
    them.country_code, them.party_id = "DE", "ABC"  # the partner now presents itself as Alpha's party
    await them.start()
    with pytest.raises(RuntimeError, match="DE/ABC"):
        await handshake.update_with(us.platform, registered)
    kept = await partner(us, "them")
    assert kept.registered and kept.roles == registered.roles and kept.outgoing_token == registered.outgoing_token


# ------------------------------------------------------------------ a partner whose stored roles name our party


@pytest.fixture
async def ours(instance):
    """We (NL/EVR, CPO and eMSP) with the demo locations and tariffs, charger CP-1 on
    EVR-GENT-1 (connector 1 = EVSE EVR-GENT-1-E1), partner Alpha (CPO DE/ABC, eMSP DE/MSP)
    and a partner written straight into the store whose roles name our party."""
    assert await load_demo(instance.platform)
    await instance.add_partner("Alpha Roaming", ALPHA_TOKEN, [("CPO", "DE", "ABC"), ("EMSP", "DE", "MSP")])
    await instance.add_partner("hostile", HOSTILE_TOKEN, [("CPO", "NL", "EVR"), ("EMSP", "nl", "evr"),
                                                          ("CPO", "BE", "HOS"), ("EMSP", "BE", "HOS")])
    await instance.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                         evses={1: "EVR-GENT-1-E1", 2: "EVR-GENT-1-E2"})
    return instance


async def stored(instance, table: str, *key):
    async with instance.platform.store.connect() as conn:
        return await getattr(instance.platform.store, table).get(conn, *key)


async def test_a_partner_claiming_our_party_cannot_write_our_objects(ours):
    tariff = await stored(ours, "tariffs", "NL", "EVR", "DC-1")
    loc = await stored(ours, "locations", "NL", "EVR", "EVR-GENT-1")
    base = f"{ours.url}/ocpi/2.2.1"
    free = {**tariff, "elements": [{"price_components": [{"type": "ENERGY", "price": 0, "step_size": 1}]}],
            "last_updated": NOW}
    async with httpx.AsyncClient(headers=auth(HOSTILE_TOKEN)) as http:
        answers = [
            await http.put(f"{base}/emsp/tariffs/NL/EVR/DC-1", json=free),
            await http.put(f"{base}/emsp/tariffs/nl/evr/FREE", json={**free, "id": "FREE", "country_code": "nl",
                                                                     "party_id": "evr"}),
            await http.delete(f"{base}/emsp/tariffs/NL/EVR/DC-1"),
            await http.put(f"{base}/emsp/locations/NL/EVR/EVR-GENT-1",
                           json=location("NL", "EVR", "EVR-GENT-1", last_updated=NOW)),
            await http.patch(f"{base}/emsp/locations/NL/EVR/EVR-GENT-1/EVR-GENT-1-E1",
                             json={"status": "OUTOFORDER", "last_updated": NOW}),
            await http.put(f"{base}/emsp/locations/NL/EVR/EVR-GENT-1/EVR-GENT-1-E1",
                           json={**loc["evses"][0], "status": "REMOVED", "last_updated": NOW}),
            await http.get(f"{base}/emsp/locations/NL/EVR/EVR-GENT-1"),
        ]
    for r in answers:
        assert r.status_code == 403 and r.json()["status_code"] == 2000, r.text
        assert "is our own party" in r.json()["status_message"]
    assert await stored(ours, "tariffs", "NL", "EVR", "DC-1") == tariff
    assert await stored(ours, "tariffs", "NL", "EVR", "FREE") is None
    assert await stored(ours, "locations", "NL", "EVR", "EVR-GENT-1") == loc


async def test_a_token_pushed_under_our_party_is_refused_and_our_chargers_do_not_accept_it(ours):
    token = {"country_code": "NL", "party_id": "EVR", "uid": "FREE-CHARGING", "type": "RFID",
             "contract_id": "NL-EVR-FREE", "issuer": "us?", "valid": True, "whitelist": "ALWAYS",
             "last_updated": NOW}
    async with httpx.AsyncClient(headers=auth(HOSTILE_TOKEN)) as http:
        for path in ("NL/EVR/FREE-CHARGING", "nl/evr/FREE-CHARGING"):
            r = await http.put(f"{ours.url}/ocpi/2.2.1/cpo/tokens/{path}", json=token)
            assert r.status_code == 403 and r.json()["status_code"] == 2000, r.text
        r = await http.patch(f"{ours.url}/ocpi/2.2.1/cpo/tokens/NL/EVR/FREE-CHARGING",
                             json={"valid": True, "last_updated": NOW})
        assert r.status_code == 403
    async with ours.platform.store.connect() as conn:
        assert await ours.platform.store.tokens.find(conn, "FREE-CHARGING") == []
    async with charge_point(ours, "CP-1") as cp:
        await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
        answer = await cp.call(call16.Authorize(id_tag="FREE-CHARGING"))
        assert answer.id_tag_info["status"] == "Invalid"
        started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="FREE-CHARGING", meter_start=0,
                                                        timestamp=iso(past(1))))
        assert started.id_tag_info["status"] == "Invalid"


async def test_partners_read_only_their_own_parties_objects(ours):
    base = f"{ours.url}/ocpi/2.2.1"
    # Alpha pushes a location of its CPO party and a token of its eMSP party
    alpha_token = {"country_code": "DE", "party_id": "MSP", "uid": "ALPHA-DRIVER", "type": "RFID",
                   "contract_id": "DE-MSP-1", "issuer": "Alpha", "valid": True, "whitelist": "ALLOWED",
                   "last_updated": NOW}
    async with httpx.AsyncClient(headers=auth(ALPHA_TOKEN)) as http:
        assert (await http.put(f"{base}/emsp/locations/DE/ABC/LOC1", json=location())).status_code == 201
        assert (await http.put(f"{base}/cpo/tokens/DE/MSP/ALPHA-DRIVER", json=alpha_token)).status_code == 201
    await ours.platform.tokens.add_own({"uid": "OUR-DRIVER"})
    # a session of Alpha's driver and one of our own driver at our charger; ours ends (a CDR)
    async with charge_point(ours, "CP-1") as cp:
        await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
        tx = {}
        for connector, tag in [(1, "ALPHA-DRIVER"), (2, "OUR-DRIVER")]:
            started = await cp.call(call16.StartTransaction(connector_id=connector, id_tag=tag, meter_start=0,
                                                            timestamp=iso(past(10))))
            assert started.id_tag_info["status"] == "Accepted"
            tx[tag] = started.transaction_id
        await cp.call(call16.StopTransaction(meter_stop=5000, timestamp=iso(past(1)), transaction_id=tx["OUR-DRIVER"]))
    async with ours.platform.store.connect() as conn:
        (our_cdr,) = await ours.platform.store.cdrs.all(conn, ("NL", "EVR"))

    async def listed(token: str, module: str) -> list[str]:
        async with httpx.AsyncClient(headers=auth(token)) as http:
            r = await http.get(f"{base}/cpo/{module}", params={"date_from": "2000-01-01T00:00:00Z"})
        assert r.status_code == 200, r.text
        return [s["cdr_token"]["uid"] for s in r.json()["data"]]

    assert await listed(ALPHA_TOKEN, "sessions") == ["ALPHA-DRIVER"]
    assert await listed(HOSTILE_TOKEN, "sessions") == []  # neither Alpha's drivers' nor ours
    assert await listed(ALPHA_TOKEN, "cdrs") == []
    assert await listed(HOSTILE_TOKEN, "cdrs") == []  # not our driver's CDR
    async with httpx.AsyncClient(headers=auth(HOSTILE_TOKEN)) as http:
        for url in (f"{base}/emsp/locations/DE/ABC/LOC1", f"{base}/cpo/tokens/DE/MSP/ALPHA-DRIVER",
                    f"{base}/cpo/tokens/NL/EVR/OUR-DRIVER", f"{base}/emsp/sessions/NL/EVR/{our_cdr['session_id']}",
                    f"{base}/emsp/cdrs/NL/EVR/{our_cdr['id']}"):
            r = await http.get(url)
            assert r.status_code == 403 and r.json()["status_code"] == 2000, url
        # nor bill our driver with a CDR (or a session) of our party
        r = await http.post(f"{base}/emsp/cdrs", json={**our_cdr, "id": "FAKE-1"})
        assert r.status_code in (400, 403) and r.json()["status_code"] in (2000, 2001), r.text
        r = await http.put(f"{base}/emsp/sessions/NL/EVR/FAKE-1", json={"id": "FAKE-1"})
        assert r.status_code == 403
    async with ours.platform.store.connect() as conn:
        assert await ours.platform.store.cdrs.get(conn, "NL", "EVR", "FAKE-1") is None


def test_the_partner_model_leaves_reserved_parties_out():
    from evroam.model.partners import Partner, PartnerStatus

    p = Partner(pk=1, name="p", status=PartnerStatus.REGISTERED, created_at=None, updated_at=None,
                roles=[{"role": "EMSP", "country_code": "nl", "party_id": "evr"},
                       {"role": "CPO", "country_code": "BE", "party_id": "HOS"}],
                reserved=frozenset({("NL", "EVR")}))
    assert p.parties() == [("BE", "HOS")] and not p.owns("NL", "EVR") and not p.has_role("EMSP")
    assert p.claimed_reserved() == [("NL", "EVR")] and "our own party" in p.display_parties
    assert dataclasses.replace(p, reserved=frozenset()).owns("nl", "EVR", "EMSP")
