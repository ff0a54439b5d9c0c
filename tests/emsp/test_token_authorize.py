"""Real-time authorization of our drivers' tokens (OCPI tokens sender, POST {uid}/authorize) as a
CPO partner asks it over HTTP: every AllowedType outcome, LocationReferences, the `type`
parameter, unknown tokens (404 + 2004 without data), too little information (2002), bad
bodies (2001), and which partners may ask at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio
from drivers_kit import CPO, CPO_TOKEN, OCPI, cdr, emsp_with_cpo, post_cdr

from evroam.model.common import utcnow
from harness import Instance, auth, httpx

TWO_PARTY_TOKEN = "hub-like-cpo"
EMSP_PARTNER_TOKEN = "another-emsp"


# One eMSP for the whole module: each test uses drivers of its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def emsp(tmp_path_factory):
    created: list[Instance] = []

    async def make(name: str, **kwargs) -> Instance:
        created.append(Instance(db_path=tmp_path_factory.mktemp("authorize") / f"{name}.db", **kwargs))
        return await created[-1].start()

    inst = await emsp_with_cpo(make)
    await inst.add_partner("two-parties", TWO_PARTY_TOKEN, [("CPO", "NL", "CPO"), ("CPO", "BE", "XYZ")])
    await inst.add_partner("emsp-peer", EMSP_PARTNER_TOKEN, [("EMSP", "FR", "EMS")])
    drivers = inst.platform.drivers
    await drivers.add("alice", token_uid="ALICE-1")
    await drivers.add("bob", token_uid="BOB-1", contract_end="2020-01-01")
    await drivers.add("carol", token_uid="CAROL-1", allowed_cpos=["BE/XYZ"])
    await drivers.add("dave", token_uid="DAVE-1", credit_limit="10.00")
    await drivers.add("erin", token_uid="ERIN-1")
    await drivers.set_blocked("erin", True)
    await drivers.add("frank", token_uid="FRANK-1")
    await drivers.add_token("frank", "FRANK-2")
    await drivers.set_token_enabled("frank", "FRANK-1", "RFID", False)
    yield inst
    for created_instance in created:
        await created_instance.close()


async def ask(inst, uid: str, body=None, *, token: str = CPO_TOKEN, params: dict | None = None,
              headers: dict | None = None, raw: bytes | None = None) -> httpx.Response:
    async with httpx.AsyncClient(headers={**auth(token), **(headers or {})}) as http:
        url = f"{inst.url}{OCPI}/tokens/{uid}/authorize"
        if raw is not None:
            return await http.post(url, content=raw, params=params)
        return await http.post(url, json=body, params=params)


def allowed(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    assert r.json()["status_code"] == 1000
    return r.json()["data"]["allowed"]


async def test_allowed_with_location_references_echoes_them(emsp):
    where = {"location_id": "LOC1", "evse_uids": ["LOC1-DC"]}
    r = await ask(emsp, "ALICE-1", where)
    info = r.json()["data"]
    assert allowed(r) == "ALLOWED"
    assert info["location"] == where
    assert info["token"]["uid"] == "ALICE-1" and info["token"]["type"] == "RFID"
    assert info["token"]["contract_id"] == (await emsp.platform.drivers.get("alice")).contract.display
    ref = info["authorization_reference"]
    assert 0 < len(ref) <= 36
    again = (await ask(emsp, "alice-1")).json()["data"]  # uids are CiStrings
    assert again["allowed"] == "ALLOWED" and "location" not in again
    assert again["authorization_reference"] != ref
    assert r.headers["ocpi-to-party-id"] == CPO[1] and r.headers["ocpi-from-party-id"] == "MSP"


async def test_blocked_driver_and_blocked_token(emsp):
    r = await ask(emsp, "ERIN-1", {"location_id": "LOC1"})
    assert allowed(r) == "BLOCKED"
    data = r.json()["data"]
    assert data["token"]["valid"] is False and "location" not in data and "blocked" in data["info"]["text"]
    assert allowed(await ask(emsp, "FRANK-1")) == "BLOCKED"
    assert allowed(await ask(emsp, "FRANK-2")) == "ALLOWED"  # the driver's other card still works
    await emsp.platform.drivers.set_blocked("erin", False)
    assert allowed(await ask(emsp, "ERIN-1")) == "ALLOWED"


async def test_expired_contract(emsp):
    r = await ask(emsp, "BOB-1", {"location_id": "LOC1"})
    assert allowed(r) == "EXPIRED"
    assert "2020-01-01" in r.json()["data"]["info"]["text"]
    await emsp.platform.drivers.update("bob", contract_end=(utcnow() + timedelta(days=30)).isoformat())
    assert allowed(await ask(emsp, "BOB-1")) == "ALLOWED"


async def test_not_allowed_at_another_cpo_and_allowed_at_its_own(emsp):
    r = await ask(emsp, "CAROL-1", {"location_id": "LOC1", "evse_uids": ["LOC1-DC"]})
    assert allowed(r) == "NOT_ALLOWED"
    assert "location" not in r.json()["data"] and "NL/CPO" in r.json()["data"]["info"]["text"]
    # the partner with two parties: the routing header names the party that asks
    r = await ask(emsp, "CAROL-1", token=TWO_PARTY_TOKEN,
                  headers={"OCPI-from-country-code": "BE", "OCPI-from-party-id": "XYZ"})
    assert allowed(r) == "ALLOWED"
    r = await ask(emsp, "CAROL-1", token=TWO_PARTY_TOKEN,
                  headers={"OCPI-from-country-code": "NL", "OCPI-from-party-id": "CPO"})
    assert allowed(r) == "NOT_ALLOWED"
    # ... or the location it names (LOC1 is NL/CPO's), which wins over the headers
    r = await ask(emsp, "CAROL-1", {"location_id": "LOC1"}, token=TWO_PARTY_TOKEN,
                  headers={"OCPI-from-country-code": "BE", "OCPI-from-party-id": "XYZ"})
    assert allowed(r) == "NOT_ALLOWED"


async def test_not_enough_information_is_2002(emsp):
    r = await ask(emsp, "CAROL-1", token=TWO_PARTY_TOKEN)  # two CPO parties, no location, no headers
    assert r.status_code == 400
    assert r.json()["status_code"] == 2002 and "LocationReferences" in r.json()["status_message"]
    # an unrestricted driver needs no location
    assert allowed(await ask(emsp, "ALICE-1", token=TWO_PARTY_TOKEN)) == "ALLOWED"


async def test_no_credit_once_this_months_cdrs_reach_the_limit(emsp):
    assert allowed(await ask(emsp, "DAVE-1")) == "ALLOWED"
    start = utcnow() - timedelta(hours=2)
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await post_cdr(http, emsp, cdr("D-1", "DAVE-1", start=start, kwh=20))  # 6.66 incl. VAT
    assert allowed(await ask(emsp, "DAVE-1")) == "ALLOWED"
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        await post_cdr(http, emsp, cdr("D-2", "DAVE-1", start=start + timedelta(minutes=61), kwh=12))  # 4.24
    r = await ask(emsp, "DAVE-1", {"location_id": "LOC1"})
    assert allowed(r) == "NO_CREDIT"  # 10.90 >= 10.00
    assert "10.00 EUR" in r.json()["data"]["info"]["text"] and "location" not in r.json()["data"]
    view = await emsp.platform.drivers.view(await emsp.platform.drivers.get("dave"))
    assert view["spent_this_month"] == {"currency": "EUR", "incl_vat": "10.90"}
    await emsp.platform.drivers.update("dave", credit_limit="11.00")
    assert allowed(await ask(emsp, "DAVE-1")) == "ALLOWED"


async def test_type_parameter(emsp):
    app_token = next(t for t in await emsp.platform.drivers.tokens_of(await emsp.platform.drivers.get("alice"))
                     if t["type"] == "APP_USER")
    r = await ask(emsp, app_token["uid"], params={"type": "APP_USER"})
    assert allowed(r) == "ALLOWED" and r.json()["data"]["token"]["type"] == "APP_USER"
    # the same uid as RFID does not exist: unknown token
    r = await ask(emsp, app_token["uid"])
    assert r.status_code == 404 and r.json()["status_code"] == 2004
    r = await ask(emsp, "ALICE-1", params={"type": "CARD"})
    assert r.status_code == 400 and r.json()["status_code"] == 2001


async def test_unknown_token_is_404_2004_without_data(emsp):
    r = await ask(emsp, "NOBODY", {"location_id": "LOC1"})
    assert r.status_code == 404
    body = r.json()
    assert body["status_code"] == 2004 and "data" not in body and "NOBODY" in body["status_message"]


async def test_bad_bodies_are_2001(emsp):
    r = await ask(emsp, "ALICE-1", raw=b"{not json")
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    r = await ask(emsp, "ALICE-1", {"evse_uids": ["LOC1-DC"]})  # location_id is required
    assert r.status_code == 400 and r.json()["status_code"] == 2001 and "location_id" in r.json()["status_message"]
    r = await ask(emsp, "ALICE-1", [1, 2])
    assert r.status_code == 400 and r.json()["status_code"] == 2001


async def test_only_cpo_partners_may_ask_or_list(emsp):
    r = await ask(emsp, "ALICE-1", token=EMSP_PARTNER_TOKEN)
    assert r.status_code == 403 and r.json()["status_code"] == 2000
    async with httpx.AsyncClient(headers=auth(EMSP_PARTNER_TOKEN)) as http:
        assert (await http.get(f"{emsp.url}{OCPI}/tokens")).status_code == 403
    r = await ask(emsp, "ALICE-1", token="no-such-token")
    assert r.status_code == 401
