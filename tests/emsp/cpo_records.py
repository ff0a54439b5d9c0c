"""Sessions and CDRs as a CPO partner sends them to our eMSP, built from the OCPI 2.2.1
specification's examples (session_example_1_simple_start.json, cdr_example.json)."""

from __future__ import annotations

import copy
import json

from harness import example_dir

EMSP = ("DE", "MSP")  # our party in these tests: the drivers' eMSP


def _example(name: str) -> dict:
    return json.loads((example_dir("2.2.1") / name).read_text())


def session(cc: str = "DE", pid: str = "ABC", sid: str = "101", **extra) -> dict:
    s = _example("session_example_1_simple_start.json")
    s.update(country_code=cc, party_id=pid, id=sid)
    s["cdr_token"].update(country_code=EMSP[0], party_id=EMSP[1])
    s.update(extra)
    return s


def cdr(cc: str = "DE", pid: str = "ABC", cid: str = "12345", **extra) -> dict:
    c = _example("cdr_example.json")
    c.update(country_code=cc, party_id=pid, id=cid)
    c["cdr_token"].update(country_code=EMSP[0], party_id=EMSP[1])
    for tariff in c["tariffs"]:
        tariff.update(country_code=cc, party_id=pid)
    c.update(extra)
    return c


def credit(original: dict, cid: str | None = None, **extra) -> dict:
    """The Credit CDR of `original` as mod_cdrs describes it: a new id, credit and its
    reference, the same data with total_cost negated."""
    c = copy.deepcopy(original)
    c.update(id=cid or f"{original['id']}-C", credit=True, credit_reference_id=original["id"],
             total_cost={k: -v for k, v in original["total_cost"].items()})
    c.update(extra)
    return c


def location(cc: str = "DE", pid: str = "ABC", lid: str = "LOC1", **extra) -> dict:
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
