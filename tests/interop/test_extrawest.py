"""Interoperability with a third-party OCPI 2.2.1 implementation: the `extrawest-ocpi` library
(FastAPI, pydantic 1), run as a separate process from its own venv (see conftest.py and
extrawest_party.py). Covered: the credentials handshake in both directions and a locations
(and tariffs) pull. docs/interop.md lists what differs between the two implementations."""

from __future__ import annotations

import json

from evroam.demo import demo_objects, load_demo
from evroam.model.common import format_datetime, parse_datetime
from evroam.ocpi import sync
from evroam.ocpi.credentials import handshake
from harness import auth, httpx, wait_for

XW_PARTY = ("NL", "XWT")

# The OCPI 2.2.1 example "location_energymix_example_complete" (mod_locations, EnergyMix class).
SPEC_ENERGY_MIX = {
    "is_green_energy": False,
    "energy_sources": [{"source": "GENERAL_GREEN", "percentage": 35.9}, {"source": "GAS", "percentage": 6.3},
                       {"source": "COAL", "percentage": 33.2}, {"source": "GENERAL_FOSSIL", "percentage": 2.9},
                       {"source": "NUCLEAR", "percentage": 21.7}],
    "environ_impact": [{"category": "NUCLEAR_WASTE", "amount": 0.0006}, {"category": "CARBON_DIOXIDE", "amount": 372}],
    "supplier_name": "E.ON Energy Deutschland",
    "energy_product_name": "E.ON DirektStrom eco",
}


async def _partner(platform, name):
    async with platform.store.connect() as conn:
        return await platform.store.partners.by_name(conn, name)


async def _stored(platform, module: str) -> list[dict]:
    async with platform.store.connect() as conn:
        repo = platform.store.locations if module == "locations" else platform.store.tariffs
        return await repo.all(conn, owners=[XW_PARTY])


async def test_evroam_registers_with_extrawest_and_pulls_its_locations(make_instance, extrawest):
    """evroam (eMSP) starts the handshake with the token A the extrawest CPO handed out, then
    pulls the CPO's locations and tariffs."""
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    token_a = "extrawest-token-A-for-evroam"
    party = await extrawest(f"--token-a={token_a}", "--roles", "CPO,EMSP")

    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url, token_a)

    # What evroam stored about extrawest.
    assert partner.registered and partner.version == "2.2.1"
    assert partner.version_url == f"{party.url}/ocpi/2.2.1/details"
    assert partner.outgoing_encoding == "base64"
    # (the library lower-cases CiStrings, D6: kept as the partner spells them, compared in any case)
    assert sorted((r["role"], r["country_code"], r["party_id"]) for r in partner.roles) == [
        ("CPO", "nl", "xwt"), ("EMSP", "nl", "xwt")]
    assert partner.parties() == [XW_PARTY, XW_PARTY]
    assert partner.endpoint("locations", "SENDER") == f"{party.url}/ocpi/cpo/2.2.1/locations/"
    assert partner.endpoint("tariffs", "SENDER") == f"{party.url}/ocpi/cpo/2.2.1/tariffs/"
    assert partner.endpoint("locations", "RECEIVER") == f"{party.url}/ocpi/emsp/2.2.1/locations/"

    # What extrawest stored about evroam: its callback read our versions with our token B.
    state = await party.state()
    assert state["registration_tokens"] == []  # token A retired
    [peer] = state["peers"]
    assert peer["via"] == "they-registered"
    assert peer["token_in"] == partner.outgoing_token  # extrawest's token C is what we present
    assert peer["version_details"]["version"] == "2.2.1"
    assert {(e["identifier"], e["role"]) for e in peer["version_details"]["endpoints"]} >= {
        ("credentials", "SENDER"), ("locations", "RECEIVER"), ("tariffs", "RECEIVER")}
    assert [(r["role"], r["country_code"].upper(), r["party_id"].upper())
            for r in peer["credentials"]["roles"]] == [("EMSP", "DE", "EVR")]
    async with emsp.platform.store.connect() as conn:
        found = await emsp.platform.store.partners.by_token(conn, peer["token_out"])
    assert found is not None and found[0].pk == partner.pk and found[1] == "C"  # our token B
    assert peer["token_in"] != peer["token_out"] != token_a

    async with httpx.AsyncClient() as http:
        # Token A is refused afterwards; token C opens extrawest, and our token B opens evroam.
        r = await http.get(party.versions_url, headers=auth(token_a))
        assert r.status_code == 401
        r = await http.get(party.versions_url, headers=auth(partner.outgoing_token))
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        r = await http.get(f"{emsp.url}/ocpi/2.2.1/credentials", headers=auth(peer["token_out"]))
        assert r.status_code == 200 and r.json()["data"]["roles"][0]["party_id"] == "EVR"

    # The pull: everything extrawest sends ends up under its party at evroam.
    await emsp.platform.bus.drain()  # the automatic first pull after registering
    counts = await sync.pull(emsp.platform, partner, full=True)
    assert counts == {"tariffs": 1, "locations": 3}
    locations = await _stored(emsp.platform, "locations")
    assert sorted(loc["id"].upper() for loc in locations) == ["XWT-LOC-1", "XWT-LOC-2", "XWT-LOC-3"]
    first = next(loc for loc in locations if loc["id"].upper() == "XWT-LOC-1")
    assert first["city"] == "Amsterdam" and first["time_zone"] == "Europe/Amsterdam"
    assert [e["status"] for e in first["evses"]] == ["AVAILABLE", "CHARGING"]
    assert first["evses"][0]["connectors"][0]["max_electric_power"] == 22000
    [tariff] = await _stored(emsp.platform, "tariffs")
    assert tariff["currency"] == "EUR" and tariff["elements"][0]["price_components"][0]["price"] == 0.35

    # A second pull asks only for what changed since the first one (date_from): nothing.
    partner = await _partner(emsp.platform, "extrawest")
    assert set(partner.sync_state) == {"locations", "tariffs"}
    assert await sync.pull(emsp.platform, partner) == {"tariffs": 0, "locations": 0}


