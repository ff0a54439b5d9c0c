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
