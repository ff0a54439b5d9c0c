"""Interoperability with a third-party OCPI 2.2.1 implementation: the `extrawest-ocpi` library
(FastAPI, pydantic 1), run as a separate process from its own venv (see conftest.py and
extrawest_party.py). Covered: the credentials handshake in both directions and a locations
(and tariffs) pull. docs/interop.md lists what differs between the two implementations."""

from __future__ import annotations

from evroam.demo import demo_objects, load_demo
from evroam.model.common import format_datetime, parse_datetime
from evroam.ocpi import sync
from evroam.ocpi.credentials import handshake
from harness import auth, httpx, wait_for

XW_PARTY = ("NL", "XWT")


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
    party = await extrawest("--token-a", token_a, "--roles", "CPO,EMSP")

    partner = await handshake.register_with(emsp.platform, "extrawest", party.versions_url, token_a)

    # What evroam stored about extrawest.
    assert partner.registered and partner.version == "2.2.1"
    assert partner.version_url == f"{party.url}/ocpi/2.2.1/details"
    assert partner.outgoing_encoding == "base64"
    assert sorted((r["role"], r["country_code"], r["party_id"]) for r in partner.roles) == [
        ("CPO", "NL", "XWT"), ("EMSP", "NL", "XWT")]
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

    party = await extrawest("--register-with", emsp.versions_url, "--peer-token-a", token_a)
    keyword, result = await party.expect("REGISTERED", "REGISTRATION-FAILED")
    assert keyword == "REGISTERED", f"{result}\n{party.log()}"
    assert result["version"] == "2.2.1"
    assert result["credentials_url"] == f"{emsp.url}/ocpi/2.2.1/credentials"
    assert {(e["identifier"], e["role"]) for e in result["endpoints"]} == {
        ("credentials", "SENDER"), ("locations", "RECEIVER"), ("tariffs", "RECEIVER")}

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
    party = await extrawest("--token-a", token_a, "--roles", "CPO,EMSP")
    partner = await handshake.register_with(cpo.platform, "extrawest", party.versions_url, token_a)
    assert partner.endpoint("locations", "RECEIVER") == f"{party.url}/ocpi/emsp/2.2.1/locations/"

    assert await load_demo(cpo.platform)
    locations, tariffs = demo_objects()

    async def received():
        return (await party.state())["received"]

    async def all_locations_arrived():
        got = (await received())["locations"]
        return len(got) == len(locations)

    await wait_for(all_locations_arrived, timeout=20)

    async def evse_at_extrawest():
        loc = (await received())["locations"]["evr-gent-1"]  # the library lower-cases CiString ids
        return next(e for e in loc["evses"] if e["uid"] == "evr-gent-1-e1"), loc

    assert (await evse_at_extrawest())[0]["status"] == "AVAILABLE"
    assert len((await received())["tariffs"]) == len(tariffs)
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E1", "CHARGING")

    async def charging_at_extrawest():
        return (await evse_at_extrawest())[0]["status"] == "CHARGING"

    await wait_for(charging_at_extrawest, timeout=20)
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
