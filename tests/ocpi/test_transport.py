"""Transport and format: envelope, request/correlation ids, routing headers, token encodings,
error answers in OCPI form, unknown fields tolerated, and bad input changing nothing."""

from __future__ import annotations

import re

import pytest

from evroam.model.common import format_datetime, parse_datetime
from harness import auth, httpx

TOKEN = "partner-token-c"


@pytest.fixture
async def cpo_with_partner(instance):
    """Us (NL/EVR, CPO+EMSP) with a registered partner DE/ABC playing CPO and EMSP."""
    await instance.add_partner("abc", TOKEN, [("CPO", "DE", "ABC"), ("EMSP", "DE", "ABC")])
    return instance


def location(cc="DE", pid="ABC", lid="LOC1", **extra) -> dict:
    loc = {
        "country_code": cc, "party_id": pid, "id": lid, "publish": True, "address": "Street 1",
        "city": "Berlin", "country": "DEU", "coordinates": {"latitude": "52.52000", "longitude": "13.40500"},
        "time_zone": "Europe/Berlin", "last_updated": "2024-03-01T10:00:00Z",
        "evses": [{"uid": "E1", "status": "AVAILABLE", "last_updated": "2024-03-01T10:00:00Z",
                   "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                   "power_type": "AC_3_PHASE", "max_voltage": 400, "max_amperage": 32,
                                   "last_updated": "2024-03-01T10:00:00Z"}]}],
    }
    loc.update(extra)
    return loc


async def test_envelope_and_ids(cpo_with_partner):
    inst = cpo_with_partner
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations", headers=auth(TOKEN))
        body = r.json()
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert set(body) == {"data", "status_code", "status_message", "timestamp"}
        assert body["status_code"] == 1000 and body["data"] == []
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["timestamp"])
        # Ids are made when absent ...
        assert r.headers["x-request-id"] and r.headers["x-correlation-id"]
        # ... and echoed when given.
        r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations",
                           headers={**auth(TOKEN), "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"})
        assert r.headers["x-request-id"] == "req-1" and r.headers["x-correlation-id"] == "corr-1"
        # Errors carry them too.
        r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations", headers={"X-Request-ID": "req-2"})
        assert r.status_code == 401 and r.headers["x-request-id"] == "req-2"


async def test_routing_headers_on_functional_modules(cpo_with_partner):
    inst = cpo_with_partner
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations", headers={
            **auth(TOKEN), "OCPI-from-country-code": "DE", "OCPI-from-party-id": "ABC",
            "OCPI-to-country-code": "NL", "OCPI-to-party-id": "EVR"})
        assert r.headers["ocpi-from-country-code"] == "NL" and r.headers["ocpi-from-party-id"] == "EVR"
        assert r.headers["ocpi-to-country-code"] == "DE" and r.headers["ocpi-to-party-id"] == "ABC"
        r = await http.get(f"{inst.url}/ocpi/versions", headers=auth(TOKEN))
        assert "ocpi-from-party-id" not in r.headers


@pytest.mark.parametrize("encoding", ["base64", "plain"])
async def test_token_accepted_encoded_and_plain(cpo_with_partner, encoding):
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{cpo_with_partner.url}/ocpi/2.2.1/cpo/locations", headers=auth(TOKEN, encoding))
    assert r.status_code == 200


async def test_unknown_endpoint_answers_in_ocpi_form(cpo_with_partner):
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{cpo_with_partner.url}/ocpi/2.2.1/nothing", headers=auth(TOKEN))
    assert r.status_code == 404 and r.json()["status_code"] == 2000


async def _stored(inst, lid="LOC1"):
    async with inst.platform.store.connect() as conn:
        return await inst.platform.store.locations.get(conn, "DE", "ABC", lid)


async def test_malformed_json_is_400_2001_and_changes_nothing(cpo_with_partner):
    inst = cpo_with_partner
    url = f"{inst.url}/ocpi/2.2.1/emsp/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient() as http:
        r = await http.put(url, headers=auth(TOKEN), content=b'{"id": "LOC1",')
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        assert "JSON" in r.json()["status_message"]
        assert await _stored(inst) is None


async def test_invalid_field_is_named_and_changes_nothing(cpo_with_partner):
    inst = cpo_with_partner
    url = f"{inst.url}/ocpi/2.2.1/emsp/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient() as http:
        assert (await http.put(url, headers=auth(TOKEN), json=location())).status_code == 201
        before = await _stored(inst)
        bad = location(last_updated="2024-03-02T10:00:00Z")
        bad["evses"][0]["connectors"][0]["standard"] = "NOT_A_PLUG"
        r = await http.put(url, headers=auth(TOKEN), json=bad)
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        assert "evses[0].connectors[0].standard" in r.json()["status_message"]
        bad = location()
        del bad["city"]
        r = await http.put(url, headers=auth(TOKEN), json=bad)
        assert r.status_code == 400 and "city" in r.json()["status_message"]
        r = await http.put(url, headers=auth(TOKEN), json=location(last_updated="yesterday"))
        assert r.status_code == 400 and "last_updated" in r.json()["status_message"]
        assert await _stored(inst) == before


async def test_unknown_fields_are_tolerated(cpo_with_partner):
    inst = cpo_with_partner
    url = f"{inst.url}/ocpi/2.2.1/emsp/locations/DE/ABC/LOC1"
    async with httpx.AsyncClient() as http:
        r = await http.put(url, headers=auth(TOKEN), json=location(brand_new_field={"x": 1}))
    assert r.status_code == 201 and r.json()["status_code"] == 1000
    assert "brand_new_field" not in await _stored(inst)


def test_datetime_profile():
    assert format_datetime(parse_datetime("2015-06-29T20:39:09Z")) == "2015-06-29T20:39:09Z"
    assert format_datetime(parse_datetime("2015-06-29T20:39:09")) == "2015-06-29T20:39:09Z"  # no suffix = UTC
    assert format_datetime(parse_datetime("2015-06-29T20:39:09.123Z")) == "2015-06-29T20:39:09.123Z"
    assert format_datetime(parse_datetime("2015-06-29T22:39:09+02:00")) == "2015-06-29T20:39:09Z"
    assert len(format_datetime(parse_datetime("2015-06-29T20:39:09.123456Z"))) <= 25
    for bad in ("2015-06-29", "29-06-2015T20:39:09Z", "2015-13-29T20:39:09Z", 12):
        with pytest.raises(ValueError):
            parse_datetime(bad)