async def test_extrawest_registers_with_evroam_and_is_pulled(make_instance, extrawest):
    """The extrawest CPO starts the handshake with the token A evroam (eMSP) handed out; evroam
    calls it back, then pulls its locations right after the registration."""
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    _, token_a = await handshake.invite(emsp.platform, "extrawest")

    party = await extrawest("--register-with", emsp.versions_url, f"--peer-token-a={token_a}")
    keyword, result = await party.expect("REGISTERED", "REGISTRATION-FAILED")
    assert keyword == "REGISTERED", f"{result}\n{party.log()}"
    assert result["version"] == "2.2.1"
    assert result["credentials_url"] == f"{emsp.url}/ocpi/2.2.1/credentials"
    assert {(e["identifier"], e["role"]) for e in result["endpoints"]} == {
        ("credentials", "SENDER"), ("locations", "RECEIVER"), ("tariffs", "RECEIVER"), ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"), ("tokens", "SENDER"), ("commands", "SENDER"), ("chargingprofiles", "SENDER"),
        ("hubclientinfo", "RECEIVER")}

    # What evroam stored about extrawest (its callback used extrawest's token B).
    partner = await _partner(emsp.platform, "extrawest")
    assert partner.registered and partner.version == "2.2.1"
    assert partner.outgoing_token == result["token_b"] and partner.outgoing_encoding == "base64"
    assert partner.parties("CPO") == [XW_PARTY]
    assert partner.version_url == f"{party.url}/ocpi/2.2.1/details"
    assert partner.endpoint("locations", "SENDER") == f"{party.url}/ocpi/cpo/2.2.1/locations/"
    assert partner.endpoint("credentials") == f"{party.url}/ocpi/cpo/2.2.1/credentials/"

    async with httpx.AsyncClient() as http:
        # Token A is refused afterwards; the token C evroam issued opens evroam for extrawest.
        r = await http.get(emsp.versions_url, headers=auth(token_a))
        assert r.status_code == 401
        r = await http.get(f"{emsp.url}/ocpi/2.2.1/credentials", headers=auth(result["token_c"]))
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        # ... and the token B extrawest issued opens extrawest for evroam.
        r = await http.get(party.versions_url, headers=auth(partner.outgoing_token))
        assert r.status_code == 200 and r.json()["status_code"] == 1000

    # evroam pulled extrawest's locations right after the registration.
    await emsp.platform.bus.drain()
    partner = await _partner(emsp.platform, "extrawest")
    assert partner.last_error is None
    assert sorted(loc["id"].upper() for loc in await _stored(emsp.platform, "locations")) == [
        "XWT-LOC-1", "XWT-LOC-2", "XWT-LOC-3"]
    assert len(await _stored(emsp.platform, "tariffs")) == 1
    # ... and a full pull on demand (what `evroam partners sync --full` does) gives the same.
    assert await sync.pull(emsp.platform, partner, full=True) == {"tariffs": 1, "locations": 3}


