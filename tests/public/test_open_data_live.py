"""A status change reaches every open data output within 60 s (AFIR), also on another node: node
A holds the charger; node B shares the database and hears the change through the change feed
(`location.changed`), which drops its snapshot. Both nodes' OCPI open data, DATEX II status
publication and public EVSE page show the new status; a location that stops being published
leaves every output."""

from __future__ import annotations

import time

from charge_points import COMMANDED, PASSWORD, charge_point
from lxml import etree
from ocpp.v16 import call

from evroam.demo import load_demo
from evroam.public import datex2
from harness import httpx, wait_for

NS = {"aegi": datex2.publications.NS["aegi"], "afac": datex2.publications.NS["afac"]}
LOC, EVSE = "EVR-GENT-1", "EVR-GENT-1-E3"


async def _outputs(node) -> dict[str, str]:
    """The EVSE's status as each open data output of `node` shows it now."""
    async with httpx.AsyncClient(base_url=node.url) as http:
        ocpi = (await http.get(f"/open-data/ocpi/2.2.1/locations/{LOC}/{EVSE}")).json()["data"]["status"]
        listed = next(e for loc in (await http.get("/open-data/ocpi/2.2.1/locations")).json()["data"]
                      for e in loc["evses"] if e["uid"] == EVSE)["status"]
        doc = etree.fromstring((await http.get("/open-data/datex2/energy-infrastructure-status")).content)
        datex = next(s.findtext("aegi:status", namespaces=NS) for s in doc.findall(".//aegi:refillPointStatus", NS)
                     if s.find("afac:reference", NS).get("id") == EVSE)
        page = (await http.get(f"/charge/{LOC}/{EVSE}/status.json")).json()["status"]
    return {"ocpi": ocpi, "ocpi_list": listed, "datex2": datex, "page": page}


async def test_status_change_reaches_every_output_on_both_nodes(make_instance, tmp_path):
    a = await make_instance("a", roles=("CPO",))
    b = await make_instance("b", roles=("CPO",), database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    assert await load_demo(a.platform)
    await a.platform.chargers.add("CP-1", password=PASSWORD, location_id=LOC, evses={1: EVSE})
    available = {"ocpi": "AVAILABLE", "ocpi_list": "AVAILABLE", "datex2": "available", "page": "AVAILABLE"}
    for node in (a, b):  # every output read once: the snapshots are warm
        assert await wait_for(lambda node=node: _same(node, available))
    async with charge_point(a, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        changed_at = time.monotonic()
        await cp.call(call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted"))
        faulted = {"ocpi": "OUTOFORDER", "ocpi_list": "OUTOFORDER", "datex2": "outOfOrder", "page": "OUTOFORDER"}
        seen = {}
        for name, node in (("a", a), ("b", b)):
            await wait_for(lambda node=node: _same(node, faulted), timeout=60.0)
            seen[name] = time.monotonic() - changed_at
    print(f"status change visible on every open data output: node A {seen['a']:.2f} s, node B {seen['b']:.2f} s "
          "(AFIR: 60 s)")
    assert max(seen.values()) < 60.0


async def test_unpublished_location_leaves_every_output(make_instance):
    cpo = await make_instance("cpo", roles=("CPO",))
    assert await load_demo(cpo.platform)
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        assert (await http.get(f"/charge/{LOC}/{EVSE}")).status_code == 200
        loc = await cpo.platform.locations.get_own(LOC)
        await cpo.platform.locations.save({**loc, "publish": False})
        ids = [x["id"] for x in (await http.get("/open-data/ocpi/2.2.1/locations")).json()["data"]]
        assert LOC not in ids and len(ids) == 2
        assert (await http.get(f"/open-data/ocpi/2.2.1/locations/{LOC}")).status_code == 404
        assert LOC.encode() not in (await http.get("/open-data/datex2/energy-infrastructure-table")).content
        assert LOC.encode() not in (await http.get("/open-data/datex2/energy-infrastructure-status")).content
        assert (await http.get(f"/charge/{LOC}")).status_code == 404
        assert (await http.get(f"/charge/{LOC}/{EVSE}")).status_code == 404
        assert LOC not in (await http.get("/charge")).text
        r = await http.post(f"/charge/{LOC}/{EVSE}/pay", data={"payment_method": "pm_card_visa"})
        assert r.status_code == 404


async def _same(node, expected: dict[str, str]) -> bool:
    return await _outputs(node) == expected
