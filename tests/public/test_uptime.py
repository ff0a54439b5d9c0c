"""AFIR uptime from the EVSEs' status history: unavailable, faulted and offline time is down,
planned maintenance marked by the operator is not counted, time before the first status or while
PLANNED is not in service; each charging point against 97 %, each charger its EVSEs together;
the CSV export through the CLI and the admin API. A charger's real status reports (OCPP) are what
the history is made of."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

from charge_points import COMMANDED, PASSWORD, charge_point
from ocpp.v16 import call
from typer.testing import CliRunner

from evroam.demo import load_demo
from evroam.model.common import parse_datetime
from harness import httpx, wait_for

T0 = parse_datetime("2025-03-01T00:00:00Z")
ADMIN = {"Authorization": "Bearer admin-secret"}


def h(hours: float):
    return T0 + timedelta(hours=hours)


async def test_uptime_over_a_period_with_maintenance(make_instance):
    cpo = await make_instance("cpo", roles=("CPO",))
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})
    store = cpo.platform.store
    async with store.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM evse_status_log")  # (the demo import's statuses: not this story)
        log = store.status_log
        # E3: available 0-2 h, faulted 2-3 h, offline 3-3.5 h, inoperative 3.5-4 h, available from 4 h
        for at, status in ((-5, "AVAILABLE"), (2, "OUTOFORDER"), (3, "UNKNOWN"), (3.5, "INOPERATIVE"),
                           (4, "CHARGING"), (6, "AVAILABLE")):
            await log.add(conn, "EVR-GENT-1", "EVR-GENT-1-E3", status, h(at))
        # E1: known from 1 h (not in service before), planned until 2 h, then available; faulted 9-10 h
        for at, status in ((1, "PLANNED"), (2, "AVAILABLE"), (9, "OUTOFORDER")):
            await log.add(conn, "EVR-GENT-1", "EVR-GENT-1-E1", status, h(at))
    # maintenance of CP-1 from 3.5 h to 4.5 h: E3's inoperative half hour and half an hour up are not counted
    await cpo.platform.uptime.add_maintenance("CP-1", h(3.5), h(4.5), "firmware update")
    report = await cpo.platform.uptime.report(h(0), h(10))
    e3 = next(r for r in report["evses"] if r["evse_uid"] == "EVR-GENT-1-E3")
    assert (e3["in_service_s"], e3["maintenance_s"], e3["faulted_s"], e3["offline_s"], e3["unavailable_s"]) == \
        (36000, 3600, 3600, 1800, 0)
    assert e3["uptime_percent"] == "83.33" and e3["meets_afir"] is False  # 7.5 h up of 9 h counted
    e1 = next(r for r in report["evses"] if r["evse_uid"] == "EVR-GENT-1-E1")
    # in service 2-10 h = 8 h; maintenance 3.5-4.5 h; faulted 9-10 h: 6 h up of 7 h counted
    assert (e1["in_service_s"], e1["maintenance_s"], e1["faulted_s"]) == (28800, 3600, 3600)
    assert e1["uptime_percent"] == "85.71"
    [cp1] = report["chargers"]
    assert cp1["charger_id"] == "CP-1" and cp1["uptime_percent"] == "84.38"  # 13.5 h up of 16 h
    # a period where E3 was up all the time meets AFIR's 97 %
    later = await cpo.platform.uptime.report(h(6), h(8))
    assert next(r for r in later["evses"] if r["evse_uid"] == "EVR-GENT-1-E3")["meets_afir"] is True

    # CSV: the admin API and the CLI give the same export
    async with httpx.AsyncClient(base_url=cpo.url, headers=ADMIN) as http:
        r = await http.get("/admin/api/uptime", params={"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T10:00:00Z",
                                                         "format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        bad = await http.get("/admin/api/uptime", params={"from": "2025-03-02", "to": "2025-03-01"})
        assert bad.status_code == 400
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["evse_uid"], x["uptime_percent"], x["meets_afir"]) for x in rows] == [
        ("EVR-GENT-1-E1", "85.71", "no"), ("EVR-GENT-1-E3", "83.33", "no"), ("", "84.38", "no")]
    from evroam.cli import app

    db = f"sqlite+aiosqlite:///{cpo.db_path}"
    result = await asyncio.to_thread(CliRunner().invoke, app, ["uptime", "report", "--from", "2025-03-01T00:00:00Z",
                                                               "--to", "2025-03-01T10:00:00Z", "--csv", "--db", db])
    assert result.exit_code == 0, result.output
    assert result.output == r.text


async def test_a_chargers_reports_make_the_history(make_instance):
    cpo = await make_instance("cpo", roles=("CPO",))
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

    async def history():  # (the disconnection at the end: UNKNOWN, offline)
        async with cpo.platform.store.connect() as conn:
            rows = await cpo.platform.store.status_log.changes(conn, h(-1e5), h(1e5))
        statuses = [c.status for c in rows if c.evse_uid == "EVR-GENT-1-E3"]
        return statuses if statuses[-1:] == ["UNKNOWN"] else None

    assert await wait_for(history) == ["AVAILABLE", "OUTOFORDER", "AVAILABLE", "UNKNOWN"]
    await asyncio.sleep(0)
