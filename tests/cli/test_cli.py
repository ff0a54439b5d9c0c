"""The `evroam` command: imports with clear errors, partners, and a whole roaming set-up done
only with CLI commands against two running `evroam serve` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness import free_socket

EVROAM = [sys.executable, "-m", "evroam.cli"]


def run(args: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(EVROAM + args, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"evroam {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_import_errors_are_one_clear_line(tmp_path, examples):
    loc = examples / "location_example.json"
    proc = run(["locations", "import", str(loc)], tmp_path, check=False)
    assert proc.returncode == 1
    assert "BE/BEC" in proc.stderr and "--as-own" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = run(["locations", "import", str(loc), "--as-own"], tmp_path)
    assert "1 new" in proc.stdout
    assert (tmp_path / "evroam.db").exists()  # the folder's own database
    assert "LOC1" in run(["locations", "list"], tmp_path).stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads((examples / "tariff_1_simple_2hour.json").read_text()),
                               "country_code": "NL", "party_id": "EVR", "currency": "EURO"}))
    proc = run(["tariffs", "import", str(bad)], tmp_path, check=False)
    assert proc.returncode == 1 and "currency" in proc.stderr
    (tmp_path / "broken.json").write_text("{")
    proc = run(["tariffs", "import", "broken.json"], tmp_path, check=False)
    assert proc.returncode == 1 and "not valid JSON" in proc.stderr
    proc = run(["tariffs", "import", "missing.json"], tmp_path, check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr


def test_invite_json_and_list(tmp_path):
    out = json.loads(run(["partners", "invite", "acme", "--json"], tmp_path).stdout)
    assert set(out) == {"token", "versions_url"}
    assert out["versions_url"] == "http://127.0.0.1:8080/ocpi/versions"
    again = json.loads(run(["partners", "invite", "acme", "--json", "--token", "fixed-token"], tmp_path).stdout)
    assert again["token"] == "fixed-token"
    listed = json.loads(run(["partners", "list", "--json"], tmp_path).stdout)
    assert [(p["name"], p["status"]) for p in listed] == [("acme", "INVITED")]
    proc = run(["partners", "sync", "nobody"], tmp_path, check=False)
    assert proc.returncode == 1 and "no partner named" in proc.stderr


class Server:
    def __init__(self, folder: Path, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        sock, ocpp_sock = free_socket(), free_socket()
        self.port = sock.getsockname()[1]
        self.ocpp_port = ocpp_sock.getsockname()[1]
        sock.close()
        ocpp_sock.close()
        self.folder = folder
        self.env = {"EVROAM_HTTP_PORT": str(self.port), "EVROAM_OCPP_PORT": str(self.ocpp_port),
                    "EVROAM_OUTBOX_POLL_SECONDS": "0.3", **env}
        self.proc = subprocess.Popen(EVROAM + ["serve", "--demo-data"], cwd=folder, env={**os.environ, **self.env},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"server did not start:\n{self.proc.stdout.read()}")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(list(args), self.folder, env=self.env, check=check)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def servers(tmp_path):
    started: list[Server] = []

    def start(name: str, **env: str) -> Server:
        s = Server(tmp_path / name, **env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_roaming_set_up_with_cli_commands_only(servers):
    cpo = servers("cpo", EVROAM_COUNTRY_CODE="NL", EVROAM_PARTY_ID="CPO", EVROAM_ROLES="CPO")
    emsp = servers("emsp", EVROAM_COUNTRY_CODE="DE", EVROAM_PARTY_ID="MSP", EVROAM_ROLES="EMSP")
    invite = json.loads(cpo.cli("partners", "invite", "my-emsp", "--json").stdout)
    # registered on a version of our choice: 2.1.1, which cannot say the demo tariff AC-1 (priced by current)
    out = emsp.cli("partners", "register", "--versions-url", invite["versions_url"], "--token", invite["token"],
                   "--name", "my-cpo", "--version", "2.1.1").stdout
    assert "registered" in out and "OCPI 2.1.1" in out and "NL/CPO" in out and "pulled 3 locations and 1 tariffs" in out
    assert "synced my-cpo" in emsp.cli("partners", "sync", "my-cpo").stdout  # incremental
    listed = json.loads(cpo.cli("partners", "list", "--json").stdout)
    assert listed[0]["status"] == "REGISTERED" and listed[0]["roles"][0]["party_id"] == "MSP"
    assert listed[0]["version"] == "2.1.1"
    assert [t["id"] for t in listed[0]["tariffs_not_sent"]] == ["AC-1"]
    table = cpo.cli("partners", "list").stdout
    assert "2.1.1" in table and "not sent to my-emsp (OCPI 2.1.1): tariff AC-1: elements[1] is restricted by " \
        "max_current" in " ".join(table.split())
    # a re-registration (credentials PUT) moves it to the highest version both speak
    assert "(OCPI 2.3.0)" in emsp.cli("partners", "rotate", "my-cpo").stdout
    assert json.loads(cpo.cli("partners", "list", "--json").stdout)[0]["version"] == "2.3.0"
    assert "2 tariffs, 3 locations" in emsp.cli("partners", "sync", "my-cpo", "--full").stdout

    # A CLI change beside the running CPO server is pushed by that server's outbox.
    cpo.cli("locations", "status", "EVR-AMS-1", "EVR-AMS-1-E2", "outoforder")
    token = emsp.cli("admin-token").stdout.strip()
    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        r = httpx.get(f"http://127.0.0.1:{emsp.port}/admin/api/partners", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        loc = _emsp_location(emsp)
        status = loc["evses"][1]["status"]
        if status == "OUTOFORDER":
            break
        time.sleep(0.3)
    assert status == "OUTOFORDER"
    assert httpx.get(f"http://127.0.0.1:{emsp.port}/admin/api/partners").status_code == 401


def _emsp_location(emsp: Server) -> dict:
    import asyncio

    from evroam.store import Store

    async def get():
        store = Store(f"sqlite+aiosqlite:///{emsp.folder / 'evroam.db'}")
        try:
            async with store.connect() as conn:
                return await store.locations.get(conn, "NL", "CPO", "EVR-AMS-1")
        finally:
            await store.close()

    return asyncio.run(get())
