"""Bugs the fuzz tests found, each pinned by a plain example."""

from __future__ import annotations

import pytest

from evroam.ocpi.credentials import handshake
from harness import auth, httpx


@pytest.mark.parametrize("url", ["\x06http://partner.example/versions", "http://partner example/\x7f"])
async def test_credentials_with_an_unusable_url_are_answered_3001_and_change_nothing(instance, url):
    """A versions URL httpx cannot even parse (control characters) was an InternalError (HTTP
    500): it is the partner's API we are unable to use (3001), and nothing is registered."""
    partner, token_a = await handshake.invite(instance.platform, "p")
    credentials = {"token": "their-token-b", "url": url, "roles": [
        {"role": "EMSP", "party_id": "STB", "country_code": "DE", "business_details": {"name": "Stub"}}]}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", json=credentials, headers=auth(token_a))
    assert r.status_code == 200, r.text
    assert r.json()["status_code"] == 3001 and "versions" in r.json()["status_message"]
    async with instance.platform.store.connect() as conn:
        stored = await instance.platform.store.partners.get(conn, partner.pk)
    assert not stored.registered and stored.roles == []


@pytest.mark.parametrize("name", ["ÉLODIE", "Ötzi Ω"])
async def test_a_second_driver_with_a_non_ascii_name_is_refused_not_a_server_error(instance, name):
    """Names compare case-insensitively; SQLite's lower() only folds ASCII, so a name with
    capital non-ASCII letters was not found as taken, and the insert broke the unique index
    (HTTP 500)."""
    admin = {"Authorization": "Bearer admin-secret"}
    async with httpx.AsyncClient(base_url=instance.url, headers=admin) as http:
        assert (await http.post("/admin/api/drivers", json={"name": name})).status_code == 201
        again = await http.post("/admin/api/drivers", json={"name": name})
        assert again.status_code == 400 and "exists already" in again.json()["detail"]
        assert [d["name"] for d in (await http.get("/admin/api/drivers")).json()] == [name]


async def test_a_boolean_credit_limit_is_refused_not_read_as_zero(instance):
    """`"credit_limit": false` was read as 0.00 (a driver who can never charge), `true` as 1.00."""
    admin = {"Authorization": "Bearer admin-secret"}
    async with httpx.AsyncClient(base_url=instance.url, headers=admin) as http:
        r = await http.post("/admin/api/drivers", json={"name": "ann", "credit_limit": False})
        assert r.status_code == 422 and any(line.startswith("credit_limit") for line in r.json()["detail"])
        assert (await http.get("/admin/api/drivers")).json() == []
        assert (await http.post("/admin/api/drivers", json={"name": "ann", "credit_limit": 50})).status_code == 201
        r = await http.patch("/admin/api/drivers/ann", json={"credit_limit": True})
        assert r.status_code == 422
        assert (await http.get("/admin/api/drivers/ann")).json()["credit_limit"] == "50.00"
