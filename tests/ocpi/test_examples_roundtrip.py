"""Every location and tariff example of the OCPI 2.2.1 specification imports cleanly with our
identity set to the example's party, and GET over OCPI returns it unchanged (apart from
last_updated, which the import sets)."""

from __future__ import annotations

import json

import pytest

from evroam.services.errors import Invalid
from harness import auth, example_dir, httpx

EXAMPLES = example_dir("2.2.1")


def _full_objects(prefix: str, required: set[str]) -> list[str]:
    if not EXAMPLES.is_dir():
        return []
    names = []
    for path in sorted(EXAMPLES.glob(f"{prefix}*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and required <= data.keys():
            names.append(path.name)
    return names


LOCATIONS = _full_objects("location_", {"id", "address", "coordinates"})
TARIFFS = _full_objects("tariff_", {"id", "currency", "elements"})


def _without_last_updated(obj):
    if isinstance(obj, dict):
        return {k: _without_last_updated(v) for k, v in obj.items() if k != "last_updated"}
    if isinstance(obj, list):
        return [_without_last_updated(v) for v in obj]
    return obj


def test_all_examples_are_found():
    if not EXAMPLES.is_dir():
        pytest.skip("OCPI examples not found beside the repository")
    assert len(LOCATIONS) == 6 and len(TARIFFS) == 19


@pytest.mark.parametrize("name", LOCATIONS)
async def test_location_example_round_trips(make_instance, name):
    original = json.loads((EXAMPLES / name).read_text())
    inst = await make_instance("cpo", country_code=original["country_code"], party_id=original["party_id"])
    await inst.add_partner("emsp", "t", [("EMSP", "DE", "MSP")])
    result = await inst.platform.locations.import_locations(original)
    assert result.created == [original["id"]]
    async with httpx.AsyncClient(headers=auth("t")) as http:
        got = (await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations/{original['id']}")).json()["data"]
        assert _without_last_updated(got) == _without_last_updated(original)
        for evse in original.get("evses", []):
            r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations/{original['id']}/{evse['uid']}")
            assert _without_last_updated(r.json()["data"]) == _without_last_updated(evse)
            for conn in evse["connectors"]:
                r = await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations/{original['id']}/{evse['uid']}/{conn['id']}")
                assert _without_last_updated(r.json()["data"]) == _without_last_updated(conn)
        listed = (await http.get(f"{inst.url}/ocpi/2.2.1/cpo/locations")).json()["data"]
        assert [_without_last_updated(x) for x in listed] == [_without_last_updated(original)]


@pytest.mark.parametrize("name", TARIFFS)
async def test_tariff_example_round_trips(make_instance, name):
    original = json.loads((EXAMPLES / name).read_text())
    inst = await make_instance("cpo", country_code=original["country_code"], party_id=original["party_id"])
    await inst.add_partner("emsp", "t", [("EMSP", "DE", "MSP")])
    await inst.platform.tariffs.import_tariffs(original)
    async with httpx.AsyncClient(headers=auth("t")) as http:
        listed = (await http.get(f"{inst.url}/ocpi/2.2.1/cpo/tariffs")).json()["data"]
    assert [_without_last_updated(x) for x in listed] == [_without_last_updated(original)]
    assert listed[0]["last_updated"]


async def test_foreign_party_is_refused_unless_as_own(make_instance, examples):
    inst = await make_instance("cpo", serve=False)  # we are NL/EVR
    loc = json.loads((examples / "location_example.json").read_text())  # BE/BEC
    with pytest.raises(Invalid, match="BE/BEC.*--as-own"):
        await inst.platform.locations.import_locations(loc)
    result = await inst.platform.locations.import_locations(loc, as_own=True)
    assert result.created == ["LOC1"]
    stored = await inst.platform.locations.get_own("LOC1")
    assert (stored["country_code"], stored["party_id"]) == ("NL", "EVR")


async def test_import_is_all_or_nothing_and_order_free(make_instance, examples):
    inst = await make_instance("cpo", serve=False, country_code="BE", party_id="BEC")
    loc = json.loads((examples / "location_example.json").read_text())
    broken = {**loc, "id": "LOC2", "coordinates": {"latitude": "north", "longitude": "3.72"}}
    with pytest.raises(Invalid, match=r"\[1\]\.coordinates\.latitude"):
        await inst.platform.locations.import_locations([loc, broken])
    async with inst.platform.store.connect() as conn:
        assert await inst.platform.store.locations.count(conn) == 0
    # The location names tariffs 11, 12, 13 that do not exist yet: accepted.
    assert (await inst.platform.locations.import_locations([loc])).created == ["LOC1"]
