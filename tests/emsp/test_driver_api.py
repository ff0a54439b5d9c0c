"""The driver API against an eMSP whose CPO partner pushes locations, tariffs, sessions and CDRs
over OCPI: authentication (driver keys only, never the admin token, and the other way round),
/me, finding chargers (distance, filters), a location with tariff in words and an estimate,
sessions with their cost so far, CDRs, starting and stopping (and every refusal), and a driver
never seeing another driver's records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from drivers_kit import (
    CPO,
    CPO_TOKEN,
    OCPI,
    bearer,
    cdr,
    emsp_with_cpo,
    evse,
    location,
    post_cdr,
    put,
    session,
)

from evroam.driverapi.chargers import haversine_km
from evroam.model.common import parse_datetime, utcnow
from harness import auth, httpx

API = "/driver/v1"


class FakeRemoteCommands:
    """Stands in for the remote command service: records what the driver API asks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.records: dict[str, dict] = {}
        self.fail: str | None = None

    async def start_session(self, **kwargs) -> dict[str, Any]:
        return self._record("START_SESSION", kwargs)

    async def stop_session(self, **kwargs) -> dict[str, Any]:
        return self._record("STOP_SESSION", kwargs)

    async def get(self, command_id: str) -> dict | None:
        return self.records.get(command_id)

    def _record(self, command: str, kwargs: dict) -> dict[str, Any]:
        if self.fail:
            raise ValueError(self.fail)
        self.calls.append((command, kwargs))
        cid = f"CMD-{len(self.calls)}"
        token = kwargs.get("token") or {}
        self.records[cid] = {"id": cid, "command": command, "state": "REQUESTED", "token_uid": token.get("uid"),
                             "session_id": kwargs.get("session_id"), "response": None, "result": None}
        return self.records[cid]


@pytest.fixture
async def emsp(make_instance):
    inst = await emsp_with_cpo(make_instance)
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        # LOC1 (Amsterdam, Damrak) from the kit; LOC2 about 2.6 km away; LOC3 in Utrecht (~35 km)
        await put(http, inst, "locations", location("LOC2", lat="52.35500", lon="4.92000", evses=[
            evse("LOC2-AC", "AVAILABLE", "IEC_62196_T2", "AC_3_PHASE", None)]))  # 230 V x 32 A x 3 = 22.1 kW
        await put(http, inst, "locations", location("LOC3", lat="52.09000", lon="5.12000",
                                                    operator={"name": "Other Energy"}))
        await put(http, inst, "locations", location("HIDDEN", publish=False))
    real = inst.platform.remote_commands
    inst.platform.remote_commands = FakeRemoteCommands()
    drivers = inst.platform.drivers
    inst.keys = {}
    for name, uid in (("alice", "ALICE-1"), ("bob", "BOB-1")):
        inst.keys[name] = (await drivers.add(name, token_uid=uid)).api_key
    inst.keys["carol"] = (await drivers.add("carol", token_uid="CAROL-1", allowed_cpos=["BE/XYZ"])).api_key
    yield inst
    inst.platform.remote_commands = real


def client(inst, who: str | None = "alice", **headers) -> httpx.AsyncClient:
    h = bearer(inst.keys[who]) if who else {}
    return httpx.AsyncClient(base_url=inst.url, headers={**h, **headers})


async def test_authentication(emsp):
    async with client(emsp, None) as http:
        r = await http.get(f"{API}/me")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        for header in ("Bearer evd_nothing", "Token " + emsp.keys["alice"], "Bearer admin-secret",
                       "Bearer " + emsp.keys["alice"] + "x"):
            r = await http.get(f"{API}/me", headers={"Authorization": header})
            assert r.status_code == 401 and r.json() == {"error": "unauthorized", "detail": r.json()["detail"]}
        # the OCPI token of a partner is no driver key either
        assert (await http.get(f"{API}/me", headers=auth(CPO_TOKEN))).status_code == 401
        # and a driver key does not open the admin API
        r = await http.get("/admin/api/drivers", headers=bearer(emsp.keys["alice"]))
        assert r.status_code == 401
        assert (await http.get("/admin/api/drivers", headers=bearer("admin-secret"))).status_code == 200
    # a new key replaces the old one
    new = await emsp.platform.drivers.new_key("alice")
    async with client(emsp, None) as http:
        assert (await http.get(f"{API}/me", headers=bearer(emsp.keys["alice"]))).status_code == 401
        assert (await http.get(f"{API}/me", headers=bearer(new))).json()["name"] == "alice"


async def test_me(emsp):
    async with client(emsp) as http:
        me = (await http.get(f"{API}/me")).json()
    assert me["name"] == "alice" and me["status"] == "ACTIVE" and me["allowed_cpos"] == []
    assert {t["uid"] for t in me["tokens"] if t["type"] == "RFID"} == {"ALICE-1"}
    assert me["spent_this_month"] == {"currency": "EUR", "incl_vat": "0.00"}
    assert "api_key" not in me and me["has_api_key"] is True


