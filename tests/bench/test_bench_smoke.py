"""bench/ocpi_locations.py runs end to end on a small database (its figures are not checked here:
speed is judged by running the benchmark itself, see docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ocpi_locations.py"


def test_locations_bench_runs_and_cleans_up(tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--locations", "300", "--requests", "50", "--rounds", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "locations offset=0" in run.stdout and "locations offset=200" in run.stdout
    assert "ceiling (FastAPI route)" in run.stdout and ("PASS" in run.stdout or "FAIL" in run.stdout)
    result = orjson.loads(out.read_bytes())
    assert [r["scenario"] for r in result["results"]] == [
        "locations offset=0", "locations offset=200", "ceiling (FastAPI route)", "ceiling (bare ASGI)"]
    page = result["results"][0]["bytes"]
    assert page > 100 * 2000 and all(abs(r["bytes"] - page) < 8 for r in result["results"][2:])  # same body
    assert all(len(r["round_rps"]) == 2 for r in result["results"])
