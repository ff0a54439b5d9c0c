"""Locations and tariffs receiver interfaces (we are the eMSP): PUT/PATCH/GET/DELETE, the
parents' last_updated, 200 vs 201, id mismatches, and party scoping."""

from __future__ import annotations

import copy

import pytest
from test_transport import location

from harness import auth, httpx

TOKEN, OTHER = "cpo-token", "other-cpo-token"
BASE = "/ocpi/2.2.1/emsp"


@pytest.fixture
async def emsp(instance):
    await instance.add_partner("abc", TOKEN, [("CPO", "DE", "ABC")])
    await instance.add_partner("xyz", OTHER, [("CPO", "FR", "XYZ")])
    return instance


async def test_put_patch_get_location_evse_connector(emsp):
    u = f"{emsp.url}{BASE}/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        assert (await http.get(u)).status_code == 404
        r = await http.put(u, json=location())
        assert r.status_code == 201 and r.json()["status_code"] == 1000
        assert r.headers["ocpi-from-party-id"] == "EVR" and r.headers["ocpi-to-party-id"] == "ABC"
        assert (await http.put(u, json=location())).status_code == 200

        # PATCH of a location field
        r = await http.patch(u, json={"name": "Depot", "last_updated": "2024-03-02T00:00:00Z"})
        assert r.status_code == 200
        got = (await http.get(u)).json()["data"]
        assert got["name"] == "Depot" and got["last_updated"] == "2024-03-02T00:00:00Z"

        # PATCH without last_updated is refused and changes nothing
        r = await http.patch(u, json={"name": "Other"})
        assert r.status_code == 400 and r.json()["status_code"] == 2001 and "last_updated" in r.json()["status_message"]
        assert (await http.get(u)).json()["data"]["name"] == "Depot"

        # EVSE status PATCH bumps the EVSE's and the location's last_updated
        r = await http.patch(f"{u}/E1", json={"status": "CHARGING", "last_updated": "2024-03-03T00:00:00Z"})
        assert r.status_code == 200
        got = (await http.get(u)).json()["data"]
        assert got["evses"][0]["status"] == "CHARGING"
        assert got["last_updated"] == "2024-03-03T00:00:00Z"

        # an invalid status is refused
        r = await http.patch(f"{u}/E1", json={"status": "BROKEN", "last_updated": "2024-03-04T00:00:00Z"})
        assert r.status_code == 400 and "status" in r.json()["status_message"]

        # PUT a new EVSE, then a connector inside it
        evse = copy.deepcopy(location()["evses"][0])
        evse.update(uid="E2", last_updated="2024-03-05T00:00:00Z")
        assert (await http.put(f"{u}/E2", json=evse)).status_code == 201
        conn = {**evse["connectors"][0], "id": "2", "last_updated": "2024-03-06T00:00:00Z"}
        assert (await http.put(f"{u}/E2/2", json=conn)).status_code == 201
        got = (await http.get(f"{u}/E2")).json()["data"]
        assert [c["id"] for c in got["connectors"]] == ["1", "2"]
        assert got["last_updated"] == "2024-03-06T00:00:00Z"
        assert (await http.get(u)).json()["data"]["last_updated"] == "2024-03-06T00:00:00Z"

        # connector PATCH
        r = await http.patch(f"{u}/E2/2", json={"tariff_ids": ["15"], "last_updated": "2024-03-07T00:00:00Z"})
        assert r.status_code == 200
        assert (await http.get(f"{u}/E2/2")).json()["data"]["tariff_ids"] == ["15"]

        # EVSEs are never deleted: REMOVED via PATCH
        await http.patch(f"{u}/E2", json={"status": "REMOVED", "last_updated": "2024-03-08T00:00:00Z"})
        assert (await http.get(f"{u}/E2")).json()["data"]["status"] == "REMOVED"

        # unknown children
        assert (await http.get(f"{u}/E9")).status_code == 404
        assert (await http.get(f"{u}/E1/9")).status_code == 404
        r = await http.put(f"{emsp.url}{BASE}/locations/DE/ABC/NOPE/E1", json=evse)
        assert r.status_code == 404 and r.json()["status_code"] == 2003