async def test_find_chargers(emsp):
    here = (52.37000, 4.89000)  # LOC1
    async with client(emsp) as http:
        found = (await http.get(f"{API}/chargers", params={"lat": here[0], "lon": here[1]})).json()["chargers"]
        assert [c["location_id"] for c in found] == ["LOC1", "LOC2"]  # LOC3 is 35 km away; HIDDEN not published
        assert found[0]["distance_km"] == 0.0
        assert found[1]["distance_km"] == pytest.approx(haversine_km(*here, 52.355, 4.92), abs=0.001)
        assert found[1]["distance_km"] == pytest.approx(2.63, abs=0.01)  # 1.67 km north, 2.04 km east
        assert found[0]["operator"] == "Fast Charging BV" and found[0]["address"]["city"] == "Amsterdam"
        assert {e["uid"]: e["status"] for e in found[0]["evses"]} == {"LOC1-DC": "AVAILABLE", "LOC1-AC": "CHARGING"}
        assert found[1]["evses"][0]["connectors"][0]["power_kw"] == 22.1

        async def ids(**params) -> list[tuple[str, list[str]]]:
            r = await http.get(f"{API}/chargers", params={"lat": here[0], "lon": here[1], **params})
            assert r.status_code == 200, r.text
            return [(c["location_id"], [e["uid"] for e in c["evses"]]) for c in r.json()["chargers"]]

        assert await ids(radius_km=50) == [("LOC1", ["LOC1-DC", "LOC1-AC"]), ("LOC2", ["LOC2-AC"]),
                                           ("LOC3", ["LOC3-DC", "LOC3-AC"])]
        assert await ids(radius_km=1) == [("LOC1", ["LOC1-DC", "LOC1-AC"])]
        assert await ids(connector_type="IEC_62196_T2_COMBO", radius_km=50) == [("LOC1", ["LOC1-DC"]),
                                                                                 ("LOC3", ["LOC3-DC"])]
        assert await ids(min_power_kw=50) == [("LOC1", ["LOC1-DC"])]
        assert await ids(min_power_kw=22) == [("LOC1", ["LOC1-DC", "LOC1-AC"]), ("LOC2", ["LOC2-AC"])]
        assert await ids(min_power_kw=22.05) == [("LOC1", ["LOC1-DC"]), ("LOC2", ["LOC2-AC"])]
        assert await ids(available="true") == [("LOC1", ["LOC1-DC"]), ("LOC2", ["LOC2-AC"])]
        assert await ids(operator="other", radius_km=50) == [("LOC3", ["LOC3-DC", "LOC3-AC"])]
        assert await ids(operator="NL/CPO", limit=1) == [("LOC1", ["LOC1-DC", "LOC1-AC"])]
        assert await ids(operator="XX/NOP") == []
        for bad in ({"lat": 91, "lon": 4}, {"lon": 4}, {"lat": 52, "lon": 4, "radius_km": 0},
                    {"lat": 52, "lon": 4, "radius_km": "far"}, {"lat": 52, "lon": 4, "min_power_kw": -1}):
            r = await http.get(f"{API}/chargers", params=bad)
            assert r.status_code == 422 and r.json()["error"] == "invalid" and isinstance(r.json()["detail"], list)


async def test_location_with_tariff_in_words_and_estimate(emsp):
    async with client(emsp) as http:
        r = await http.get(f"{API}/locations/NL/CPO/LOC1")
        assert r.status_code == 200
        loc = r.json()
        dc = next(e for e in loc["evses"] if e["uid"] == "LOC1-DC")["connectors"][0]
        assert dc["power_kw"] == 150.0 and dc["standard"] == "IEC_62196_T2_COMBO"
        assert dc["tariff"]["id"] == "T-DC"
        assert dc["tariff"]["lines"] == [
            "0.605 EUR per session (incl. 21% VAT), 0.3025 EUR per kWh (incl. 21% VAT)",
            "2.42 EUR per hour parked without charging, billed per 1 min (incl. 21% VAT)",
        ]
        # 30 kWh: 0.50 + 30 x 0.25 = 8.00 excl. VAT, 9.68 incl.; 12 minutes at 150 kW
        est = dc["estimate"]
        assert est["total_cost"] == {"excl_vat": "8.00", "vat": "1.68", "incl_vat": "9.68"}
        assert est["energy_kwh"] == 30.0 and est["power_kw"] == 150.0
        took = parse_datetime(est["charging_ends"]) - parse_datetime(est["start_date_time"])
        assert took == timedelta(minutes=12)
        assert est["by_dimension"] == {"FLAT": {"excl_vat": "0.50", "vat": "0.11", "incl_vat": "0.61"},
                                       "ENERGY": {"excl_vat": "7.50", "vat": "1.58", "incl_vat": "9.08"}}
        # another energy, and a car slower than the connector
        r = await http.get(f"{API}/locations/NL/CPO/LOC1", params={"energy_kwh": 10, "power_kw": 11})
        dc = next(e for e in r.json()["evses"] if e["uid"] == "LOC1-DC")["connectors"][0]
        assert dc["estimate"]["total_cost"]["excl_vat"] == "3.00" and dc["estimate"]["power_kw"] == 11.0
        assert (await http.get(f"{API}/locations/NL/CPO/NOPE")).status_code == 404
        r = await http.get(f"{API}/locations/NL/CPO/HIDDEN")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = await http.get(f"{API}/locations/NL/CPO/LOC1", params={"energy_kwh": 0})
        assert r.status_code == 422


