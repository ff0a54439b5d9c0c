"""bench/ocpp_load.py runs end to end with a few chargers (its figures are not checked here: speed
is judged by running the benchmark itself, see docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ocpp_load.py"


def test_ocpp_load_bench_runs_and_cleans_up(tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--chargers", "20", "--seconds", "1", "--idle", "50", "--sessions",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ratio evroam/bare" in run.stdout and "idle: 50/50 chargers connected" in run.stdout
    result = orjson.loads(out.read_bytes())
    assert [r["server"] for r in result["load"]] == ["evroam", "sessions", "bare"]
    assert result["load"][0]["acked"] > 0 and result["persisted"]["ok"]
    assert result["persisted"]["rows"] == result["persisted"]["expected"]
    assert result["load"][1]["acked"] > 0 and result["persisted_sessions"]["ok"]
    assert result["persisted_sessions"]["rows"] == result["persisted_sessions"]["expected"]
    assert "sessions: 20 Sessions for 20 transactions" in run.stdout
    assert result["idle"]["connected"] == 50
