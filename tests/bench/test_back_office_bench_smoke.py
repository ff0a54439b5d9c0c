"""bench/back_office.py runs end to end on a small database: it seeds, signs in, and gets every
page (its figures are not checked here: speed is judged by running the benchmark itself, see
docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[2] / "bench" / "back_office.py"


def test_back_office_bench_runs(tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run([sys.executable, str(BENCH), "--scale", "0.002", "--requests", "1", "--json", str(out)],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout or "FAIL" in run.stdout
    result = orjson.loads(out.read_bytes())
    names = set(result["results"])
    assert {"Overview", "Map", "Chargers", "Sessions, past, deep page", "CDRs", "a CDR explained", "Tariffs",
            "Partners", "a site", "Drivers", "Statistics, 12 months", "Log, deep page", "Audit log"} <= names
    assert all(r["bytes"] > 1000 for name, r in result["results"].items() if not name.startswith("download:"))
    assert set(result["baseline"]) <= names