async def test_sessions_cost_so_far_and_privacy(emsp):
    now = utcnow().replace(microsecond=0)
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await put(http, emsp, "sessions", session("S-A1", "ALICE-1", start=now - timedelta(minutes=30), kwh=12.5))
        await put(http, emsp, "sessions", session("S-A0", "ALICE-1", start=now - timedelta(days=2), kwh=30,
                                                  status="COMPLETED"))
        # the CPO sends no cost: we price the periods with its tariff
        await put(http, emsp, "sessions", session("S-B1", "BOB-1", start=now - timedelta(minutes=20), kwh=7,
                                                  with_cost=False))
    async with client(emsp) as http:
        mine = (await http.get(f"{API}/sessions")).json()["sessions"]
        assert [s["session_id"] for s in mine] == ["S-A1", "S-A0"]  # the latest started first
        assert [s["session_id"] for s in (await http.get(f"{API}/sessions", params={"active": "true"})).json()[
            "sessions"]] == ["S-A1"]
        assert [s["session_id"] for s in (await http.get(f"{API}/sessions", params={"active": "false"})).json()[
            "sessions"]] == ["S-A0"]
        one = (await http.get(f"{API}/sessions/NL/CPO/S-A1")).json()
        assert (one["status"], one["kwh"], one["cost_source"]) == ("ACTIVE", 12.5, "cpo")
        assert one["cost"] == {"excl_vat": "3.63", "vat": "0.76", "incl_vat": "4.39"}  # 0.50 + 3.125; x 1.21
        assert one["location"]["name"] == "Station LOC1" and one["location"]["evse_uid"] == "LOC1-DC"
        # Bob's session is not Alice's: 404, as if it did not exist
        r = await http.get(f"{API}/sessions/NL/CPO/S-B1")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        assert (await http.get(f"{API}/sessions/NL/CPO/NOPE")).status_code == 404
        r = await http.post(f"{API}/charging/stop", json={"country_code": "NL", "party_id": "CPO",
                                                          "session_id": "S-B1"})
        assert r.status_code == 404
    async with client(emsp, "bob") as http:
        bobs = (await http.get(f"{API}/sessions/NL/CPO/S-B1")).json()
        assert bobs["cost_source"] == "estimated"
        assert bobs["cost"] == {"excl_vat": "2.25", "vat": "0.47", "incl_vat": "2.72"}  # 0.50 + 7 x 0.25
        assert (await http.get(f"{API}/sessions/NL/CPO/S-A1")).status_code == 404
        assert [s["session_id"] for s in (await http.get(f"{API}/sessions")).json()["sessions"]] == ["S-B1"]


async def test_cdrs_newest_first_with_costs(emsp):
    t0 = parse_datetime("2024-05-02T10:00:00Z")
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await post_cdr(http, emsp, cdr("C-1", "ALICE-1", start=t0, kwh=20))
        await post_cdr(http, emsp, cdr("C-2", "ALICE-1", start=t0 + timedelta(days=1), kwh=10,
                                       total=("9.00", "10.89")))
        await post_cdr(http, emsp, cdr("C-3", "BOB-1", start=t0, kwh=10))
    await emsp.platform.bus.drain()
    async with client(emsp) as http:
        items = (await http.get(f"{API}/cdrs")).json()["cdrs"]
        assert [(c["cdr_id"], c["total_cost"], c["price_check"]) for c in items] == [
            ("C-2", {"excl_vat": "9.00", "vat": "1.89", "incl_vat": "10.89"}, "DISPUTE"),
            ("C-1", {"excl_vat": "5.50", "vat": "1.16", "incl_vat": "6.66"}, "OK"),
        ]
        assert items[1]["energy_kwh"] == 20 and items[1]["location"]["evse_id"] == "NL*CPO*ELOC1-DC"
        assert [c["cdr_id"] for c in (await http.get(f"{API}/cdrs", params={"limit": 1, "offset": 1})).json()[
            "cdrs"]] == ["C-1"]


