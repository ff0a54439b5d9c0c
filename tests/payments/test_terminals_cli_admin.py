"""`evroam terminals` (beside a running server, on its database) and the admin API's terminal
routes: what an operator does with a Payment Terminal Provider's terminals reaches the PTP
through the outbox the server delivers; bad input is one clear line (exit 1) or a 4xx, and
changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from kit import EVSE, LOCATION
from test_ocpi_ptp import TERMINAL, _example, ptp_cpo

from harness import httpx, wait_for

EVROAM = [sys.executable, "-m", "evroam"]
OTHER_EVSE = "EVR-GENT-1-E1"


async def evroam(db: str, *args: str, ok: bool = True) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*EVROAM, *args, "--db", db, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
                                                cwd=Path(db.split(":///", 1)[1]).parent)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if ok and proc.returncode != 0:
        raise AssertionError(f"evroam {' '.join(args)} failed ({proc.returncode}):\n{out.decode()}\n{err.decode()}")
    return proc.returncode, out.decode(), err.decode()


async def test_terminals_from_the_command_line(make_instance):
    cpo, ptp = await ptp_cpo(make_instance)
    db = cpo.settings().database_url
    try:
        assert (await ptp.create_terminal(_example("payment_terminal_create.json"))).status_code == 201
        _, out, _ = await evroam(db, "terminals", "list", "--json")
        [listed] = json.loads(out)
        assert listed["terminal_id"] == TERMINAL and listed["partner"] == "ptp" and listed["status"] == "ACTIVE"

        # assign (PATCH to the PTP) and say we issue the invoices (PUT), in one command
        _, out, _ = await evroam(db, "terminals", "assign", TERMINAL, "--evse", EVSE, "--invoices", "cpo")
        assert f"EVSEs {EVSE}" in out and "invoices by CPO" in out
        [(_, _, patch)] = await wait_for(lambda: ptp.sent("PATCH"))
        [(_, _, put)] = await wait_for(lambda: ptp.sent("PUT"))
        assert patch["evse_uids"] == [EVSE] and put["invoice_creator"] == "CPO"

        # bad input: one line, exit 1, nothing changed or pushed
        code, _, err = await evroam(db, "terminals", "assign", TERMINAL, "--evse", "NO-SUCH-EVSE", ok=False)
        assert code == 1 and "EVSE 'NO-SUCH-EVSE' is not one of ours" in err
        code, _, err = await evroam(db, "terminals", "assign", "T-UNKNOWN", "--location", LOCATION, ok=False)
        assert code == 1 and "terminal 'T-UNKNOWN' not found" in err
        code, _, err = await evroam(db, "terminals", "activate", "nobody", "--reference", "SN-1", ok=False)
        assert code == 1 and "no registered Payment Terminal Provider partner named 'nobody'" in err
        assert len(ptp.sent("PATCH")) == 1 and (await cpo.platform.terminals.listing())[0]["evse_uids"] == [EVSE]

        # deactivate, then activate a terminal built into another charger
        await evroam(db, "terminals", "deactivate", TERMINAL)
        await wait_for(lambda: ptp.sent("POST", f"/terminals/{TERMINAL}/deactivate"))
        _, out, _ = await evroam(db, "terminals", "activate", "ptp", "--reference", "SN-7", "--evse", OTHER_EVSE,
                                 "--city", "Gent")
        assert "(not created yet)" in out and "ACTIVATION_REQUESTED" in out
        [(_, _, activation)] = await wait_for(lambda: ptp.sent("POST", "/terminals/activate"))
        assert activation["reference"] == "SN-7" and activation["evse_uids"] == [OTHER_EVSE]
        _, out, _ = await evroam(db, "terminals", "list")
        assert "DEACTIVATED" in out and "SN-7" in out
        _, out, _ = await evroam(db, "terminals", "payments", "--json")
        assert json.loads(out) == []
    finally:
        await ptp.stop()


async def test_terminals_through_the_admin_api(make_instance):
    cpo, ptp = await ptp_cpo(make_instance)
    admin = {"Authorization": "Bearer admin-secret"}
    try:
        assert (await ptp.create_terminal(_example("payment_terminal_create.json"))).status_code == 201
        async with httpx.AsyncClient(base_url=f"{cpo.url}/admin/api", headers=admin) as http:
            assert (await http.get("/terminals", headers={"Authorization": "Bearer wrong"})).status_code == 401
            [listed] = (await http.get("/terminals")).json()
            assert listed["terminal_id"] == TERMINAL and listed["evse_uids"] == []
            r = await http.put(f"/terminals/{TERMINAL}/assignment", json={"location_ids": [LOCATION]})
            assert r.status_code == 200 and r.json()["location_ids"] == [LOCATION]
            [(_, _, patch)] = await wait_for(lambda: ptp.sent("PATCH"))
            assert patch["location_ids"] == [LOCATION] and patch["evse_uids"] == []
            r = await http.put(f"/terminals/{TERMINAL}/assignment", json={"location_ids": ["NOPE"]})
            assert r.status_code == 404 and "location 'NOPE' is not one of ours" in r.json()["detail"]
            r = await http.put(f"/terminals/{TERMINAL}/assignment", json={"invoices": "BANK"})
            assert r.status_code == 400 and "not CPO or PTP" in r.json()["detail"]
            assert (await http.put("/terminals/T-NONE/assignment", json={"evse_uids": []})).status_code == 404
            r = await http.post("/terminals/activations", json={"partner": "ptp", "reference": "SN-9",
                                                                "evse_uids": [EVSE]})
            assert r.status_code == 201 and r.json()["status"] == "ACTIVATION_REQUESTED"
            r = await http.post("/terminals/activations", json={"partner": "ptp"})
            assert r.status_code == 400 and "reference" in r.json()["detail"]
            assert (await http.post(f"/terminals/{TERMINAL}/deactivate")).json()["status"] == "DEACTIVATED"
            assert (await http.get("/terminal-payments")).json() == []
            assert (await http.get("/financial-advice-confirmations")).json() == []
            assert (await http.get("/terminal-payments/pp-1/invoice")).status_code == 404
        await wait_for(lambda: ptp.sent("POST", "/terminals/activate") and ptp.sent("POST", "/deactivate"))
        assert len(ptp.sent("PATCH")) == 1  # the refused changes pushed nothing
    finally:
        await ptp.stop()
