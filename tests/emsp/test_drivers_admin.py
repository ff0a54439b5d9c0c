"""The admin API for drivers: create (the API key once), read, change, new key, block and unblock
drivers and tokens, their sessions and CDRs; errors (400, 404, 422) that change nothing, and the
admin token as the only way in."""

from __future__ import annotations

from datetime import timedelta

from drivers_kit import CPO_TOKEN, bearer, cdr, emsp_with_cpo, post_cdr, put, session

from evroam.model.common import parse_datetime, utcnow
from harness import auth, httpx

ADMIN = {"Authorization": "Bearer admin-secret"}
BASE = "/admin/api/drivers"


async def test_drivers_admin_api(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    async with httpx.AsyncClient(base_url=emsp.url, headers=ADMIN) as http:
        r = await http.post(BASE, json={"name": "Alice", "email": "alice@example.com", "token_uid": "CARD-1",
                                        "contract_id": "DE-MSP-C00000042", "credit_limit": 75,
                                        "contract_end": "2030-01-01", "allowed_cpos": ["nl/cpo"]})
        assert r.status_code == 201, r.text
        alice = r.json()
        assert alice["contract_id"].startswith("DE-MSP-C00000042-") and alice["credit_limit"] == "75.00"
        assert alice["contract_end"] == "2030-01-01T00:00:00Z" and alice["allowed_cpos"] == ["NL/CPO"]
        assert alice["api_key"].startswith("evd_") and {t["type"] for t in alice["tokens"]} == {"RFID", "APP_USER"}
        async with httpx.AsyncClient(base_url=emsp.url, headers=bearer(alice["api_key"])) as driver:
            assert (await driver.get("/driver/v1/me")).status_code == 200

        listed = (await http.get(BASE)).json()
        assert [d["name"] for d in listed] == ["Alice"] and "api_key" not in listed[0]
        got = (await http.get(f"{BASE}/{alice['id']}")).json()
        assert got["name"] == "Alice" and "api_key" not in got and len(got["tokens"]) == 2
        assert (await http.get(f"{BASE}/alice")).json()["id"] == alice["id"]  # by name too

        # change: null clears, a missing field stays
        r = await http.patch(f"{BASE}/Alice", json={"credit_limit": None, "allowed_cpos": []})
        assert r.status_code == 200
        assert (r.json()["credit_limit"], r.json()["allowed_cpos"], r.json()["email"]) == \
            (None, [], "alice@example.com")

        # a new key: the old one stops working
        key = (await http.post(f"{BASE}/Alice/key")).json()["api_key"]
        async with httpx.AsyncClient(base_url=emsp.url) as anon:
            assert (await anon.get("/driver/v1/me", headers=bearer(alice["api_key"]))).status_code == 401
            assert (await anon.get("/driver/v1/me", headers=bearer(key))).status_code == 200

        # tokens and blocking
        r = await http.post(f"{BASE}/Alice/tokens", json={"uid": "CARD-2", "whitelist": "NEVER"})
        assert r.status_code == 201 and (r.json()["uid"], r.json()["whitelist"], r.json()["valid"]) == \
            ("CARD-2", "NEVER", True)
        r = await http.post(f"{BASE}/Alice/tokens/CARD-2/block")
        assert r.status_code == 200 and r.json()["valid"] is False
        r = await http.post(f"{BASE}/Alice/tokens/CARD-2/unblock")
        assert r.json()["valid"] is True
        r = await http.post(f"{BASE}/Alice/block")
        assert r.json()["status"] == "BLOCKED"
        assert not any(t["valid"] for t in (await http.get(f"{BASE}/Alice")).json()["tokens"])
        assert (await http.post(f"{BASE}/Alice/unblock")).json()["status"] == "ACTIVE"
        assert all(t["valid"] for t in (await http.get(f"{BASE}/Alice")).json()["tokens"])

        # errors: nothing changes
        for body, status, word in [
            ({"name": "Bob", "contract_id": "DE-MSP-C00000042-X"}, 400, "check digit"),
            ({"name": "alice"}, 400, "exists already"),
            ({"name": "Bob", "token_uid": "CARD-1"}, 400, "exists already"),
            ({"name": "Bob", "allowed_cpos": ["NOPE"]}, 400, "allowed_cpos"),
            ({"email": "x@y.z"}, 422, "name"),
        ]:
            r = await http.post(BASE, json=body)
            assert r.status_code == status and word in str(r.json()["detail"]), (body, r.text)
        assert [d["name"] for d in (await http.get(BASE)).json()] == ["Alice"]
        assert (await http.patch(f"{BASE}/Alice", json={"credit_limit": "a lot"})).status_code == 400
        assert (await http.get(f"{BASE}/Alice")).json()["credit_limit"] is None
        for method, path in [("GET", f"{BASE}/nobody"), ("POST", f"{BASE}/nobody/block"),
                             ("POST", f"{BASE}/Alice/tokens/NOT-HERS/block"), ("POST", f"{BASE}/nobody/key")]:
            r = await http.request(method, path)
            assert r.status_code == 404, (method, path, r.text)
        r = await http.post(f"{BASE}/Alice/tokens", json={"uid": "X-1", "type": "AD_HOC_USER"})
        assert r.status_code == 400

        # sessions and CDRs of a driver, as the CPO sent them
        async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as cpo:
            await put(cpo, emsp, "sessions", session("S-1", "CARD-1", start=utcnow() - timedelta(minutes=5), kwh=3))
            await post_cdr(cpo, emsp, cdr("C-1", "CARD-1", start=parse_datetime("2024-05-01T10:00:00Z"), kwh=5))
        assert [s["id"] for s in (await http.get(f"{BASE}/Alice/sessions")).json()] == ["S-1"]
        assert [c["id"] for c in (await http.get(f"{BASE}/Alice/cdrs")).json()] == ["C-1"]

    # only the admin token opens it
    async with httpx.AsyncClient(base_url=emsp.url) as anon:
        assert (await anon.get(BASE)).status_code == 401
        assert (await anon.get(BASE, headers=bearer(key))).status_code == 401
        assert (await anon.post(BASE, json={"name": "Mallory"}, headers=auth(CPO_TOKEN))).status_code == 401
    assert [d.name for d in await emsp.platform.drivers.list()] == ["Alice"]