async def test_start_and_stop_and_every_refusal(emsp):
    fake: FakeRemoteCommands = emsp.platform.remote_commands
    body = {"country_code": "NL", "party_id": "CPO", "location_id": "LOC1", "evse_uid": "LOC1-DC"}
    async with client(emsp) as http:
        r = await http.post(f"{API}/charging/start", json=body)
        assert r.status_code == 202 and r.json()["command"] == "START_SESSION"
        command, kwargs = fake.calls[-1]
        assert kwargs["token"]["type"] == "APP_USER" and kwargs["token"]["valid"] is True  # the app token
        assert (kwargs["country_code"], kwargs["party_id"], kwargs["location_id"], kwargs["evse_uid"]) == \
            ("NL", "CPO", "LOC1", "LOC1-DC")
        cid = r.json()["id"]
        assert (await http.get(f"{API}/commands/{cid}")).json()["id"] == cid
        r = await http.post(f"{API}/charging/start", json={**body, "token_uid": "alice-1", "connector_id": "1"})
        assert r.status_code == 202 and fake.calls[-1][1]["token"]["uid"] == "ALICE-1"
        assert fake.calls[-1][1]["connector_id"] == "1"
        n = len(fake.calls)
        for change, status, error in [
            ({"token_uid": "BOB-1"}, 404, "not_found"),
            ({"location_id": "NOPE"}, 404, "not_found"),
            ({"evse_uid": "NOPE"}, 404, "not_found"),
            ({"connector_id": "9"}, 404, "not_found"),
            ({"party_id": "CP"}, 422, "invalid"),
            ({"evse_uid": None}, 422, "invalid"),
        ]:
            r = await http.post(f"{API}/charging/start", json={**body, **change})
            assert (r.status_code, r.json()["error"]) == (status, error), (change, r.text)
        r = await http.post(f"{API}/charging/start", content=b"{oops", headers={"content-type": "application/json"})
        assert r.status_code == 422
        fake.fail = "NL/CPO is not a registered CPO partner"
        r = await http.post(f"{API}/charging/start", json=body)
        assert r.status_code == 400 and "not a registered CPO partner" in r.json()["detail"]
        fake.fail = None
        emsp.platform.remote_commands = None
        r = await http.post(f"{API}/charging/start", json=body)
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        emsp.platform.remote_commands = fake
        assert len(fake.calls) == n  # nothing was sent for the refused requests
    async with client(emsp, "bob") as http:
        assert (await http.get(f"{API}/commands/{cid}")).status_code == 404  # Alice's command
    async with client(emsp, "carol") as http:  # Carol may charge only at BE/XYZ
        r = await http.post(f"{API}/charging/start", json=body)
        assert r.status_code == 403 and r.json()["error"] == "not_allowed" and "NOT_ALLOWED" in r.json()["detail"]
    await emsp.platform.drivers.set_blocked("bob", True)
    async with client(emsp, "bob") as http:
        r = await http.post(f"{API}/charging/start", json=body)
        assert r.status_code == 403 and r.json()["error"] == "blocked"
        assert (await http.get(f"{API}/me")).json()["status"] == "BLOCKED"  # reading still works
    await emsp.platform.drivers.set_token_enabled("alice", "ALICE-1", "RFID", False)
    async with client(emsp) as http:
        r = await http.post(f"{API}/charging/start", json={**body, "token_uid": "ALICE-1"})
        assert r.status_code == 403 and r.json()["error"] == "blocked"

    # stopping: only one's own session
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await put(http, emsp, "sessions", session("S-1", "ALICE-1", start=utcnow() - timedelta(minutes=5), kwh=1))
    async with client(emsp) as http:
        r = await http.post(f"{API}/charging/stop", json={"country_code": "NL", "party_id": "CPO",
                                                          "session_id": "S-1"})
        assert r.status_code == 202 and fake.calls[-1] == ("STOP_SESSION", {"country_code": "NL", "party_id": "CPO",
                                                                            "session_id": "S-1"})
    async with client(emsp, "carol") as http:
        r = await http.post(f"{API}/charging/stop", json={"country_code": "NL", "party_id": "CPO",
                                                          "session_id": "S-1"})
        assert r.status_code == 404


async def test_unknown_paths_and_methods_answer_in_the_driver_api_form(emsp):
    async with client(emsp) as http:
        r = await http.get(f"{API}/nothing-here")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = await http.delete(f"{API}/me")
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
        # the OCPI paths keep their own error form
        r = await http.get(f"{OCPI}/tokens")
        assert r.status_code == 401 and r.json()["status_code"] == 2000
    assert CPO == ("NL", "CPO")
