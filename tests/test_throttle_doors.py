"""Throttling on every door, over real sockets with the default settings: the chargers' Basic
auth at the OCPP handshake, OCPI tokens, the admin token, driver API keys and the metrics token.
Too many wrong credentials from one address get 429 with Retry-After (in the door's own form)
before any lookup; the right credentials from another address still work; the operator sees who
is throttled; /metrics counts it; a partner's burst of correct requests is never throttled.

Servers listen on 127.0.0.1; clients connect from 127.0.0.1 or 127.0.0.2 (Linux loopback)."""

from __future__ import annotations

import asyncio
import base64
import re

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evroam.demo import load_demo
from harness import auth, httpx

TOKEN = "partner-token-0123456789"
ADMIN = {"Authorization": "Bearer admin-secret"}  # the harness's admin token
FAILURES = 10  # the default throttle_failures
PASSWORD = "charger-password-1"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def client_from(address: str, **kw) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), timeout=10, **kw)


def metric(text: str, name: str, door: str) -> float:
    found = re.search(rf'^{name}{{door="{door}"}} ([0-9.e+]+)$', text, re.MULTILINE)
    assert found, f"{name}{{door={door!r}}} not in /metrics"
    return float(found.group(1))


async def _handshake(cpo, charger_id: str, password: str, *, source: str = "127.0.0.1"):
    return await connect(cpo.ocpp_url + charger_id, subprotocols=["ocpp1.6"],
                         additional_headers=basic(charger_id, password), local_addr=(source, 0))


async def _refused(cpo, charger_id: str, password: str, *, source: str = "127.0.0.1"):
    with pytest.raises(InvalidStatus) as refused:
        await _handshake(cpo, charger_id, password, source=source)
    return refused.value.response


async def test_wrong_charger_passwords_get_429_at_the_handshake_and_another_address_still_connects(make_instance):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",))
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    for i in range(FAILURES - 1):
        assert (await _refused(cpo, "CP-1", f"guess-{i:04d}")).status_code == 401
    assert (await _refused(cpo, "CP-9", PASSWORD)).status_code == 404  # unknown ids count too
    lookups = []
    real_get = cpo.platform.store.chargers.get

    async def counting_get(conn, charger_id):
        lookups.append(charger_id)
        return await real_get(conn, charger_id)

    cpo.platform.store.chargers.get = counting_get
    refused = await _refused(cpo, "CP-1", "guess-9999")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 5  # the first lockout: throttle_delay
    # the right password from the throttled address: still refused until the delay passes
    assert (await _refused(cpo, "CP-1", PASSWORD)).status_code == 429
    assert lookups == []  # refused before any database lookup (or password hash)
    # ... while the charger connecting from another address is let in
    ws = await _handshake(cpo, "CP-1", PASSWORD, source="127.0.0.2")
    assert ws.subprotocol == "ocpp1.6"
    await ws.close()
    assert await cpo.platform.throttle.throttled() == [
        {"door": "ocpp", "address": "127.0.0.1", "retry_after": pytest.approx(5, abs=1), "lockouts": 1}]


async def test_a_charger_rebooting_with_its_password_is_never_throttled(make_instance):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",))
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    for _ in range(3 * FAILURES):
        ws = await _handshake(cpo, "CP-1", PASSWORD)
        await ws.close()
    assert cpo.platform.throttle.failures_total["ocpp"] == 0


async def test_wrong_ocpi_tokens_get_429_in_an_ocpi_envelope(make_instance):
    inst = await make_instance("cpo")
    await inst.add_partner("abc", TOKEN, [("EMSP", "DE", "ABC")])
    async with client_from("127.0.0.1") as guesser, client_from("127.0.0.2") as partner:
        missing = await guesser.get(inst.versions_url)  # no token at all: not a guess, not counted
        assert missing.status_code == 401
        for i in range(FAILURES):
            wrong = await guesser.get(inst.versions_url, headers=auth(f"guess-{i}"))
            assert wrong.status_code == 401 and wrong.json()["status_code"] == 2000
        refused = await guesser.get(inst.versions_url, headers=auth(TOKEN))  # even the right token
        assert refused.status_code == 429
        body = refused.json()
        assert body["status_code"] == 2000 and "timestamp" in body
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 5 and f"retry after {retry_after} seconds" in body["status_message"]
        ok = await partner.get(inst.versions_url, headers=auth(TOKEN))
        assert ok.status_code == 200 and ok.json()["status_code"] == 1000
        metrics = (await partner.get(inst.url + "/metrics")).text
    assert metric(metrics, "evroam_auth_failures_total", "ocpi") == FAILURES
    assert metric(metrics, "evroam_auth_throttled_total", "ocpi") == 1
    assert metric(metrics, "evroam_auth_lockouts_total", "ocpi") == 1
    assert metric(metrics, "evroam_auth_throttled_addresses", "ocpi") == 1
    assert metric(metrics, "evroam_auth_throttled_addresses", "ocpp") == 0


