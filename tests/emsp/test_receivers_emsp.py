"""The eMSP's receiver interfaces for Sessions and CDRs (and the error paths of locations and
tariffs): PUT/PATCH with the charging_periods rules of mod_sessions, CDR POST answered with a
Location header the CPO can GET, duplicates and Credit CDRs, and party scoping."""

from __future__ import annotations

import copy

import pytest
from cpo_records import cdr, credit, location, session

from evroam.services.received import credit_sign
from harness import auth, httpx

TOKEN, OTHER = "abc-cpo-token", "xyz-cpo-token"
BASE = "/ocpi/2.2.1/emsp"
PERIOD_1 = {"start_date_time": "2020-03-09T10:17:09Z", "dimensions": [{"type": "ENERGY", "volume": 2.2}]}
PERIOD_2 = {"start_date_time": "2020-03-09T10:47:09Z", "dimensions": [{"type": "ENERGY", "volume": 3.1}],
            "tariff_id": "12"}


@pytest.fixture
async def emsp(make_instance):
    inst = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    await inst.add_partner("abc", TOKEN, [("CPO", "DE", "ABC")])
    await inst.add_partner("xyz", OTHER, [("CPO", "FR", "XYZ")])
    return inst


async def stored(inst, kind: str, cc: str, pid: str, object_id: str):
    repo = inst.platform.store.sessions if kind == "sessions" else inst.platform.store.cdrs
    async with inst.platform.store.connect() as conn:
        return await repo.get(conn, cc, pid, object_id)


def error(r, http_status: int, ocpi_status: int, *words: str) -> None:
    body = r.json()
    assert r.status_code == http_status, (r.status_code, body)
    assert body["status_code"] == ocpi_status, body
    for word in words:
        assert word in body["status_message"], body


async def test_session_put_get_patch_appends_charging_periods(emsp):
    u = f"{emsp.url}{BASE}/sessions/DE/ABC/101"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        error(await http.get(u), 404, 2000, "101")
        r = await http.put(u, json=session(charging_periods=[PERIOD_1]))
        assert r.status_code == 201 and r.json()["status_code"] == 1000
        assert r.headers["ocpi-from-country-code"] == "DE" and r.headers["ocpi-from-party-id"] == "MSP"
        assert r.headers["ocpi-to-party-id"] == "ABC"
        got = (await http.get(u)).json()["data"]
        assert got["status"] == "PENDING" and got["charging_periods"] == [PERIOD_1]

        # PATCH: the fields given change, and the periods carried are appended (not replaced).
        patch = {"status": "ACTIVE", "kwh": 5.3, "charging_periods": [PERIOD_2],
                 "total_cost": {"excl_vat": 0.8, "incl_vat": 0.88}, "last_updated": "2020-03-09T10:50:00Z"}
        r = await http.patch(u, json=patch)
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        got = (await http.get(u)).json()["data"]
        assert got["charging_periods"] == [PERIOD_1, PERIOD_2]
        assert got["status"] == "ACTIVE" and got["kwh"] == 5.3 and got["total_cost"] == patch["total_cost"]
        assert got["last_updated"] == "2020-03-09T10:50:00Z"

        # The same PATCH again (a CPO retrying) does not append its period twice; an empty or
        # omitted list changes no period.
        assert (await http.patch(u, json=patch)).status_code == 200
        assert (await http.patch(u, json={"charging_periods": [], "kwh": 6.0,
                                          "last_updated": "2020-03-09T10:55:00Z"})).status_code == 200
        got = (await http.get(u)).json()["data"]
        assert got["charging_periods"] == [PERIOD_1, PERIOD_2] and got["kwh"] == 6.0

        # PUT replaces the whole session: periods omitted are removed.
        r = await http.put(u, json=session(status="COMPLETED", kwh=6.0, last_updated="2020-03-09T11:00:00Z"))
        assert r.status_code == 200
        got = (await http.get(u)).json()["data"]
        assert got["status"] == "COMPLETED" and "charging_periods" not in got


