"""Two evroam instances, one CPO and one eMSP, register with each other over real HTTP; the
eMSP ends up with the CPO's locations and tariffs, and an EVSE status change at the CPO
reaches the eMSP through the outbox."""

from __future__ import annotations

from evroam.demo import demo_objects, load_demo
from evroam.ocpi.credentials import handshake
from harness import auth, httpx, wait_for


async def test_cpo_and_emsp_register_pull_and_push(make_instance):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",))
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    assert await load_demo(cpo.platform)

    # The CPO invites; the eMSP registers with the token A it was given.
    _, token_a = await handshake.invite(cpo.platform, "emsp-partner")
    partner = await handshake.register_with(emsp.platform, "cpo-partner", cpo.versions_url, token_a)
    assert partner.registered and partner.version == "2.3.0"  # the highest both speak
    assert partner.parties() == [("NL", "CPO")]
    assert partner.endpoint("locations", "SENDER") == f"{cpo.url}/ocpi/2.3.0/cpo/locations"

    async with cpo.platform.store.connect() as conn:
        at_cpo = await cpo.platform.store.partners.by_name(conn, "emsp-partner")
    assert at_cpo.registered and at_cpo.parties() == [("DE", "MSP")]
    assert at_cpo.endpoint("locations", "RECEIVER") == f"{emsp.url}/ocpi/2.3.0/emsp/locations"

    # Token A no longer opens anything.
    async with httpx.AsyncClient() as http:
        r = await http.get(cpo.versions_url, headers=auth(token_a))
        assert r.status_code == 401

    # The eMSP pulled the CPO's locations and tariffs right after registering.
    locations, tariffs = demo_objects()

    async def pulled():
        async with emsp.platform.store.connect() as conn:
            n_loc = await emsp.platform.store.locations.count(conn, owners=[("NL", "CPO")])
            n_tar = await emsp.platform.store.tariffs.count(conn, owners=[("NL", "CPO")])
        return n_loc == len(locations) and n_tar == len(tariffs)

    await wait_for(pulled)

    # An EVSE status change at the CPO reaches the eMSP.
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E1", "CHARGING")

    async def charging_at_emsp():
        async with emsp.platform.store.connect() as conn:
            loc = await emsp.platform.store.locations.get(conn, "NL", "CPO", "EVR-GENT-1")
        return loc["evses"][0]["status"] == "CHARGING"

    await wait_for(charging_at_emsp)
    async with emsp.platform.store.connect() as conn:
        loc = await emsp.platform.store.locations.get(conn, "NL", "CPO", "EVR-GENT-1")
    # The PATCH moved the EVSE's and the location's last_updated along.
    assert loc["evses"][0]["last_updated"] == loc["last_updated"]
