"""The OCPI versions are data: the registry (evroam/ocpi/registry.py) and one mapping per version
are the only code that names them; /ocpi/versions lists every version of the registry, and each
version's details list the registry's endpoints (without interface roles in 2.1.1)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from evroam.ocpi import registry
from harness import auth, httpx

SRC = Path(__file__).resolve().parents[2] / "src" / "evroam"
VERSION = re.compile(r"(?<![\d.])2\.(1\.1|2\.1|3\.0)(?![\d.])")
# The registry, the mappings, and the spec's own enumeration of version names (model/credentials.py).
ALLOWED = ("ocpi/registry.py", "ocpi/mappings/", "model/credentials.py")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def test_no_version_is_named_outside_the_registry_and_the_mappings():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith(ALLOWED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                    and VERSION.search(node.value):
                found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_registry_lists_three_versions_highest_first():
    assert registry.SUPPORTED_VERSIONS == ("2.3.0", "2.2.1", "2.1.1")
    assert registry.get("2.1.1").modules() == {"credentials", "locations", "tariffs", "sessions", "cdrs", "tokens",
                                              "commands"}
    assert registry.get("2.2.1").modules() == {
        "credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands", "chargingprofiles",
        "hubclientinfo"}
    # 2.3.0 adds the payments module: our Receiver interface as the CPO, the PTP's Sender as theirs
    assert registry.get("2.3.0").modules() == registry.get("2.2.1").modules() | {"payments"}
    assert registry.get("2.3.0").interface("payments", "RECEIVER").needs_role == "CPO"
    assert registry.get("2.3.0").pushes_to("payments") == "SENDER"
    assert registry.get("2.2.1").pushes_to("payments") == registry.get("2.3.0").pushes_to("cdrs") == "RECEIVER"


async def test_versions_and_details_of_each_version(make_instance):
    inst = await make_instance("cpo", roles=("CPO",))
    await inst.add_partner("p", "tok", [("EMSP", "DE", "MSP")])
    async with httpx.AsyncClient(headers=auth("tok")) as http:
        data = (await http.get(inst.versions_url)).json()["data"]
        assert [v["version"] for v in data] == ["2.3.0", "2.2.1", "2.1.1"]
        old = (await http.get(f"{inst.url}/ocpi/2.1.1")).json()["data"]
        assert {e["identifier"] for e in old["endpoints"]} == {"credentials", "locations", "tariffs", "sessions",
                                                               "cdrs", "tokens", "commands"}
        assert all(set(e) == {"identifier", "url"} for e in old["endpoints"])  # no interface roles in 2.1.1
        assert {e["url"] for e in old["endpoints"]} >= {f"{inst.url}/ocpi/2.1.1/cpo/locations",
                                                        f"{inst.url}/ocpi/2.1.1/cpo/tokens"}
        new = (await http.get(f"{inst.url}/ocpi/2.3.0")).json()["data"]
        assert ("hubclientinfo", "RECEIVER") in {(e["identifier"], e["role"]) for e in new["endpoints"]}
        # a module a version does not have is not there
        r = await http.get(f"{inst.url}/ocpi/2.1.1/cpo/chargingprofiles/S1?duration=60&response_url=http://x")
        assert r.status_code == 404 and r.json()["status_code"] == 2000
        assert "no chargingprofiles" in r.json()["status_message"]
        r = await http.get(f"{inst.url}/ocpi/2.1.1/cpo/locations")
        assert r.status_code == 200 and r.json()["data"] == []


async def test_offered_versions_are_a_setting(make_instance):
    inst = await make_instance("cpo", roles=("CPO",), extra={"ocpi_versions": ["2.2.1"]})
    await inst.add_partner("p", "tok", [("EMSP", "DE", "MSP")])
    async with httpx.AsyncClient(headers=auth("tok")) as http:
        assert [v["version"] for v in (await http.get(inst.versions_url)).json()["data"]] == ["2.2.1"]
        r = await http.get(f"{inst.url}/ocpi/2.1.1/cpo/locations")
        assert r.status_code == 404 and "not offered here" in r.json()["status_message"]


async def test_our_locations_listed_to_each_version(make_instance):
    """The locations list sends stored documents as they are while none of our locations holds
    what 2.2.1 leaves out; once one does (a change heard through `location.changed`), 2.2.1
    partners get it without, 2.3.0 partners with."""
    import json

    from harness import example_dir

    loc = json.loads((example_dir("2.2.1") / "location_example.json").read_text())
    inst = await make_instance("cpo", country_code=loc["country_code"], party_id=loc["party_id"], roles=("CPO",))
    await inst.add_partner("old", "t221", [("EMSP", "DE", "MSP")])
    await inst.add_partner("new", "t230", [("EMSP", "FR", "MSP")], version="2.3.0")
    await inst.platform.locations.import_locations(loc)

    async def listed(token: str, version: str) -> dict:
        async with httpx.AsyncClient(headers=auth(token)) as http:
            [got] = (await http.get(f"{inst.url}/ocpi/{version}/cpo/locations")).json()["data"]
        return got

    plain = await listed("t221", "2.2.1")
    assert "help_phone" not in plain and plain["evses"][0]["uid"] == loc["evses"][0]["uid"]
    afr = {**loc, "help_phone": "+3212345678", "parking_places": [
        {"id": "P1", "vehicle_types": ["PERSONAL_VEHICLE"], "restricted_to_type": False,
         "reservation_required": False}]}
    afr["evses"] = [{**loc["evses"][0], "parking": [{"parking_id": "P1"}]}, *loc["evses"][1:]]
    await inst.platform.locations.import_locations(afr)
    await inst.platform.bus.drain()
    old, new = await listed("t221", "2.2.1"), await listed("t230", "2.3.0")
    assert "help_phone" not in old and "parking_places" not in old and "parking" not in old["evses"][0]
    assert new["help_phone"] == "+3212345678" and new["evses"][0]["parking"] == [{"parking_id": "P1"}]
    assert {k: v for k, v in new.items() if k not in ("help_phone", "parking_places", "evses")} == \
        {k: v for k, v in old.items() if k != "evses"}