async def test_session_errors_change_nothing(emsp):
    u = f"{emsp.url}{BASE}/sessions/DE/ABC/101"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        error(await http.patch(u, json={"kwh": 1.0, "last_updated": "2020-03-09T10:50:00Z"}), 404, 2000)
        assert (await http.put(u, json=session())).status_code == 201
        before = await stored(emsp, "sessions", "DE", "ABC", "101")

        error(await http.patch(u, json={"kwh": 9.0}), 400, 2001, "last_updated")
        error(await http.patch(u, json={"id": "102", "last_updated": "2020-03-09T10:50:00Z"}), 400, 2001, "id")
        error(await http.patch(u, json={"status": "FINISHED", "last_updated": "2020-03-09T10:50:00Z"}), 400, 2001,
              "status")
        error(await http.patch(u, json={"charging_periods": {"start_date_time": "x"},
                                        "last_updated": "2020-03-09T10:50:00Z"}), 400, 2001, "charging_periods")
        error(await http.patch(u, json={"charging_periods": [{"start_date_time": "2020-03-09T10:50:00Z",
                                                              "dimensions": []}],
                                        "last_updated": "2020-03-09T10:50:00Z"}), 400, 2001, "dimensions")
        error(await http.patch(u, content=b"{not json"), 400, 2001, "JSON")
        error(await http.put(u, json=session(sid="102")), 400, 2001, "id")
        error(await http.put(u, json=session(pid="ABD")), 400, 2001, "party_id")
        error(await http.put(u, json={**session(), "kwh": "lots"}), 400, 2001, "kwh")
        # A session of another eMSP's driver is not ours to keep.
        foreign = session()
        foreign["cdr_token"].update(country_code="NL", party_id="OTH")
        error(await http.put(u, json=foreign), 400, 2001, "cdr_token", "NL/OTH")
        error(await http.patch(u, json={"cdr_token": foreign["cdr_token"], "last_updated": "2020-03-09T10:50:00Z"}),
              400, 2001, "cdr_token")
    assert await stored(emsp, "sessions", "DE", "ABC", "101") == before


async def test_cpo_partners_stay_within_their_own_parties(emsp):
    u = f"{emsp.url}{BASE}/sessions/DE/ABC/101"
    async with httpx.AsyncClient() as http:
        assert (await http.put(u, headers=auth(TOKEN), json=session())).status_code == 201
        r = await http.post(f"{emsp.url}{BASE}/cdrs", headers=auth(TOKEN), json=cdr())
        assert r.status_code == 201
        cdr_url = r.headers["location"]
        before = (await stored(emsp, "sessions", "DE", "ABC", "101"), await stored(emsp, "cdrs", "DE", "ABC", "12345"))

        # FR/XYZ can neither read nor write DE/ABC's sessions and CDRs (403, generic client error) ...
        error(await http.get(u, headers=auth(OTHER)), 403, 2000, "DE/ABC", "FR/XYZ")
        error(await http.put(u, headers=auth(OTHER), json=session(status="INVALID")), 403, 2000)
        error(await http.patch(u, headers=auth(OTHER), json={"status": "INVALID",
                                                             "last_updated": "2021-01-01T00:00:00Z"}), 403, 2000)
        error(await http.get(cdr_url, headers=auth(OTHER)), 403, 2000, "DE/ABC")
        # ... nor push one of DE/ABC's objects under its own URL (ids in the body rule: 2001) ...
        error(await http.put(f"{emsp.url}{BASE}/sessions/FR/XYZ/101", headers=auth(OTHER), json=session()), 400, 2001,
              "party_id")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", headers=auth(OTHER), json=cdr(cid="999")), 400, 2001,
              "DE/ABC", "FR/XYZ")
        error(await http.put(f"{emsp.url}{BASE}/locations/DE/ABC/LOC1", headers=auth(OTHER), json=location()), 403,
              2000)
        # ... and no CPO can list what we hold about our drivers: there is no list interface.
        for path in ("/sessions", "/cdrs"):
            r = await http.get(f"{emsp.url}{BASE}{path}", headers=auth(TOKEN))
            assert r.status_code in (404, 405) and r.json()["status_code"] == 2000
        # Without a valid token nothing opens.
        error(await http.get(u), 401, 2000)
        error(await http.get(u, headers=auth("guessed-token")), 401, 2000)
        error(await http.post(f"{emsp.url}{BASE}/cdrs", headers=auth("guessed-token"), json=cdr(cid="998")), 401,
              2000)
    assert (await stored(emsp, "sessions", "DE", "ABC", "101"),
            await stored(emsp, "cdrs", "DE", "ABC", "12345")) == before
    assert await stored(emsp, "cdrs", "DE", "ABC", "999") is None
    assert await stored(emsp, "sessions", "FR", "XYZ", "101") is None


