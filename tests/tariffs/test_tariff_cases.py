"""Every case of the shared tariff-case set (spec worked examples, priced by hand and
cross-checked) agrees with the engine within the stated tolerances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evroam.tariffs import price_case

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "tariff-cases" / "cases.json"
COST_TOL, TIME_TOL, ENERGY_TOL = 0.005, 0.0001, 0.001


def _cases() -> list[dict]:
    if not CASES_FILE.is_file():
        return []
    return json.loads(CASES_FILE.read_text())["cases"]


CASES = _cases()


def assert_agrees(out: dict, expected: dict) -> None:
    """Compare a result with an expected block of the case format."""
    for key in ("excl_vat", "incl_vat"):
        if key in expected["total_cost"]:
            assert out["total_cost"][key] == pytest.approx(expected["total_cost"][key], abs=COST_TOL), key
    for key, tol in (
        ("total_energy", ENERGY_TOL),
        ("total_time", TIME_TOL),
        ("total_parking_time", TIME_TOL),
    ):
        if key not in expected:
            continue
        if expected[key] is None:
            assert out[key] is None, key
        else:
            assert out[key] == pytest.approx(expected[key], abs=tol), key
    if "cost_breakdown_excl_vat" in expected:
        got = out["cost_breakdown_excl_vat"]
        assert set(got) == set(expected["cost_breakdown_excl_vat"])
        for dim, value in expected["cost_breakdown_excl_vat"].items():
            assert got[dim] == pytest.approx(value, abs=COST_TOL), dim
    if expected.get("charging_periods") is not None:
        got_periods = out["charging_periods"]
        assert len(got_periods) == len(expected["charging_periods"])
        for got, exp in zip(got_periods, expected["charging_periods"], strict=True):
            assert got["start_date_time"] == exp["start_date_time"]
            if "active_elements" in exp:
                assert got["active_elements"] == exp["active_elements"]
            assert [d["type"] for d in got["dimensions"]] == [d["type"] for d in exp["dimensions"]]
            for gd, ed in zip(got["dimensions"], exp["dimensions"], strict=True):
                tol = ENERGY_TOL if gd["type"] == "ENERGY" else TIME_TOL
                assert gd["volume"] == pytest.approx(ed["volume"], abs=tol)


@pytest.mark.skipif(not CASES, reason=f"{CASES_FILE} not found")
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_shared_case(case):
    assert_agrees(price_case(case), case["expected"])


@pytest.mark.skipif(not CASES, reason=f"{CASES_FILE} not found")
def test_all_shared_cases_are_collected():
    assert len(CASES) >= 29
