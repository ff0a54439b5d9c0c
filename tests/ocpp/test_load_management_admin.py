"""Load management through the admin API: sites and circuits (bad input refused, nothing
stored), the live status and the profiles sent, a change re-planned at once, and a removed site
releasing its chargers (profiles cleared)."""

from __future__ import annotations

import httpx
from charge_points import PASSWORD, PROFILED, charge_point, iso, past
from ocpp.v16 import call as call16

from evroam.demo import load_demo
from harness import wait_for

ADMIN = {"Authorization": "Bearer admin-secret"}


def tx_limit(cp) -> float | None:
    found = cp.tx_limits.get(1)
    return found[1] if found else None


async def test_sites_through_the_admin_api(make_instance):
    inst = await make_instance("cpo", extra={"load_replan_delay": 0.05, "load_replan_seconds": 3600})
    assert await load_demo(inst.platform)
    await inst.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    await inst.platform.tokens.add_own({"uid": "TAG-1", "whitelist": "ALWAYS"})
    api = f"{inst.url}/admin/api"
    async with httpx.AsyncClient(headers=ADMIN) as client:
        assert (await client.get(f"{api}/sites", headers={"Authorization": "Bearer wrong"})).status_code == 401

        for body, status, message in [({"capacity_kw": -1}, 400, "capacity_kw"), ({}, 400, "capacity"),
                                      ({"capacity_kw": 22, "schedule": {"timezone": "UTC", "periods": [
                                          {"start": "25:00", "end": "20:00", "capacity_kw": 11}]}}, 400, "start"),
                                      ({"capacity_kw": 22, "phases": 2}, 400, "phases")]:
            response = await client.put(f"{api}/sites/EVR-GENT-1", json=body)
            assert response.status_code == status and message in response.json()["detail"], response.text
        response = await client.put(f"{api}/sites/GROUP-1", json={"capacity_kw": 11})
        assert response.status_code == 400 and "--chargers" in response.json()["detail"]
        assert (await client.get(f"{api}/sites")).json() == []  # nothing stored

        site = (await client.put(f"{api}/sites/EVR-GENT-1", json={"capacity_kw": 22})).json()
        assert site["members"] == ["CP-1"] and site["capacity_kw"] == 22.0 and site["phases"] == 3
        response = await client.put(f"{api}/sites/EVR-GENT-1/circuits/C1", json={"parent": "NOPE", "limit_a": 5})
        assert response.status_code == 404
        response = await client.put(f"{api}/sites/EVR-GENT-1/circuits/C1", json={"limit_a": 20, "chargers": ["CP-9"]})
        assert response.status_code == 404 and "CP-9" in response.json()["detail"]
        site = (await client.put(f"{api}/sites/EVR-GENT-1/circuits/C1",
                                 json={"limit_a": 20, "chargers": ["CP-1"]})).json()
        assert site["circuits"] == [{"id": "C1", "parent_id": None, "limit_a": 20.0, "limit_kw": None, "phases": 3,
                                     "chargers": ["CP-1"]}]
        response = await client.put(f"{api}/sites/EVR-GENT-1/circuits/C2", json={"parent": "C1", "limit_a": 10})
        assert response.status_code == 200
        response = await client.put(f"{api}/sites/EVR-GENT-1/circuits/C1", json={"parent": "C2"})
        assert response.status_code == 400 and "loop" in response.json()["detail"]
        response = await client.delete(f"{api}/sites/EVR-GENT-1/circuits/C1")
        assert response.status_code == 400 and "C2" in response.json()["detail"]  # it feeds C2
        assert (await client.delete(f"{api}/sites/EVR-GENT-1/circuits/C2")).status_code == 200

        async with charge_point(inst, "CP-1", cls=PROFILED["1.6"]) as cp:
            await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
            answer = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0,
                                                           timestamp=iso(past(0))))
            await wait_for(lambda: tx_limit(cp) == 20.0)  # its circuit's limit (the site allows 31.9 A)

            async def recorded():  # the record of a batch is written once the chargers answered it
                status = (await client.get(f"{api}/sites/EVR-GENT-1/status")).json()
                return status if status["sessions"] and status["sessions"][0]["in_force_a"] == 20.0 else None

            status = await wait_for(recorded)
            assert [(c["id"], c["limit_a"], c["planned_a"]) for c in status["circuits"]] == \
                [("EVR-GENT-1", 31.9, 20.0), ("C1", 20.0, 20.0)]
            [session] = status["sessions"]
            assert (session["charger_id"], session["transaction_id"], session["circuit"], session["in_force_a"],
                    session["state"]) == ("CP-1", str(answer.transaction_id), "C1", 20.0, "profiled")
            assert (await client.get(f"{api}/load/status")).json()[0]["site"] == "EVR-GENT-1"
            sent = (await client.get(f"{api}/load/profiles", params={"charger": "CP-1"})).json()
            assert {(r["purpose"], r["limit"], r["status"]) for r in sent} == {("TX", 20.0, "Accepted"),
                                                                                ("MAX", 20.0, "Accepted")}

            # a change through the API is planned at once (no periodic re-plan in this test)
            await client.put(f"{api}/sites/EVR-GENT-1", json={"capacity_kw": 11})
            await wait_for(lambda: tx_limit(cp) == 15.9)

            # the site goes: the charger is no longer managed, its profile is cleared
            assert (await client.delete(f"{api}/sites/EVR-GENT-1")).status_code == 200
            await wait_for(lambda: tx_limit(cp) is None and cp.max_limit is None)
            assert (await client.get(f"{api}/sites/EVR-GENT-1")).status_code == 404
