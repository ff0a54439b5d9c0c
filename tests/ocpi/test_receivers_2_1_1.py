"""Our receiver and sender interfaces in OCPI 2.1.1, spoken by a 2.1.1 partner: its objects (no
owner fields, `type`, `auth_id`, embedded Locations, number costs) read into the model under the
party of the URL, answered back in 2.1.1, and 2.1.1's own rules (tariff PATCH, a Session PATCH
replacing the charging periods, PATCH without last_updated). And ids compared as the CiStrings they
are, in any case, keeping their owner's spelling."""

from __future__ import annotations

import json

import pytest

from harness import auth, example_dir, httpx

TOKEN = "cpo-211"
BASE = "/ocpi/2.1.1/emsp"
EXAMPLES = example_dir("2.1.1-inline")


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
async def emsp(make_instance):
    inst = await make_instance("emsp", country_code="NL", party_id="TNM", roles=("EMSP",))
    await inst.add_partner("cpo", TOKEN, [("CPO", "BE", "BEC")], version="2.1.1")
    await inst.platform.tokens.add_own({"uid": "012345678", "contract_id": "DE8ACC12E46L89"})
    return inst


async def test_a_2_1_1_location_tariff_and_token_shapes(emsp):
    loc = _example("mod_locations_example_06.json")
    async with httpx.AsyncClient(headers=auth(TOKEN, "plain")) as http:
        r = await http.put(f"{emsp.url}{BASE}/locations/BE/BEC/LOC1", json=loc)
        assert r.status_code == 201 and r.json()["status_code"] == 1000
        got = (await http.get(f"{emsp.url}{BASE}/locations/BE/BEC/LOC1")).json()["data"]
        assert got == {**loc, "time_zone": "Europe/Brussels"}  # said back in 2.1.1
        # a 2.1.1 PATCH needs no last_updated; the connector's tariff_id becomes the model's tariff_ids
        r = await http.patch(f"{emsp.url}{BASE}/locations/BE/BEC/LOC1/3256/1", json={"tariff_id": "15"})
        assert r.status_code == 200, r.text
        tariff = _example("mod_tariffs_example_06.json")
        r = await http.put(f"{emsp.url}{BASE}/tariffs/BE/BEC/11", json=tariff)
        assert r.status_code == 201
        # 2.1.1 tariffs take PATCH
        r = await http.patch(f"{emsp.url}{BASE}/tariffs/BE/BEC/11", json=_example("mod_tariffs_example_02.json"))
        assert r.status_code == 200, r.text
        patched = (await http.get(f"{emsp.url}{BASE}/tariffs/BE/BEC/11")).json()["data"]
        assert patched["elements"] == _example("mod_tariffs_example_02.json")["elements"]
    async with emsp.platform.store.connect() as conn:
        stored = await emsp.platform.store.locations.get(conn, "BE", "BEC", "LOC1")
        stored_tariff = await emsp.platform.store.tariffs.get(conn, "BE", "BEC", "11")
    assert (stored["country_code"], stored["party_id"], stored["parking_type"]) == ("BE", "BEC", "ON_STREET")
    assert stored["evses"][0]["connectors"][0]["tariff_ids"] == ["15"]
    assert stored["evses"][0]["connectors"][0]["max_voltage"] == 220
    assert (stored_tariff["country_code"], stored_tariff["party_id"]) == ("BE", "BEC")
    # the same tariff PATCH in 2.2.1 is not a method of the module
    await emsp.add_partner("cpo-221", "cpo-221", [("CPO", "FR", "FRC")])
    async with httpx.AsyncClient(headers=auth("cpo-221")) as http:
        r = await http.patch(f"{emsp.url}/ocpi/2.2.1/emsp/tariffs/FR/FRC/11", json={"currency": "EUR"})
        assert r.status_code == 405 and r.json()["status_code"] == 2000


async def test_a_2_1_1_session_and_its_patches(emsp):
    session = _example("mod_sessions_example_03.json")  # COMPLETED, three periods, auth_id of our token
    async with httpx.AsyncClient(headers=auth(TOKEN, "plain")) as http:
        r = await http.put(f"{emsp.url}{BASE}/sessions/BE/BEC/101", json=session)
        assert r.status_code == 201, r.text
        async with emsp.platform.store.connect() as conn:
            stored = await emsp.platform.store.sessions.get(conn, "BE", "BEC", "101")
        # the token behind the auth_id is ours: its uid and type, not the contract id
        assert stored["cdr_token"] == {"country_code": "NL", "party_id": "TNM", "uid": "012345678", "type": "RFID",
                                       "contract_id": "DE8ACC12E46L89"}
        assert (stored["location_id"], stored["evse_uid"], stored["connector_id"]) == ("LOC1", "3256", "1")
        assert stored["total_cost"] == {"excl_vat": 8.5} and len(stored["charging_periods"]) == 3
        # a 2.1.1 PATCH replaces the periods it names (2.2.1 would append them)
        one = [session["charging_periods"][0]]
        r = await http.patch(f"{emsp.url}{BASE}/sessions/BE/BEC/101", json={"charging_periods": one,
                                                                              "total_cost": 9.0})
        assert r.status_code == 200, r.text
        async with emsp.platform.store.connect() as conn:
            stored = await emsp.platform.store.sessions.get(conn, "BE", "BEC", "101")
        assert len(stored["charging_periods"]) == 1 and stored["total_cost"] == {"excl_vat": 9.0}
        got = (await http.get(f"{emsp.url}{BASE}/sessions/BE/BEC/101")).json()
        # said back in 2.1.1 needs the Location, which the eMSP does not hold here: not said wrong
        assert got["status_code"] == 2000 and "LOC1" in got["status_message"]


async def test_ids_are_case_insensitive_and_keep_their_spelling(emsp):
    loc = _example("mod_locations_example_06.json")
    async with httpx.AsyncClient(headers=auth(TOKEN, "plain")) as http:
        assert (await http.put(f"{emsp.url}{BASE}/locations/be/bec/LOC1", json=loc)).status_code == 201
        # the same location, whatever case the URL spells it in
        r = await http.get(f"{emsp.url}{BASE}/locations/BE/BEC/loc1/3256")
        assert r.status_code == 200 and r.json()["data"]["uid"] == "3256"
        r = await http.put(f"{emsp.url}{BASE}/locations/BE/BEC/loc1", json={**loc, "id": "loc1", "name": "Renamed"})
        assert r.status_code == 200  # replaced, not a second location
    async with emsp.platform.store.connect() as conn:
        assert await emsp.platform.store.locations.count(conn) == 1
        stored = await emsp.platform.store.locations.get(conn, "be", "bec", "LoC1")
    assert stored["name"] == "Renamed" and stored["id"] == "loc1"  # as its owner spelled it last

    # our own tokens: a CPO's real-time authorization in another case finds the token
    await emsp.add_partner("cpo2", "cpo2", [("CPO", "FR", "FRC")])
    async with httpx.AsyncClient(headers=auth("cpo2")) as http:
        r = await http.post(f"{emsp.url}/ocpi/2.2.1/emsp/tokens/012345678/authorize")
        assert r.json()["data"]["allowed"] == "ALLOWED"
    await emsp.platform.tokens.add_own({"uid": "AbCdEf01", "contract_id": "NL-TNM-C1"})
    async with httpx.AsyncClient(headers=auth("cpo2")) as http:
        r = await http.post(f"{emsp.url}/ocpi/2.2.1/emsp/tokens/abcdef01/authorize")
        assert r.status_code == 200 and r.json()["data"]["token"]["uid"] == "AbCdEf01"