async def test_a_partners_burst_of_correct_requests_is_never_throttled(make_instance):
    inst = await make_instance("cpo")
    await inst.add_partner("abc", TOKEN, [("EMSP", "DE", "ABC")])
    async with client_from("127.0.0.1", headers=auth(TOKEN)) as partner:
        # a few wrong tokens first (an old token after a rotation), below the threshold
        for i in range(FAILURES - 1):
            assert (await partner.get(inst.versions_url, headers=auth(f"old-{i}"))).status_code == 401
        answers = await asyncio.gather(*(partner.get(inst.url + "/ocpi/2.2.1/cpo/locations") for _ in range(200)))
    assert [a.status_code for a in answers] == [200] * 200
    assert inst.platform.throttle.refusals_total["ocpi"] == 0


async def test_admin_token_guesses_get_429_and_the_operator_sees_and_releases_them(make_instance):
    inst = await make_instance("cpo")
    async with client_from("127.0.0.1") as guesser, client_from("127.0.0.2", headers=ADMIN) as operator:
        for i in range(FAILURES):
            wrong = await guesser.get(inst.url + "/admin/api/partners", headers={"Authorization": f"Bearer guess-{i}"})
            assert wrong.status_code == 401
        refused = await guesser.get(inst.url + "/admin/api/partners", headers=ADMIN)
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 5
        assert "retry after" in refused.json()["detail"]
        assert (await operator.get(inst.url + "/admin/api/partners")).status_code == 200
        listed = (await operator.get(inst.url + "/admin/api/throttled")).json()["throttled"]
        assert [(t["door"], t["address"], t["lockouts"]) for t in listed] == [("admin", "127.0.0.1", 1)]
        assert 0 < listed[0]["retry_after"] <= 5
        released = await operator.delete(inst.url + "/admin/api/throttled", params={"address": "127.0.0.1"})
        assert released.json() == {"released": 1}
        assert (await guesser.get(inst.url + "/admin/api/partners", headers=ADMIN)).status_code == 200


async def test_a_non_ascii_admin_token_is_a_wrong_token_not_a_server_error(make_instance):
    inst = await make_instance("cpo")
    async with client_from("127.0.0.1") as client:
        wrong = await client.get(inst.url + "/admin/api/partners", headers={"Authorization": b"Bearer caf\xe9"})
    assert wrong.status_code == 401


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(make_instance):
    direct = await make_instance("direct")
    async with client_from("127.0.0.1") as client:
        for i in range(FAILURES):  # a new "client" per request, as far as the header says
            await client.get(direct.url + "/admin/api/partners",
                             headers={"Authorization": f"Bearer guess-{i}", "X-Forwarded-For": f"198.51.100.{i}"})
        refused = await client.get(direct.url + "/admin/api/partners",
                                   headers={**ADMIN, "X-Forwarded-For": "198.51.100.200"})
    assert refused.status_code == 429
    assert (await direct.platform.throttle.throttled())[0]["address"] == "127.0.0.1"

    proxied = await make_instance("proxied", extra={"trusted_proxies": ["127.0.0.1"]})
    async with client_from("127.0.0.1") as proxy:
        for i in range(FAILURES):
            await proxy.get(proxied.url + "/admin/api/partners",
                            headers={"Authorization": f"Bearer guess-{i}", "X-Forwarded-For": "198.51.100.7"})
        behind = await proxy.get(proxied.url + "/admin/api/partners", headers={**ADMIN, "X-Forwarded-For": "198.51.100.7"})
        other = await proxy.get(proxied.url + "/admin/api/partners", headers={**ADMIN, "X-Forwarded-For": "198.51.100.8"})
    assert (behind.status_code, other.status_code) == (429, 200)


async def test_driver_key_guesses_get_429(make_instance):
    inst = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    key = (await inst.platform.drivers.add("alice", token_uid="ALICE-1")).api_key
    async with client_from("127.0.0.1") as guesser, client_from("127.0.0.2") as driver:
        for i in range(FAILURES):
            wrong = await guesser.get(inst.url + "/driver/v1/me", headers={"Authorization": f"Bearer guess-{i}"})
            assert wrong.status_code == 401
        refused = await guesser.get(inst.url + "/driver/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 5
        assert refused.json()["error"] == "too_many_requests"
        mine = await driver.get(inst.url + "/driver/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert mine.status_code == 200
        metrics = (await driver.get(inst.url + "/metrics")).text
    assert metric(metrics, "evroam_auth_failures_total", "driver") == FAILURES
    assert metric(metrics, "evroam_auth_throttled_total", "driver") == 1


async def test_metrics_token_and_one_registry_per_platform(make_instance):
    closed = await make_instance("closed", extra={"metrics_token": "scrape-me"})
    other = await make_instance("other")
    async with client_from("127.0.0.1") as client:
        assert (await client.get(closed.url + "/metrics")).status_code == 401
        for i in range(FAILURES - 1):
            assert (await client.get(closed.url + "/metrics", headers={"Authorization": f"Bearer no-{i}"})).status_code == 401
        scraped = await client.get(closed.url + "/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        assert metric(scraped.text, "evroam_auth_failures_total", "metrics") == FAILURES - 1
        # the other platform in this process counts only its own
        assert metric((await client.get(other.url + "/metrics")).text, "evroam_auth_failures_total", "metrics") == 0
        assert (await client.get(closed.url + "/metrics", headers={"Authorization": "Bearer last"})).status_code == 401
        assert (await client.get(closed.url + "/metrics", headers={"Authorization": "Bearer scrape-me"})).status_code == 429
