"""Credentials module (OCPI 2.2.1): registration both ways, GET/PUT/DELETE, HTTP 405/401 and the
3001/3002/3003 status codes; nothing changes when a registration fails."""

from __future__ import annotations

import pytest
from stub_partner import StubPartner

from evroam.ocpi.credentials import handshake
from harness import auth, httpx


@pytest.fixture
async def stub():
    partners: list[StubPartner] = []

    async def make(**kwargs) -> StubPartner:
        p = await StubPartner(**kwargs).start()
        partners.append(p)
        return p

    yield make
    for p in partners:
        await p.stop()


def creds(url: str, token: str = "stub-token-b", cc: str = "DE", pid: str = "STB", role: str = "EMSP") -> dict:
    return {"token": token, "url": url,
            "roles": [{"role": role, "party_id": pid, "country_code": cc, "business_details": {"name": "Stub"}}]}


async def test_versions_and_details_with_token_a(instance):
    _, token_a = await handshake.invite(instance.platform, "p")
    async with httpx.AsyncClient() as http:
        r = await http.get(instance.versions_url, headers=auth(token_a))
        assert r.status_code == 200
        body = r.json()
        assert body["status_code"] == 1000 and "timestamp" in body
        assert body["data"] == [{"version": v, "url": f"{instance.url}/ocpi/{v}"} for v in ("2.3.0", "2.2.1", "2.1.1")]
        # Configuration modules carry no routing headers.
        assert "ocpi-from-party-id" not in r.headers
        r = await http.get(f"{instance.url}/ocpi/2.2.1", headers=auth(token_a))
        endpoints = {(e["identifier"], e["role"]): e["url"] for e in r.json()["data"]["endpoints"]}
        assert endpoints[("credentials", "SENDER")] == f"{instance.url}/ocpi/2.2.1/credentials"
        assert endpoints[("locations", "SENDER")] == f"{instance.url}/ocpi/2.2.1/cpo/locations"
        assert endpoints[("locations", "RECEIVER")] == f"{instance.url}/ocpi/2.2.1/emsp/locations"
        r = await http.get(f"{instance.url}/ocpi/9.9", headers=auth(token_a))
        assert r.status_code == 404
        r = await http.get(f"{instance.url}/ocpi/9.9/credentials", headers=auth(token_a))
        assert r.status_code == 404 and r.json()["status_code"] == 2000


async def test_token_a_opens_only_versions_and_credentials(instance):
    _, token_a = await handshake.invite(instance.platform, "p")
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{instance.url}/ocpi/2.2.1/cpo/locations", headers=auth(token_a))
        assert r.status_code == 401
        assert r.json()["status_code"] == 2000
        r = await http.get(f"{instance.url}/ocpi/2.2.1/credentials", headers=auth(token_a))
        assert r.status_code == 200 and r.json()["data"]["token"] == token_a


async def test_unknown_or_missing_token_is_401(instance):
    async with httpx.AsyncClient() as http:
        for headers in ({}, auth("nope"), {"Authorization": "Bearer x"}):
            r = await http.get(instance.versions_url, headers=headers)
            assert r.status_code == 401
            assert r.json()["status_code"] == 2000


