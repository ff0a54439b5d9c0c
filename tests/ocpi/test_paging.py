"""Paging of list endpoints: offset/limit, date_from inclusive, date_to exclusive, Link
rel="next" absent on the last page and keeping the filters, X-Total-Count and X-Limit."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from evroam.model.common import format_datetime, parse_datetime
from harness import auth, httpx

TOKEN = "emsp-token"
T0 = parse_datetime("2024-01-01T00:00:00Z")


def _loc(i: int) -> dict:
    stamp = format_datetime(T0 + timedelta(minutes=i))
    return {"country_code": "NL", "party_id": "EVR", "id": f"L{i:04d}", "publish": True, "address": "A 1",
            "city": "Utrecht", "country": "NLD", "coordinates": {"latitude": "52.09000", "longitude": "5.12000"},
            "time_zone": "Europe/Amsterdam", "last_updated": stamp}


@pytest.fixture
async def cpo(instance):
    await instance.add_partner("emsp", TOKEN, [("EMSP", "DE", "MSP")])
    store = instance.platform.store
    async with store.begin() as conn:
        for i in range(250):
            loc = _loc(i)
            await store.locations.put(conn, "NL", "EVR", loc["id"], loc, parse_datetime(loc["last_updated"]))
        # another party's location is never listed as ours
        other = {**_loc(999), "country_code": "BE", "party_id": "OTH"}
        await store.locations.put(conn, "BE", "OTH", other["id"], other, T0)
    return instance


def _link(r: httpx.Response) -> str | None:
    return r.links.get("next", {}).get("url")


async def test_three_pages_follow_link(cpo):
    url = f"{cpo.url}/ocpi/2.2.1/cpo/locations"
    ids: list[str] = []
    pages = 0
    async with httpx.AsyncClient() as http:
        next_url, params = url, {"limit": 100}
        while next_url:
            r = await http.get(next_url, params=params, headers=auth(TOKEN))
            assert r.status_code == 200
            assert r.headers["x-total-count"] == "250"
            assert r.headers["x-limit"] == str(cpo.platform.settings.ocpi_page_limit)
            ids += [loc["id"] for loc in r.json()["data"]]
            pages += 1
            next_url, params = _link(r), None
    assert pages == 3
    assert ids == [f"L{i:04d}" for i in range(250)]  # creation order, nothing missed or repeated


async def test_last_page_has_no_link_and_limit_is_capped(cpo):
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/locations?offset=200&limit=100", headers=auth(TOKEN))
        assert len(r.json()["data"]) == 50 and "link" not in r.headers
        cpo.platform.settings.ocpi_page_limit = 40
        r = await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/locations?limit=100", headers=auth(TOKEN))
        assert len(r.json()["data"]) == 40 and r.headers["x-limit"] == "40"
        assert parse_qs(urlparse(_link(r)).query)["offset"] == ["40"]


async def test_date_filters_inclusive_exclusive_and_kept_in_link(cpo):
    date_from = format_datetime(T0 + timedelta(minutes=10))
    date_to = format_datetime(T0 + timedelta(minutes=20))
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/locations",
                           params={"date_from": date_from, "date_to": date_to, "limit": 4}, headers=auth(TOKEN))
        assert r.headers["x-total-count"] == "10"  # minutes 10..19: from inclusive, to exclusive
        assert [x["id"] for x in r.json()["data"]] == ["L0010", "L0011", "L0012", "L0013"]
        query = parse_qs(urlparse(_link(r)).query)
        assert query["date_from"] == [date_from] and query["date_to"] == [date_to]
        assert query["offset"] == ["4"] and query["limit"] == ["4"]


@pytest.mark.parametrize("query", ["offset=-1", "limit=abc", "date_from=yesterday"])
async def test_bad_paging_parameters_are_2001(cpo, query):
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/locations?{query}", headers=auth(TOKEN))
    assert r.status_code == 400 and r.json()["status_code"] == 2001
    assert query.split("=")[0] in r.json()["status_message"]