async def test_url_and_body_ids_must_match(emsp):
    u = f"{emsp.url}{BASE}/locations/DE/ABC"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        r = await http.put(f"{u}/LOC2", json=location(lid="LOC1"))
        assert r.status_code == 400 and r.json()["status_code"] == 2001 and "id" in r.json()["status_message"]
        r = await http.put(f"{u}/LOC1", json=location(pid="ABD"))
        assert r.status_code == 400 and "party_id" in r.json()["status_message"]
        await http.put(f"{u}/LOC1", json=location())
        r = await http.put(f"{u}/LOC1/E7", json=location()["evses"][0])
        assert r.status_code == 400 and "uid" in r.json()["status_message"]


async def test_a_partner_cannot_touch_another_partys_objects(emsp):
    async with httpx.AsyncClient() as http:
        u = f"{emsp.url}{BASE}/locations/DE/ABC/LOC1"
        assert (await http.put(u, headers=auth(TOKEN), json=location())).status_code == 201
        # FR/XYZ may neither read nor write DE/ABC's data
        r = await http.get(u, headers=auth(OTHER))
        assert r.status_code == 403 and r.json()["status_code"] == 2000 and "DE/ABC" in r.json()["status_message"]
        r = await http.put(u, headers=auth(OTHER), json=location(name="hijacked"))
        assert r.status_code == 403
        r = await http.patch(f"{u}/E1", headers=auth(OTHER), json={"status": "BLOCKED", "last_updated": "2025-01-01T00:00:00Z"})
        assert r.status_code == 403
        t = f"{emsp.url}{BASE}/tariffs/DE/ABC/T1"
        assert (await http.delete(t, headers=auth(OTHER))).status_code == 403
    async with emsp.platform.store.connect() as conn:
        stored = await emsp.platform.store.locations.get(conn, "DE", "ABC", "LOC1")
    assert "name" not in stored and stored["evses"][0]["status"] == "AVAILABLE"


async def test_tariffs_receiver(emsp, examples):
    import json

    tariff = json.loads((examples / "tariff_4_complex.json").read_text())
    tariff.update(country_code="DE", party_id="ABC", id="T1")
    u = f"{emsp.url}{BASE}/tariffs/DE/ABC/T1"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        assert (await http.put(u, json=tariff)).status_code == 201
        assert (await http.put(u, json=tariff)).status_code == 200
        assert (await http.get(u)).json()["data"] == tariff
        bad = {**tariff, "elements": []}
        r = await http.put(u, json=bad)
        assert r.status_code == 400 and "elements" in r.json()["status_message"]
        assert (await http.get(u)).json()["data"] == tariff
        assert (await http.delete(u)).status_code == 200
        assert (await http.get(u)).status_code == 404
        assert (await http.delete(u)).status_code == 404


async def test_datetimes_beyond_the_calendar_are_2001(emsp):
    """A DateTime whose UTC offset moves it out of years 1-9999, an offset that is no time of
    day, or digits other than ASCII: 2001 with the field named, never a 500; nothing stored."""
    u = f"{emsp.url}{BASE}/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        for stamp in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-01-01T00:00:00+24:00",
                      "２０２４-01-01T00:00:00Z"):
            r = await http.put(u, json=location(last_updated=stamp))
            assert r.status_code == 400 and r.json()["status_code"] == 2001, (stamp, r.text)
            assert "last_updated" in r.json()["status_message"]
        assert (await http.get(u)).status_code == 404
        assert (await http.put(u, json=location())).status_code == 201
        r = await http.patch(f"{u}/E1", json={"status": "BLOCKED", "last_updated": "0001-01-01T00:00:00+01:00"})
        assert r.status_code == 400 and r.json()["status_code"] == 2001, r.text
        assert (await http.get(f"{u}/E1")).json()["data"]["status"] == "AVAILABLE"