async def test_cdr_post_location_header_and_duplicates(emsp):
    original = cdr()
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        r = await http.post(f"{emsp.url}{BASE}/cdrs", json=original)
        assert r.status_code == 201 and r.json()["status_code"] == 1000 and "data" not in r.json()
        assert r.headers["location"] == f"{emsp.url}{BASE}/cdrs/DE/ABC/12345"
        assert r.headers["ocpi-to-party-id"] == "ABC"
        got = await http.get(r.headers["location"])
        assert got.status_code == 200 and got.json()["data"] == original

        # CDRs are never replaced: the same id with other content is refused.
        changed = {**original, "total_cost": {"excl_vat": 1.0, "incl_vat": 1.1}}
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=changed), 400, 2001, "12345", "Credit CDR")
        # The very same CDR again (a CPO retrying after losing our answer) is answered as before,
        # so its outbox does not count a delivered CDR as refused; nothing is stored twice.
        again = await http.post(f"{emsp.url}{BASE}/cdrs", json=original)
        assert again.status_code == 201 and again.json()["status_code"] == 1000
        assert again.headers["location"] == r.headers["location"]
        assert (await http.get(r.headers["location"])).json()["data"] == original

        # Not a CDR, or not a valid one: 2001 with the field named, nothing stored.
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=[original]), 400, 2001)
        error(await http.post(f"{emsp.url}{BASE}/cdrs", content=b""), 400, 2001, "empty")
        bad = cdr(cid="777", charging_periods=[{"start_date_time": "2015-06-29T21:39:09Z",
                                                "dimensions": [{"type": "STATE_OF_CHARGE", "volume": 50}]}])
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=bad), 400, 2001, "STATE_OF_CHARGE")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=cdr(cid="X" * 37)), 400, 2001, "36")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=cdr(cid="778", credit_reference_id="12345")), 400, 2001,
              "credit_reference_id")
        foreign = cdr(cid="779")
        foreign["cdr_token"].update(country_code="NL", party_id="OTH")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=foreign), 400, 2001, "cdr_token")
        # CDRs cannot be changed or removed (mod_cdrs: no PUT, PATCH, DELETE).
        for method in ("PUT", "PATCH", "DELETE"):
            r = await http.request(method, f"{emsp.url}{BASE}/cdrs/DE/ABC/12345", json=changed)
            assert r.status_code == 405 and r.json()["status_code"] == 2000
        error(await http.get(f"{emsp.url}{BASE}/cdrs/DE/ABC/777"), 404, 2000, "777")
    for cid in ("777", "X" * 37, "778", "779"):
        assert await stored(emsp, "cdrs", "DE", "ABC", cid) is None