async def test_partner_registers_with_us(instance, stub):
    peer = await stub()
    _, token_a = await handshake.invite(instance.platform, "stub")
    cred_url = f"{instance.url}/ocpi/2.2.1/credentials"
    async with httpx.AsyncClient() as http:
        r = await http.post(cred_url, headers=auth(token_a), json=creds(f"{peer.url}/versions"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status_code"] == 1000
        token_c = body["data"]["token"]
        assert token_c != token_a
        assert body["data"]["url"] == instance.versions_url
        assert {(x["role"], x["country_code"], x["party_id"]) for x in body["data"]["roles"]} == {
            ("CPO", "NL", "EVR"), ("EMSP", "NL", "EVR")}
        # We called the partner back with its token B before answering.
        assert any(h.startswith("Token ") for h in peer.seen_auth)
        # Token A is gone; token C works; POST again is 405.
        assert (await http.get(instance.versions_url, headers=auth(token_a))).status_code == 401
        assert (await http.get(instance.versions_url, headers=auth(token_c))).status_code == 200
        r = await http.post(cred_url, headers=auth(token_c), json=creds(f"{peer.url}/versions"))
        assert r.status_code == 405
        # GET shows our credentials for this partner.
        r = await http.get(cred_url, headers=auth(token_c))
        assert r.json()["data"]["token"] == token_c

    async with instance.platform.store.connect() as conn:
        partner = await instance.platform.store.partners.by_name(conn, "stub")
    assert partner.registered and partner.version == "2.2.1"
    assert partner.parties() == [("DE", "STB")]
    assert partner.outgoing_token == "stub-token-b" and partner.outgoing_encoding == "base64"
    assert partner.endpoint("locations", "RECEIVER") == f"{peer.url}/v/2.2.1/locations"


async def test_put_rotates_the_token_and_delete_unregisters(instance, stub):
    peer = await stub()
    _, token_a = await handshake.invite(instance.platform, "stub")
    cred_url = f"{instance.url}/ocpi/2.2.1/credentials"
    async with httpx.AsyncClient() as http:
        # PUT and DELETE before registering: 405.
        assert (await http.put(cred_url, headers=auth(token_a), json=creds(f"{peer.url}/versions"))).status_code == 405
        assert (await http.delete(cred_url, headers=auth(token_a))).status_code == 405
        token_c = (await http.post(cred_url, headers=auth(token_a), json=creds(f"{peer.url}/versions"))).json()["data"]["token"]

        peer.accept_token = "stub-token-b2"
        r = await http.put(cred_url, headers=auth(token_c), json=creds(f"{peer.url}/versions", token="stub-token-b2"))
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        token_c2 = r.json()["data"]["token"]
        assert token_c2 != token_c
        assert (await http.get(instance.versions_url, headers=auth(token_c))).status_code == 401
        assert (await http.get(instance.versions_url, headers=auth(token_c2))).status_code == 200

        r = await http.delete(cred_url, headers=auth(token_c2))
        assert r.status_code == 200 and r.json()["status_code"] == 1000
        assert (await http.get(instance.versions_url, headers=auth(token_c2))).status_code == 401
    async with instance.platform.store.connect() as conn:
        partner = await instance.platform.store.partners.by_name(conn, "stub")
    assert partner.status.value == "UNREGISTERED" and partner.outgoing_token is None


async def _post_fails(instance, body, expected_status):
    _, token_a = await handshake.invite(instance.platform, "stub")
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", headers=auth(token_a), json=body)
        assert r.status_code == 200, r.text
        assert r.json()["status_code"] == expected_status, r.json()
        # Nothing changed: token A still works, the partner is still only invited.
        assert (await http.get(instance.versions_url, headers=auth(token_a))).status_code == 200
    async with instance.platform.store.connect() as conn:
        partner = await instance.platform.store.partners.by_name(conn, "stub")
    assert partner.status.value == "INVITED" and partner.outgoing_token is None
    assert partner.last_error
    return r.json()["status_message"]


async def test_3001_when_partner_versions_cannot_be_fetched(instance):
    message = await _post_fails(instance, creds("http://127.0.0.1:9/versions"), 3001)
    assert "versions" in message


async def test_3001_when_partner_refuses_its_own_token(instance, stub):
    peer = await stub(accept_token="something-else")
    await _post_fails(instance, creds(f"{peer.url}/versions"), 3001)


async def test_3002_when_no_common_version(instance, stub):
    peer = await stub(versions=["2.0", "2.1"])
    message = await _post_fails(instance, creds(f"{peer.url}/versions"), 3002)
    assert "2.1" in message


async def test_3003_when_partner_offers_no_usable_endpoint(instance, stub):
    peer = await stub(modules=[("credentials", "SENDER")])
    await _post_fails(instance, creds(f"{peer.url}/versions"), 3003)


async def test_invalid_credentials_body_is_2001(instance):
    _, token_a = await handshake.invite(instance.platform, "stub")
    async with httpx.AsyncClient() as http:
        url = f"{instance.url}/ocpi/2.2.1/credentials"
        r = await http.post(url, headers=auth(token_a), content=b"{not json")
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        r = await http.post(url, headers=auth(token_a), json={"url": "http://x/versions", "roles": []})
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        assert "token" in r.json()["status_message"]


async def test_plain_token_peer_is_remembered(instance, stub):
    """A peer that only understands plain tokens: we fall back and remember it."""
    peer = await stub(plain_only=True)
    _, token_a = await handshake.invite(instance.platform, "stub")
    async with httpx.AsyncClient() as http:
        # The peer itself sends its token plain, which we accept too.
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", headers=auth(token_a, "plain"),
                            json=creds(f"{peer.url}/versions"))
        assert r.json()["status_code"] == 1000
    async with instance.platform.store.connect() as conn:
        partner = await instance.platform.store.partners.by_name(conn, "stub")
    assert partner.outgoing_encoding == "plain"
    # It sent its token plain, so we called it back plain straight away: no refused attempt.
    assert peer.seen_auth == ["Token stub-token-b", "Token stub-token-b"]


async def test_we_register_with_partner_and_rotate(make_instance):
    a = await make_instance("a", country_code="NL", party_id="AAA", roles=("CPO",))
    b = await make_instance("b", country_code="BE", party_id="BBB", roles=("EMSP",))
    _, token_a = await handshake.invite(a.platform, "b")
    partner = await handshake.register_with(b.platform, "a", a.versions_url, token_a)
    old_out = partner.outgoing_token
    rotated = await handshake.update_with(b.platform, partner)
    assert rotated.registered and rotated.outgoing_token != old_out
    async with httpx.AsyncClient() as http:
        assert (await http.get(a.versions_url, headers=auth(old_out))).status_code == 401
        assert (await http.get(a.versions_url, headers=auth(rotated.outgoing_token))).status_code == 200
    await handshake.unregister_with(b.platform, rotated)
    async with httpx.AsyncClient() as http:
        assert (await http.get(a.versions_url, headers=auth(rotated.outgoing_token))).status_code == 401
    with pytest.raises(RuntimeError, match="versions"):
        await handshake.register_with(b.platform, "ghost", "http://127.0.0.1:9/versions", "x")
