"""Open data: our published locations (and only those), their EVSEs' live status and the tariffs
they name, as OCPI 2.2.1 (paged as the OCPI sender interfaces page) and as DATEX II v3 AFIR
publications valid against the official schemas; open to anyone, or to consumers with their
own token when `open_data_tokens` is set."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from lxml import etree

from evroam.demo import load_demo
from evroam.model.common import format_datetime, parse_datetime
from evroam.model.locations import Location
from evroam.model.tariffs import Tariff
from evroam.public import datex2
from harness import httpx

NS = {"aegi": datex2.publications.NS["aegi"], "afac": datex2.publications.NS["afac"],
      "com": datex2.publications.NS["com"]}
HIDDEN_TARIFF = {"country_code": "NL", "party_id": "EVR", "id": "STAFF-ONLY", "currency": "EUR",
                 "elements": [{"price_components": [{"type": "ENERGY", "price": 0.10, "vat": 21.0, "step_size": 1}]}],
                 "last_updated": "2025-01-01T00:00:00Z"}


def _hidden_location() -> dict:
    return {"country_code": "NL", "party_id": "EVR", "id": "EVR-DEPOT", "publish": False, "name": "Depot",
            "address": "Werfstraat 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
            "coordinates": {"latitude": "52.09000", "longitude": "5.12000"},
            "evses": [{"uid": "EVR-DEPOT-E1", "evse_id": "NL*EVR*E9*1", "status": "AVAILABLE",
                       "last_updated": "2025-01-01T00:00:00Z",
                       "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32,
                                       "tariff_ids": ["STAFF-ONLY"], "last_updated": "2025-01-01T00:00:00Z"}]}],
            "last_updated": "2025-01-01T00:00:00Z"}


async def _cpo(make_instance, **extra):
    cpo = await make_instance("cpo", roles=("CPO",), extra=extra)
    assert await load_demo(cpo.platform)
    await cpo.platform.tariffs.import_tariffs([HIDDEN_TARIFF])
    await cpo.platform.locations.import_locations([_hidden_location()])
    return cpo


async def test_ocpi_locations_and_tariffs_published_only_paged_and_valid(make_instance):
    cpo = await _cpo(make_instance)
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        # no token needed; paged as OCPI pages: limit, Link rel="next", X-Total-Count, X-Limit
        first = await http.get("/open-data/ocpi/2.2.1/locations", params={"limit": 2})
        assert first.status_code == 200 and first.json()["status_code"] == 1000
        assert first.headers["x-total-count"] == "3" and first.headers["x-limit"] == "1000"
        nxt = first.links["next"]["url"]
        assert parse_qs(urlparse(nxt).query) == {"offset": ["2"], "limit": ["2"]}
        second = await http.get(nxt)
        assert "link" not in second.headers
        locations = first.json()["data"] + second.json()["data"]
        assert [loc["id"] for loc in locations] == ["EVR-GENT-1", "EVR-AMS-1", "EVR-STO-1"]  # never EVR-DEPOT
        for loc in locations:
            assert Location.model_validate(loc).publish is True
        # a single one; the unpublished one does not exist here (OCPI 2003 unknown location)
        one = await http.get("/open-data/ocpi/2.2.1/locations/EVR-GENT-1/EVR-GENT-1-E3")
        assert one.json()["data"]["uid"] == "EVR-GENT-1-E3"
        hidden = await http.get("/open-data/ocpi/2.2.1/locations/EVR-DEPOT")
        assert hidden.status_code == 404 and hidden.json()["status_code"] == 2003
        # date filters as OCPI: nothing changed after now
        later = format_datetime(parse_datetime(locations[0]["last_updated"]) + timedelta(days=1))
        assert (await http.get("/open-data/ocpi/2.2.1/locations", params={"date_from": later})).json()["data"] == []
        bad = await http.get("/open-data/ocpi/2.2.1/locations", params={"limit": "-1"})
        assert bad.status_code == 400 and bad.json()["status_code"] == 2001
        # tariffs: those the published locations name, never the depot's
        tariffs = (await http.get("/open-data/ocpi/2.2.1/tariffs")).json()["data"]
        assert sorted(t["id"] for t in tariffs) == ["AC-1", "DC-1"]
        for tariff in tariffs:
            Tariff.model_validate(tariff)
        # the OCPI entry points a NAP without the credentials module starts from
        versions = (await http.get("/open-data/ocpi/versions")).json()["data"]
        assert versions == [{"version": "2.2.1", "url": f"{cpo.url}/open-data/ocpi/2.2.1"}]
        details = (await http.get(versions[0]["url"])).json()["data"]
        assert {e["identifier"] for e in details["endpoints"]} == {"locations", "tariffs"}
        # the partners' interface still needs a partner's token
        assert (await http.get("/ocpi/2.2.1/cpo/locations")).status_code == 401


async def test_datex2_table_and_status_valid_against_the_official_schemas(make_instance):
    cpo = await _cpo(make_instance)
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        table = await http.get("/open-data/datex2/energy-infrastructure-table")
        status = await http.get("/open-data/datex2/energy-infrastructure-status")
    assert table.status_code == 200 and table.headers["content-type"].startswith("application/xml")
    datex2.validate(table.content)  # raises DatexInvalid with the schema's complaints
    datex2.validate(status.content)
    doc = etree.fromstring(table.content)
    assert doc.get("profileName") == "AFIR Energy Infrastructure"
    sites = doc.findall(".//aegi:energyInfrastructureSite", NS)
    assert [s.get("id") for s in sites] == ["EVR-GENT-1", "EVR-AMS-1", "EVR-STO-1"]
    points = doc.findall(".//aegi:refillPoint", NS)
    assert len(points) == 8 and "EVR-DEPOT-E1" not in table.text and "STAFF-ONLY" not in table.text
    # the DC EVSE's ad-hoc price: DC-1, 0.25/kWh + 10 % VAT -> 0.28 (DATEX II money has 2 decimals), fee 0.60
    rate = doc.find(".//aegi:energyRate[@id='DC-1']", NS)
    assert rate.findtext("aegi:ratePolicy", namespaces=NS) == "adHoc"
    prices = {p.findtext("aegi:priceType", namespaces=NS): (p.findtext("aegi:value", namespaces=NS),
                                                            p.findtext("aegi:taxRate", namespaces=NS))
              for p in rate.findall("aegi:energyPrice", NS)}
    assert prices == {"basePrice": ("0.60", "20"), "pricePerKWh": ("0.28", "10")}
    statuses = etree.fromstring(status.content).findall(".//aegi:refillPointStatus", NS)
    assert {s.find("afac:reference", NS).get("id"): s.findtext("aegi:status", namespaces=NS) for s in statuses} \
        == {uid: "available" for uid in ("EVR-GENT-1-E1", "EVR-GENT-1-E2", "EVR-GENT-1-E3", "EVR-AMS-1-E1",
                                         "EVR-AMS-1-E2", "EVR-STO-1-E1", "EVR-STO-1-E2", "EVR-STO-1-E3")}


def test_the_schema_check_is_real():
    """A document the schemas refuse is refused: a status that DATEX II does not know."""
    from datetime import UTC, datetime

    import pytest

    loc = {"id": "L1", "last_updated": "2025-01-01T00:00:00Z",
           "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"standard": "IEC_62196_T2"}]}]}
    doc = datex2.status_publication([loc], country_code="NL", party_id="EVR", table_version="1",
                                    now=datetime.now(UTC))
    datex2.validate(doc)
    doc.find(".//aegi:status", NS).text = "sleeping"
    with pytest.raises(datex2.DatexInvalid) as exc:
        datex2.validate(doc)
    assert "sleeping" in str(exc.value)


async def test_consumer_tokens_when_required(make_instance):
    cpo = await _cpo(make_instance, open_data_tokens=True, throttle_failures=3)
    token = await cpo.platform.open_data.add_consumer("ndw")
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        missing = await http.get("/open-data/ocpi/2.2.1/locations")
        assert missing.status_code == 401 and missing.json()["status_code"] == 2000
        assert (await http.get("/open-data/datex2/energy-infrastructure-status")).status_code == 401
        ok = await http.get("/open-data/ocpi/2.2.1/locations", headers={"Authorization": f"Token {token}"})
        assert ok.status_code == 200 and len(ok.json()["data"]) == 3
        for _ in range(3):
            wrong = await http.get("/open-data/ocpi/2.2.1/locations", headers={"Authorization": "Token guess"})
            assert wrong.status_code == 401
        throttled = await http.get("/open-data/ocpi/2.2.1/locations", headers={"Authorization": f"Token {token}"})
        assert throttled.status_code == 429 and "retry-after" in throttled.headers
    async with cpo.platform.store.connect() as conn:  # kept hashed
        assert await cpo.platform.store.open_data_consumers.by_token(conn, token) is not None
        from sqlalchemy import text

        stored = (await conn.execute(text("SELECT token_hash FROM open_data_consumers"))).scalar_one()
        assert token not in stored and len(stored) == 64