async def test_credit_cdr_cancels_the_cdr_it_references(emsp):
    original = cdr()
    events: list[dict] = []
    emsp.platform.bus.subscribe("cdr.received", lambda e: events.append(e.data))
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        # A credit for a CDR we never received is refused.
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=credit(original)), 400, 2001, "12345", "follow")
        assert (await http.post(f"{emsp.url}{BASE}/cdrs", json=original)).status_code == 201

        # The credit must carry the negated total_cost, in the same currency.
        wrong = credit(original, total_cost={"excl_vat": -3.0, "incl_vat": -3.3})
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=wrong), 400, 2001, "total_cost.excl_vat", "-4")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=credit(original, total_cost={"excl_vat": -4.0})), 400,
              2001, "incl_vat")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=credit(original, currency="USD")), 400, 2001, "currency")
        positive = credit(original, total_cost=original["total_cost"])
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=positive), 400, 2001, "negated")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json={**credit(original), "credit_reference_id": None}), 400,
              2001, "credit_reference_id")

        # The right one is stored, linked, and may use an id of up to 39 characters.
        good = credit(original, cid="12345-CREDIT")
        r = await http.post(f"{emsp.url}{BASE}/cdrs", json=good)
        assert r.status_code == 201, r.json()
        assert (await http.get(r.headers["location"])).json()["data"] == good
        assert await emsp.platform.received.credit_of("DE", "ABC", "12345") == "12345-CREDIT"
        assert await emsp.platform.received.credit_of("DE", "ABC", "12345-CREDIT") is None

        # One credit per CDR, and a credit cannot be credited.
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=credit(original, cid="12345-C2")), 400, 2001,
              "already credited", "12345-CREDIT")
        error(await http.post(f"{emsp.url}{BASE}/cdrs", json=credit(good, cid="12345-C3")), 400, 2001,
              "itself a Credit CDR")
    await emsp.platform.bus.drain()
    assert [(e["cdr_id"], e["credit"], e["credit_reference_id"]) for e in events] == [
        ("12345", False, None), ("12345-CREDIT", True, "12345")]

    # Summing total_cost nets the credited CDR out; other totals weigh with credit_sign.
    async with emsp.platform.store.connect() as conn:
        held = await emsp.platform.store.cdrs.all(conn, ("DE", "ABC"))
    assert sorted(c["id"] for c in held) == ["12345", "12345-CREDIT"]
    assert sum(c["total_cost"]["excl_vat"] for c in held) == 0
    assert sum(c["total_cost"]["incl_vat"] for c in held) == 0
    assert sum(credit_sign(c) * c["total_energy"] for c in held) == 0
    assert await stored(emsp, "cdrs", "DE", "ABC", "12345-C2") is None


async def test_location_and_tariff_receiver_error_paths(emsp, examples):
    import json

    u = f"{emsp.url}{BASE}/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient(headers=auth(TOKEN)) as http:
        error(await http.patch(u, json={"name": "x", "last_updated": "2024-03-02T00:00:00Z"}), 404, 2003, "LOC1")
        assert (await http.put(u, json=location())).status_code == 201
        before = (await http.get(u)).json()["data"]
        error(await http.put(u, content=b"[1,2"), 400, 2001, "JSON")
        error(await http.put(u, json=location(time_zone=None)), 400, 2001, "time_zone")
        error(await http.put(u, json={**location(), "evses": [{"uid": "E1"}]}), 400, 2001, "evses")
        error(await http.patch(f"{u}/E1", json={"status": "AVAILABLE"}), 400, 2001, "last_updated")
        error(await http.patch(u, json={"id": "LOC2", "last_updated": "2024-03-02T00:00:00Z"}), 400, 2001, "id")
        error(await http.patch(f"{u}/E9", json={"status": "AVAILABLE", "last_updated": "2024-03-02T00:00:00Z"}), 404,
              2000, "E9")
        r = await http.delete(u)  # locations are never deleted (mod_locations: no DELETE)
        assert r.status_code == 405 and r.json()["status_code"] == 2000
        assert (await http.get(u)).json()["data"] == before

        tariff = json.loads((examples / "tariff_1_simple_2hour.json").read_text())
        tariff.update(country_code="DE", party_id="ABC", id="T1")
        t = f"{emsp.url}{BASE}/tariffs/DE/ABC/T1"
        error(await http.put(t, json={**tariff, "id": "T2"}), 400, 2001, "id")
        error(await http.put(t, json={**tariff, "currency": "EURO"}), 400, 2001, "currency")
        error(await http.delete(t), 404, 2000, "T1")
        assert (await http.put(t, json=tariff)).status_code == 201
        r = await http.patch(t, json={"currency": "USD", "last_updated": "2024-03-02T00:00:00Z"})
        assert r.status_code == 405  # 2.2.1 has no tariff PATCH
        assert (await http.get(t)).json()["data"] == tariff
    async with httpx.AsyncClient(headers=auth(OTHER)) as http:
        error(await http.get(t), 403, 2000, "DE/ABC")
        error(await http.put(t, json=copy.deepcopy(tariff)), 403, 2000)
        error(await http.delete(t), 403, 2000)