async def test_evroam_cpo_pushes_locations_to_extrawest_emsp(make_instance, extrawest):
    """The other way round: evroam as CPO pushes its locations (PUT) and an EVSE status change
    (PATCH) through the outbox to extrawest's eMSP receiver interface."""
    cpo = await make_instance("cpo", country_code="DE", party_id="EVR", roles=("CPO",))
    token_a = "extrawest-token-A-for-the-cpo"
    party = await extrawest(f"--token-a={token_a}", "--roles", "CPO,EMSP")
    partner = await handshake.register_with(cpo.platform, "extrawest", party.versions_url, token_a)
    assert partner.endpoint("locations", "RECEIVER") == f"{party.url}/ocpi/emsp/2.2.1/locations/"

    assert await load_demo(cpo.platform)
    locations, tariffs = demo_objects()

    async def received():
        return (await party.state())["received"]

    async def all_locations_arrived():
        got = (await received())["locations"]
        return len(got) == len(locations)

    await wait_for(all_locations_arrived, 20)

    async def evse_at_extrawest():
        loc = (await received())["locations"]["evr-gent-1"]  # the library lower-cases CiString ids
        return next(e for e in loc["evses"] if e["uid"] == "evr-gent-1-e1"), loc

    assert (await evse_at_extrawest())[0]["status"] == "AVAILABLE"
    assert len((await received())["tariffs"]) == len(tariffs)
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E1", "CHARGING")

    async def charging_at_extrawest():
        return (await evse_at_extrawest())[0]["status"] == "CHARGING"

    await wait_for(charging_at_extrawest, 20)
    evse, loc = await evse_at_extrawest()
    async with cpo.platform.store.connect() as conn:
        ours = await cpo.platform.store.locations.get(conn, "DE", "EVR", "EVR-GENT-1")
    sent = next(e for e in ours["evses"] if e["uid"] == "EVR-GENT-1-E1")
    # The library keeps DateTimes to the whole second.
    assert evse["last_updated"] == format_datetime(parse_datetime(sent["last_updated"]).replace(microsecond=0))
    # Every push was accepted: 3 location PUTs, 2 tariff PUTs, 1 EVSE PATCH.
    async with cpo.platform.store.connect() as conn:
        counts = await cpo.platform.store.outbox.counts(conn)
    assert counts == {partner.pk: {"delivered": len(locations) + len(tariffs) + 1}}


async def test_token_rotation_and_unregistration_at_extrawest(make_instance, extrawest):
    """After registering with extrawest, evroam rotates the tokens (PUT credentials) and then
    unregisters (DELETE credentials); extrawest's own routes handle both."""
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    token_a = "extrawest-token-A-rotation"
    party = await extrawest(f"--token-a={token_a}")
    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url, token_a)
    old_c, [old_peer] = partner.outgoing_token, (await party.state())["peers"]

    partner = await handshake.update_with(emsp.platform, partner)
    [peer] = (await party.state())["peers"]
    assert partner.registered and partner.outgoing_token == peer["token_in"] != old_c
    assert peer["token_out"] != old_peer["token_out"]  # our new token B, fetched back by extrawest
    async with httpx.AsyncClient() as http:
        assert (await http.get(party.versions_url, headers=auth(old_c))).status_code == 401
        assert (await http.get(party.versions_url, headers=auth(partner.outgoing_token))).status_code == 200
        assert (await http.get(emsp.versions_url, headers=auth(old_peer["token_out"]))).status_code == 401
        assert (await http.get(emsp.versions_url, headers=auth(peer["token_out"]))).status_code == 200
    counts = await sync.pull(emsp.platform, partner, full=True)  # the new token works for modules too
    assert counts["locations"] == 3

    await handshake.unregister_with(emsp.platform, partner)
    assert (await party.state())["peers"] == []
    partner = await _partner(emsp.platform, "extrawest")
    assert not partner.registered and partner.last_error is None
    async with httpx.AsyncClient() as http:
        assert (await http.get(party.versions_url, headers=auth(peer["token_in"]))).status_code == 401
        assert (await http.get(emsp.versions_url, headers=auth(peer["token_out"]))).status_code == 401


