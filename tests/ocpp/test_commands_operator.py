"""Operator commands through the admin API to a connected `ocpp`-library charge point, for OCPP
1.6, 2.0.1 and 2.1: reset, availability, trigger message, configuration / variables, cache,
local list, start, stop and unlock; offline chargers get a clear error."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest
from charge_points import COMMANDED, DRIVER_TAG, charge_point
from test_commands import START_ACTION, boot, cpo_with_charger, pending_remote_starts, start_transaction

ADMIN = {"Authorization": "Bearer admin-secret"}


async def admin(cpo, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(method, f"{cpo.url}/admin/api/chargers/CP-1{path}", headers=ADMIN, **kwargs)


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_operator_commands(make_instance, version):
    cpo = await cpo_with_charger(make_instance)
    assert (await admin(cpo, "POST", "/reset", json={})).status_code == 409  # not connected
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)
        v16 = version == "1.6"

        reply = await admin(cpo, "POST", "/reset", json={"hard": True})
        assert reply.status_code == 200, reply.text
        assert reply.json()["answer"] == {"status": "Accepted"} and reply.json()["ocpp_version"] == version
        assert cp.received[-1] == ("Reset", {"type": "Hard" if v16 else "Immediate"})

        cp.answers["ChangeAvailability"] = "Scheduled"
        reply = await admin(cpo, "POST", "/availability", json={"evse": 1, "operative": False})
        assert reply.json()["answer"]["status"] == "Scheduled"
        assert cp.received[-1] == ("ChangeAvailability", {"connector_id": 1, "type": "Inoperative"} if v16 else
                                   {"operational_status": "Inoperative", "evse": {"id": 1}})

        reply = await admin(cpo, "POST", "/trigger", json={"message": "statusnotification", "evse": 1})
        assert reply.json()["answer"]["status"] == "Accepted"
        assert cp.received[-1][1]["requested_message"] == "StatusNotification"
        assert (await admin(cpo, "POST", "/trigger", json={"message": "MakeCoffee"})).status_code == 400

        key = "HeartbeatInterval" if v16 else "OCPPCommCtrlr.HeartbeatInterval"
        reply = await admin(cpo, "GET", "/config", params={"key": [key, "Nope.Nothing" if not v16 else "Nothing"]})
        assert reply.status_code == 200, reply.text
        answer = reply.json()["answer"]
        if v16:
            assert answer["configuration_key"] == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
            assert answer["unknown_key"] == ["Nothing"]
        else:
            assert answer["get_variable_result"][0]["attribute_value"] == "300"
            assert answer["get_variable_result"][1]["attribute_status"] == "UnknownVariable"
            assert (await admin(cpo, "GET", "/config", params={"key": "NoDot"})).status_code == 400

        reply = await admin(cpo, "PUT", "/config", json={"key": key, "value": "120"})
        assert reply.status_code == 200, reply.text
        if v16:
            assert reply.json()["answer"] == {"status": "Accepted"}
            assert cp.received[-1] == ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"})
        else:
            assert reply.json()["answer"]["set_variable_result"][0]["attribute_status"] == "Accepted"
            assert cp.received[-1][1]["set_variable_data"][0]["attribute_value"] == "120"

        assert (await admin(cpo, "POST", "/clear-cache")).json()["answer"] == {"status": "Accepted"}
        listed = (await admin(cpo, "GET", "/local-list")).json()["answer"]
        assert listed == ({"list_version": 3} if v16 else {"version_number": 3})
        reply = await admin(cpo, "PUT", "/local-list", json={"tokens": [DRIVER_TAG]})
        assert reply.json()["answer"]["status"] == "Accepted"
        sent = cp.received[-1][1]
        assert sent["update_type"] == "Full" and sent.get("list_version", sent.get("version_number")) == 4

        reply = await admin(cpo, "POST", "/unlock", json={"evse": 1})
        assert reply.json()["answer"] == {"status": "Unlocked"}

        reply = await admin(cpo, "POST", "/start", json={"evse": 1, "token": DRIVER_TAG})
        assert reply.json()["answer"]["status"] == "Accepted"
        info = await start_transaction(cp, version, cp.received[-1][1].get("remote_start_id"), tx_id="TX-OP-1")
        tx = await cpo.platform.charging.get_transaction("CP-1", info["transaction_id"])
        session = await cpo.platform.charging.get_session(tx.session_id)
        assert session["auth_method"] == "COMMAND"
        reply = await admin(cpo, "POST", "/stop", json={"session_id": tx.session_id})
        assert reply.json()["answer"]["status"] == "Accepted"
        assert cp.received[-1] == (("RemoteStopTransaction", {"transaction_id": int(tx.transaction_id)}) if v16 else
                                   ("RequestStopTransaction", {"transaction_id": "TX-OP-1"}))
        cp.answers[START_ACTION[version]] = "Rejected"
        reply = await admin(cpo, "POST", "/start", json={"evse": 2, "token": DRIVER_TAG})
        assert reply.json()["answer"]["status"] == "Rejected"
        assert await pending_remote_starts(cpo) == []  # a refused start is not waited for
        assert (await admin(cpo, "POST", "/stop", json={"session_id": "nope"})).status_code == 404

        cp.silent.add("ClearCache")
        cpo.platform.settings.command_timeout = 1
        assert (await admin(cpo, "POST", "/clear-cache")).status_code == 504


def evroam(args: list[str], cwd, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evroam.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200", **env})


async def test_cli_commands_go_through_the_running_server(make_instance, tmp_path):
    cpo = await cpo_with_charger(make_instance)
    env = {"EVROAM_HTTP_PORT": str(cpo.port), "EVROAM_ADMIN_TOKEN": "admin-secret"}
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        proc = await asyncio.to_thread(evroam, ["chargers", "reset", "CP-1", "--hard"], tmp_path, env)
        assert proc.returncode == 0, proc.stderr
        assert "Reset" in proc.stdout and "Accepted" in proc.stdout
        assert cp.received[-1] == ("Reset", {"type": "Hard"})
        proc = await asyncio.to_thread(evroam, ["chargers", "config", "CP-1", "HeartbeatInterval", "--json"],
                                       tmp_path, env)
        assert json.loads(proc.stdout)["answer"]["configuration_key"][0]["value"] == "300"
        proc = await asyncio.to_thread(evroam, ["chargers", "availability", "CP-1", "--connector", "1",
                                                "inoperative"], tmp_path, env)
        assert proc.returncode == 0 and cp.received[-1][1] == {"connector_id": 1, "type": "Inoperative"}
    proc = await asyncio.to_thread(evroam, ["chargers", "clear-cache", "CP-1"], tmp_path, env)
    assert proc.returncode == 1 and "not connected" in proc.stderr
    proc = await asyncio.to_thread(evroam, ["chargers", "reset", "CP-1"], tmp_path,
                                   {**env, "EVROAM_HTTP_PORT": "1"})
    assert proc.returncode == 1 and "is `evroam serve` running?" in proc.stderr
