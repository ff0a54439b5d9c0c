"""bench/load_management.py runs end to end on a small site (N=20, 6 simulated hours): every
policy is simulated, no circuit is ever over its limit, the figures are consistent. Speed and
the comparison between policies are judged by running the benchmark itself (docs/load-management.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load_management.py"


def test_load_management_bench_runs_small(tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--n", "20", "--hours", "6", "--concurrent", "50", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "capacity violations: 0 (PASS)" in run.stdout
    result = json.loads(out.read_text())
    (r,) = result["runs"]
    assert r["n"] == 20 and 0 < r["cars"] <= 20
    assert list(r["policies"]) == ["smart", "equal share", "first come"]
    for m in r["policies"].values():
        assert m["violations"] == 0
        assert 0 < m["delivered_kwh"] <= m["requested_kwh"] + 1e-9
        assert m["delivered_kwh"] <= r["bound_kwh"] + 1e-6  # no policy beats the max-flow bound
        assert 0 < m["peak_kw"] <= r["capacity_kw"] + 1e-6
        assert m["plans"] > 0 and m["profiles"] > 0
    assert result["concurrent"]["sessions"] == 50 and result["concurrent"]["p50_ms"] > 0
