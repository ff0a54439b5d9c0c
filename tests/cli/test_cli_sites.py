"""`evroam sites` from the command line, beside a running server on the same database: bad input
is one clear line (exit 1) and stores nothing; set, circuit, list, status and profiles; a
change made by the CLI reaches the running server's plan."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import PASSWORD, PROFILED, charge_point, iso, past  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402
from test_cli import EVROAM  # noqa: E402

from evroam.demo import load_demo  # noqa: E402
from harness import Instance, wait_for  # noqa: E402


async def evroam(cwd: Path, *args: str, ok: bool = True) -> tuple[int, str, str]:
    """Run the command without blocking the server running in this event loop."""
    proc = await asyncio.create_subprocess_exec(*EVROAM, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, "COLUMNS": "200"})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if ok and proc.returncode != 0:
        raise AssertionError(f"evroam {' '.join(args)} failed ({proc.returncode}):\n{out.decode()}\n{err.decode()}")
    return proc.returncode, out.decode(), err.decode()


def tx_limit(cp) -> float | None:
    found = cp.tx_limits.get(1)
    return found[1] if found else None


async def test_sites_commands_beside_a_running_server(tmp_path):
    inst = Instance(db_path=tmp_path / "evroam.db", extra={"load_replan_delay": 0.05, "load_replan_seconds": 0.5})
    await inst.start()
    try:
        assert await load_demo(inst.platform)
        for n in (1, 2):
            await inst.platform.chargers.add(f"CP-{n}", password=PASSWORD, location_id="EVR-GENT-1",
                                             evses={1: f"EVR-GENT-1-E{n}"})
        await inst.platform.tokens.add_own({"uid": "TAG-1", "whitelist": "ALWAYS"})
        (tmp_path / "bad.json").write_text(json.dumps({"timezone": "Europe/Brussels", "periods": [
            {"days": ["MONDAY", "FUNDAY"], "start": "17:00", "end": "20:00", "capacity_kw": 11}]}))
        (tmp_path / "evening.json").write_text(json.dumps({"timezone": "Europe/Brussels", "periods": [
            {"start": "17:00", "end": "20:00", "capacity_kw": 11}]}))

        for args, message in [(["--capacity-kw", "22", "--schedule", "bad.json"], "FUNDAY"),
                              (["--capacity-kw", "22", "--phases", "2"], "--phases: 1 or 3")]:
            code, out, err = await evroam(tmp_path, "sites", "set", "EVR-GENT-1", *args, ok=False)
            assert code == 1, (args, out, err)
            assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)
        assert await inst.platform.sites.list() == []  # nothing stored

        site = json.loads((await evroam(tmp_path, "sites", "set", "EVR-GENT-1", "--capacity-kw", "22",
                                        "--schedule", "evening.json", "--json"))[1])
        assert site["members"] == ["CP-1", "CP-2"] and site["schedule"]["periods"][0]["capacity_kw"] == 11
        site = json.loads((await evroam(tmp_path, "sites", "circuit", "EVR-GENT-1", "C1", "--limit-a", "16",
                                        "--chargers", "CP-1", "--json"))[1])
        assert [(c["id"], c["limit_a"], c["chargers"]) for c in site["circuits"]] == [("C1", 16.0, ["CP-1"])]

        async with charge_point(inst, "CP-1", cls=PROFILED["1.6"]) as cp:
            await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
            await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0,
                                                  timestamp=iso(past(0))))
            await wait_for(lambda: tx_limit(cp) == 16.0)

            status = json.loads((await evroam(tmp_path, "sites", "status", "--json"))[1])
            [gent] = status
            assert [(c["id"], c["limit_a"]) for c in gent["circuits"]][1] == ("C1", 16.0)
            [session] = gent["sessions"]
            assert (session["charger_id"], session["in_force_a"], session["state"]) == ("CP-1", 16.0, "profiled")
            table = (await evroam(tmp_path, "sites", "status", "EVR-GENT-1"))[1]
            assert "CP-1" in table and "profiled" in table and "16 A" in table
            profiles = json.loads((await evroam(tmp_path, "sites", "profiles", "--charger", "CP-1", "--json"))[1])
            assert ("TX", 16.0, "Accepted") in {(p["purpose"], p["limit"], p["status"]) for p in profiles}

            # a change made by the CLI reaches the running server (its periodic re-plan)
            await evroam(tmp_path, "sites", "circuit", "EVR-GENT-1", "C1", "--limit-a", "10")
            await wait_for(lambda: tx_limit(cp) == 10.0)
    finally:
        await inst.close()


async def test_a_site_set_beside_a_running_server_is_in_force_within_a_second(tmp_path):
    """Two cars charge at a location with no site; `evroam sites set ... --capacity-kw 22` in a
    separate process: the server limits them to 22 kW within 1 s of the change being stored (with
    the default 60 s periodic re-plan, so not by waiting for it)."""
    inst = Instance(db_path=tmp_path / "evroam.db")
    await inst.start()
    try:
        assert await load_demo(inst.platform)
        for n, uid in ((1, "EVR-GENT-1-E1"), (2, "EVR-GENT-1-E2")):  # 22 kW AC each
            await inst.platform.chargers.add(f"CP-{n}", password=PASSWORD, location_id="EVR-GENT-1",
                                             evses={1: uid})
            await inst.platform.tokens.add_own({"uid": f"TAG-{n}", "whitelist": "ALWAYS"})
        async with charge_point(inst, "CP-1", cls=PROFILED["1.6"]) as cp1, \
                charge_point(inst, "CP-2", cls=PROFILED["1.6"]) as cp2:
            cps = [cp1, cp2]
            for n, cp in enumerate(cps, start=1):
                await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
                await cp.call(call16.StartTransaction(connector_id=1, id_tag=f"TAG-{n}", meter_start=0,
                                                      timestamp=iso(past(0))))
            await asyncio.sleep(0.5)
            assert all(tx_limit(cp) is None for cp in cps)  # no site: nothing to limit

            command = asyncio.create_task(evroam(tmp_path, "sites", "set", "EVR-GENT-1", "--capacity-kw", "22"))
            stored_at = None
            loop = asyncio.get_running_loop()
            while stored_at is None:  # the moment the command's change is in the database
                if await inst.platform.sites.list():
                    stored_at = loop.time()
                elif command.done():
                    await command
                    raise AssertionError("the command ended without storing the site")
                else:
                    await asyncio.sleep(0.01)
            await wait_for(lambda: all(tx_limit(cp) is not None for cp in cps), timeout=5, interval=0.01)
            in_force_after = loop.time() - stored_at
            await command
            assert sum(tx_limit(cp) for cp in cps) <= 22_000 / (3 * 230)
            print(f"limits in force {in_force_after:.2f} s after the change was stored")
            assert in_force_after < 1.0, f"limits in force {in_force_after:.2f} s after the change"
    finally:
        await inst.close()
