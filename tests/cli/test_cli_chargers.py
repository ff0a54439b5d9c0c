"""`evroam chargers`, `evroam tokens` and `evroam log` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import run


def test_chargers_tokens_and_log(tmp_path):
    proc = run(["chargers", "add", "CP-1", "--password", "long-enough", "--location", "EVR-GENT-1",
                "--evse", "1=EVR-GENT-1-E3"], tmp_path, check=False)
    assert proc.returncode == 1 and "location 'EVR-GENT-1' not found" in proc.stderr  # no demo data yet
    demo = Path(__file__).resolve().parents[2] / "src" / "evroam" / "demo"
    run(["tariffs", "import", str(demo / "tariffs.json"), "--as-own"], tmp_path)
    run(["locations", "import", str(demo / "locations.json"), "--as-own"], tmp_path)
    out = run(["chargers", "add", "CP-1", "--password", "long-enough", "--location", "EVR-GENT-1",
               "--evse", "1=EVR-GENT-1-E3"], tmp_path).stdout
    assert "CP-1" in out and "1=EVR-GENT-1-E3" in out
    for bad, message in [(["--evse", "one=X"], "is not CONNECTOR=EVSE_UID"), (["--evse", "1=NOPE"], "NOPE"),
                         (["--password", "short"], "8 to 64")]:
        args = ["chargers", "add", "CP-2", "--password", "long-enough", "--location", "EVR-GENT-1",
                "--evse", "1=EVR-GENT-1-E1"]
        args[args.index(bad[0]) + 1] = bad[1]
        proc = run(args, tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr
    listed = json.loads(run(["chargers", "list", "--json"], tmp_path).stdout)
    assert [(c["id"], c["status"], c["has_password"]) for c in listed] == [("CP-1", "ACCEPTED", True)]
    assert "long-enough" not in (tmp_path / "evroam.db").read_bytes().decode("latin-1")
    assert "DEMO-1 (RFID, ALLOWED, valid)" in run(["tokens", "add", "DEMO-1"], tmp_path).stdout
    assert "no OCPP messages" in run(["log", "--charger", "CP-1", "--since", "2024-05-06T08:00"], tmp_path).stdout
    proc = run(["log", "--since", "yesterday"], tmp_path, check=False)
    assert proc.returncode == 1 and "--since" in proc.stderr
