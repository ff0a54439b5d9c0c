"""`evroam demo` as a user runs it: a subprocess that starts a CPO and an eMSP (two more `evroam
serve` processes), registers them, connects a simulated charger and runs a driver's journey. It
must exit 0 with every step of the summary checked, leave nothing running, and start only from an
empty folder."""

from __future__ import annotations

import os
import subprocess
import sys


def run_demo(*args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVROAM_")}
    return subprocess.run([sys.executable, "-m", "evroam", "demo", *args], capture_output=True, text=True,
                          timeout=timeout, env={**env, "COLUMNS": "240"})


STEPS = ("start the CPO", "start the eMSP", "register over OCPI", "add a driver", "connect a charger",
         "find a charger", "price estimate", "remote start", "charging", "remote stop", "CDR at the eMSP",
         "invoice line")


def test_demo_runs_the_whole_journey(tmp_path):
    folder = tmp_path / "demo"
    proc = run_demo("--dir", str(folder), "--pace", "0")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "demo passed: 12 of 12 steps checked out" in output
    summary = output[output.index("evroam demo: summary"):]
    for step in STEPS:
        row = next((line for line in summary.splitlines() if f" {step} " in line), None)
        assert row is not None and " ok " in row, (step, summary)
    # The values each step checked are in the summary.
    assert "equal at CPO and eMSP and to the estimate" in summary
    assert "12 kWh" in summary and "= the CDR" in summary
    # Two instances, each with its own database, config and server log, kept with --dir.
    for side in ("cpo", "emsp"):
        assert (folder / side / "evroam.db").is_file() and (folder / side / "evroam.toml").is_file()
        assert (folder / side / "server.log").is_file()
    # The servers were stopped: their ports are free again.
    import socket

    for side in ("cpo", "emsp"):
        port = int(next(line.split("=")[1] for line in (folder / side / "evroam.toml").read_text().splitlines()
                        if line.startswith("http_port")))
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("x")
    proc = run_demo("--dir", str(tmp_path), timeout=60)
    assert proc.returncode == 1 and "not empty" in proc.stderr