async def test_pull_of_more_than_one_page_from_extrawest(make_instance, extrawest):
    """extrawest pages by 50 by default; with 60 locations the pull needs its second page. Its
    Link header is unusable (docs/interop.md, D7), so evroam asks for the next page by offset."""
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    party = await extrawest("--token-a", "extrawest-token-A-paging", "--locations", "60")
    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url,
                                            "extrawest-token-A-paging")
    await emsp.platform.bus.drain()
    counts = await sync.pull(emsp.platform, partner, full=True)
    assert counts["locations"] == 60


async def test_differences_documented_in_interop_md(make_instance, extrawest):
    """Each behaviour of extrawest-ocpi 2025.7.16 that docs/interop.md lists as a difference
    (D1..D14), checked against the running library so the page stays true."""
    emsp = await make_instance("emsp", country_code="DE", party_id="EVR", roles=("EMSP",))
    token_a = "extrawest-token-A-differences"
    spare_a = "extrawest-token-A-unused"
    party = await extrawest(f"--token-a={token_a}", f"--token-a={spare_a}", "--roles", "CPO,EMSP")
    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url, token_a)
    token_c = partner.outgoing_token
    locations_url = partner.endpoint("locations", "SENDER")
    receiver_url = partner.endpoint("locations", "RECEIVER")

    async with httpx.AsyncClient() as http:
        # D1: 2.2.1 routes accept only the Base64 form; a plain token is not answered with 401
        # but with HTTP 200 + OCPI 3000 (or 403 when it happens to decode).
        r = await http.get(locations_url, headers=auth(token_c, "plain"))
        if r.status_code == 403:  # the random token C happened to be valid Base64 as well
            assert "status_code" not in r.json()
        else:
            assert (r.status_code, r.json()["status_code"]) == (200, 3000)

        # D2: unknown/retired tokens on functional modules and a missing header: HTTP 403 with
        # FastAPI's {"detail": ...}, no OCPI envelope. On versions: 401, also without envelope.
        for headers in (auth(token_a), auth("never-issued"), {}):
            r = await http.get(locations_url, headers=headers)
            assert r.status_code == 403 and "status_code" not in r.json()
        r = await http.get(party.versions_url, headers=auth(token_a))
        assert r.status_code == 401 and "status_code" not in r.json()

        # D3: no X-Request-ID / X-Correlation-ID echoed, no routing headers in responses.
        r = await http.get(locations_url, headers={
            **auth(token_c), "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1",
            "OCPI-from-country-code": "DE", "OCPI-from-party-id": "EVR",
            "OCPI-to-country-code": "NL", "OCPI-to-party-id": "XWT"})
        assert r.status_code == 200
        assert not {"x-request-id", "x-correlation-id", "ocpi-from-party-id", "ocpi-to-party-id"} & set(r.headers)

        # D4: endpoint URLs end with a slash; the same URL without it is a 307 redirect.
        assert locations_url.endswith("/") and partner.endpoint("credentials").endswith("/")
        r = await http.get(locations_url.rstrip("/"), headers=auth(token_c))
        assert r.status_code == 307

        # D5: credentials is listed once per role (here twice), with role RECEIVER.
        creds = [e for e in partner.endpoints if e["identifier"] == "credentials"]
        assert [e["role"] for e in creds] == ["RECEIVER", "RECEIVER"]
        assert [e["url"].split("/")[-4] for e in creds] == ["cpo", "emsp"]

        # D6: every CiString comes out lower-cased: ids, country_code, party_id, evse_id.
        r = await http.get(locations_url, headers=auth(token_c))
        first = r.json()["data"][0]
        assert (first["country_code"], first["party_id"], first["id"]) == ("nl", "xwt", "xwt-loc-1")
        assert first["evses"][0]["evse_id"] == "nl*xwt*e11"
        r = await http.get(partner.endpoint("credentials"), headers=auth(token_c))
        assert {(x["country_code"], x["party_id"]) for x in r.json()["data"]["roles"]} == {("nl", "xwt")}

        # D9: absent optional fields are sent as null.
        assert first["state"] is None and first["evses"][0]["status_schedule"] is None

        # D7: paging headers. Last page: `Link` present but empty. Earlier pages: a Link with
        # https hard-coded, enum names in the path and date_from=None/date_to=None.
        r = await http.get(locations_url, headers=auth(token_c))
        assert r.headers["link"] == "" and r.headers["x-total-count"] == "3" and r.headers["x-limit"] == "50"
        r = await http.get(locations_url, params={"limit": 2}, headers=auth(token_c))
        assert r.headers["link"] == (f'<https://127.0.0.1:{party.port}/ocpi/cpo/VersionNumber.v_2_2_1/'
                                     f'ModuleID.locations/?date_from=None&date_to=None&offset=2&limit=2>; rel="next"')
        assert r.headers["x-limit"] == "2"  # the requested limit, not a server maximum
        r = await http.get(locations_url, params={"limit": 100000}, headers=auth(token_c))
        assert r.headers["x-limit"] == "100000"
        r = await http.get(locations_url, params={"date_from": "None"}, headers=auth(token_c))
        assert r.status_code == 422  # what following that Link would get, even over http

        # D8: a single object comes back as a one-element list.
        r = await http.get(locations_url + "XWT-LOC-1", headers=auth(token_c))
        data = r.json()["data"]
        assert isinstance(data, list) and len(data) == 1 and data[0]["id"] == "xwt-loc-1"

        # D10: schema errors and invalid JSON: HTTP 422 with FastAPI's detail, no envelope.
        # A spec-valid energy_mix (environ_impact is a list) is refused.
        location = {**json.loads(json.dumps(first)), "country_code": "DE", "party_id": "EVR", "id": "EVR-PUSHED-1"}
        url = f"{receiver_url}DE/EVR/EVR-PUSHED-1"
        r = await http.put(url, json={**location, "energy_mix": SPEC_ENERGY_MIX}, headers=auth(token_c))
        assert r.status_code == 422 and "status_code" not in r.json()
        assert any("environ_impact" in e["loc"] for e in r.json()["detail"])
        r = await http.put(url, content=b"{not json", headers={**auth(token_c), "Content-Type": "application/json"})
        assert r.status_code == 422

        # D13: a PUT of a new object is answered 200 (spec: 201), data = [object].
        r = await http.put(url, json=location, headers=auth(token_c))
        assert r.status_code == 200 and r.json()["status_code"] == 1000 and isinstance(r.json()["data"], list)

        # D11/D12: an EVSE PATCH moves the EVSE to the end of the list, leaves the Location's
        # last_updated alone, and DateTimes keep whole seconds only.
        before = (await party.state())["received"]["locations"]
        [stored] = before.values()
        first_uid = stored["evses"][0]["uid"]
        r = await http.patch(f"{url}/{first_uid}", json={"status": "CHARGING",
                                                          "last_updated": "2030-01-01T12:00:00.789Z"},
                             headers=auth(token_c))
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        [after] = (await party.state())["received"]["locations"].values()
        assert after["evses"][-1]["uid"] == first_uid and after["evses"][-1]["status"] == "CHARGING"
        assert after["evses"][-1]["last_updated"] == "2030-01-01T12:00:00Z"
        assert after["last_updated"] == stored["last_updated"]

        # D14: credentials with a token A (not registered): PUT gets 405 as it should, DELETE
        # gets 403 (spec: 405); a POST whose callback cannot connect gets OCPI 3000 (spec: 3001).
        credentials_url = partner.endpoint("credentials")
        ours = await handshake.our_credentials(emsp.platform, "token-b-never-used", "2.2.1")
        r = await http.put(credentials_url, json=ours, headers=auth(spare_a))
        assert r.status_code == 405
        r = await http.delete(credentials_url, headers=auth(spare_a))
        assert r.status_code == 403
        r = await http.post(credentials_url, json={**ours, "url": "http://127.0.0.1:9/ocpi/versions"},
                            headers=auth(spare_a))
        assert (r.status_code, r.json()["status_code"]) == (200, 3000)
        assert spare_a in (await party.state())["registration_tokens"]  # nothing was registered
