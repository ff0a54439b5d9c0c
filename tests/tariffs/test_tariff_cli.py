"""`evroam tariff price|estimate|lint` through typer's CliRunner, and the explanation data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evroam.cli_tariff import app
from evroam.tariffs import compile_tariff, estimate, explain, parse_case, price_session

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_price_prints_the_result_json():
    res = run("price", str(DOCS / "tariff-case-complex-monday.json"))
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["total_cost"] == {"excl_vat": 9.0, "incl_vat": 10.3}
    assert out["total_parking_time"] == pytest.approx(0.7)
    assert [p["dimensions"][0]["type"] for p in out["charging_periods"]] == ["ENERGY", "PARKING_TIME"]


def test_price_explain_renders_a_table():
    res = run("price", "--explain", str(DOCS / "tariff-case-step-size.json"))
    assert res.exit_code == 0, res.output
    assert "step_size 900 s" in res.stdout
    assert "total: 0.73 excl VAT" in res.stdout


def test_price_explain_json_rows_add_up_to_the_subtotal():
    res = run("price", "--explain", "--json", str(DOCS / "tariff-case-reservation.json"))
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert sum(r["cost_excl_vat"] for r in data["rows"]) == pytest.approx(
        data["subtotal"]["excl_vat"], abs=1e-3
    )
    assert data["total"] == {"excl_vat": 8.75, "incl_vat": 10.0}
    kinds = [r["kind"] for r in data["rows"]]
    assert kinds[:3] == ["reservation_flat", "reservation", "reservation_step_size"]


def test_decimals_option_rounds_reported_money():
    res = run("price", "--decimals", "2", str(DOCS / "tariff-case-step-size.json"))
    assert json.loads(res.stdout)["total_cost"]["excl_vat"] == 0.73


def test_missing_field_is_one_line_naming_it(tmp_path):
    case = json.loads((DOCS / "tariff-case-complex-monday.json").read_text())
    del case["tariff"]["elements"][0]["price_components"][0]["step_size"]
    res = run("price", write(tmp_path, "c.json", case))
    assert res.exit_code == 1
    assert res.stderr.strip() == "error: tariff.elements[0].price_components[0].step_size: Field required"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(location_time_zone="Mars/Base"), "error: location_time_zone: "),
        (lambda c: c["session"].update(start_date_time="yesterday"), "error: session.start_date_time: "),
        (
            lambda c: c["session"]["meter_samples"][1].update(kwh_total=1.0),
            "error: session.meter_samples[1].kwh_total",
        ),
        (
            lambda c: c["tariff"]["elements"][1]["restrictions"].update(max_current="many"),
            "error: tariff.elements[1].restrictions.max_current: ",
        ),
        (lambda c: c.pop("session"), "error: session: Field required"),
    ],
)
def test_bad_input_names_the_field(tmp_path, mutate, expected):
    case = json.loads((DOCS / "tariff-case-complex-monday.json").read_text())
    mutate(case)
    res = run("price", write(tmp_path, "c.json", case))
    assert res.exit_code == 1
    assert res.stderr.startswith(expected)
    assert len(res.stderr.strip().splitlines()) == 1


def test_unreadable_and_invalid_json(tmp_path):
    res = run("price", str(tmp_path / "missing.json"))
    assert res.exit_code == 1 and res.stderr.startswith("error: ")
    res = run("price", write(tmp_path, "x.json", "{not json"))
    assert res.exit_code == 1 and "invalid JSON at line 1" in res.stderr


def test_estimate_json_and_explain():
    args = [
        "estimate",
        "--tariff",
        str(DOCS / "tariff-night-day.json"),
        "--kwh",
        "30",
        "--power-kw",
        "11",
        "--start",
        "2024-05-06T18:00",
        "--tz",
        "Europe/Amsterdam",
    ]
    res = run(*args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # 30 kWh at 11 kW from 18:00 local = 2 h 43 m 38 s, all at the day price 0.39 + FLAT 0.35 = 12.05
    assert out["total_cost"]["excl_vat"] == pytest.approx(12.05)
    assert out["estimate"]["start_date_time"] == "2024-05-06T16:00:00Z"
    res = run(*args, "--parking-minutes", "45", "--explain")
    assert res.exit_code == 0, res.output
    assert "PARKING" in res.stdout


def test_estimate_rejects_bad_options():
    res = run(
        "estimate",
        "--tariff",
        str(DOCS / "tariff-night-day.json"),
        "--kwh",
        "30",
        "--power-kw",
        "0",
        "--start",
        "2024-05-06T18:00",
        "--tz",
        "Europe/Amsterdam",
    )
    assert res.exit_code == 1 and res.stderr.startswith("error: --power-kw")
    res = run(
        "estimate",
        "--tariff",
        str(DOCS / "tariff-night-day.json"),
        "--kwh",
        "30",
        "--power-kw",
        "11",
        "--start",
        "2024-05-06T18:00",
        "--tz",
        "Nowhere/City",
    )
    assert res.exit_code == 1 and "--tz" in res.stderr


def test_lint_exit_codes(tmp_path):
    res = run("lint", str(DOCS / "tariff-lint-problems.json"))
    assert res.exit_code == 1
    assert "error: tariff.elements[2].restrictions: can never apply: min_kwh 20.0" in res.stderr
    assert "tariff.elements[1]: can never apply: shadowed by earlier element(s) elements[0]" in res.stdout
    assert "reservation element can only price FLAT and TIME" in res.stderr
    ok = run("lint", str(DOCS / "tariff-complex.json"))
    assert ok.exit_code == 0, ok.output
    warn_only = json.loads((DOCS / "tariff-complex.json").read_text())
    warn_only["elements"][1]["price_components"][0]["step_size"] = 0
    path = write(tmp_path, "w.json", warn_only)
    assert run("lint", path).exit_code == 0
    assert run("lint", "--strict", path).exit_code == 1
    data = json.loads(run("lint", "--json", path).stdout)
    assert data["errors"] == 0


def test_lint_names_the_ocpi_versions_a_tariff_cannot_be_sent_in(tmp_path):
    """A tariff whose price depends on what OCPI 2.1.1 cannot say is never sent to 2.1.1 partners
    (rather than sent with a wrong price): lint says so, with the reasons."""
    t = json.loads((DOCS / "tariff-complex.json").read_text())
    plain = run("lint", "--json", write(tmp_path, "plain.json", {**t, "elements": [t["elements"][0]]}))
    assert not [m for m in json.loads(plain.stdout)["messages"] if "not sent" in m["message"]]
    limited = {**t, "min_price": {"excl_vat": 1.0}, "end_date_time": "2030-01-01T00:00:00Z"}
    res = run("lint", "--json", write(tmp_path, "limited.json", limited))
    [msg] = [m for m in json.loads(res.stdout)["messages"] if "not sent" in m["message"]]
    assert msg["severity"] == "warning" and msg["message"].startswith("not sent to OCPI 2.1.1 partners: ")
    assert "it has a min price" in msg["message"] and "valid for a limited period" in msg["message"]
    res = run("lint", "--strict", write(tmp_path, "limited.json", limited))
    assert res.exit_code == 1  # a warning
    taxed = run("lint", write(tmp_path, "taxed.json", {**t, "tax_included": "YES"}))
    assert "not sent to OCPI 2.2.1 partners: its prices include taxes" in taxed.stdout
    assert "not sent to OCPI 2.1.1 partners: its prices include taxes" in taxed.stdout


def test_lint_reports_invalid_fields(tmp_path):
    t = json.loads((DOCS / "tariff-complex.json").read_text())
    t["elements"][1]["restrictions"]["start_time"] = "25:00"
    del t["currency"]
    res = run("lint", write(tmp_path, "t.json", t))
    assert res.exit_code == 1
    assert "error: tariff.currency: Field required" in res.stderr
    assert "error: tariff.elements[1].restrictions.start_time" in res.stderr


def test_explanation_is_data():
    case = json.loads((DOCS / "tariff-case-complex-monday.json").read_text())
    tariff, tz, session = parse_case(case)
    ct = compile_tariff(tariff, tz)
    exp = explain(ct, price_session(ct, session))
    periods = [r for r in exp.rows if r.kind == "period"]
    assert [(r.dimension, r.element) for r in periods] == [("TIME", 1), ("PARKING_TIME", 4)]
    assert str(exp.total.excl_vat.quantize(exp.total.excl_vat.__class__("0.01"))) == "9.00"
    assert exp.to_dict()["total"] == {"excl_vat": 9.0, "incl_vat": 10.3}


def test_estimate_function_for_the_driver_api():
    from datetime import datetime

    tariff = json.loads((DOCS / "tariff-night-day.json").read_text())
    # 22 kWh at 11 kW from 21:00 local: 21:00-22:00 11 kWh * 0.39 + 22:00-23:00 11 kWh * 0.25 + FLAT 0.35
    # = 4.29 + 2.75 + 0.35 = 7.39
    est = estimate(
        tariff, kwh=22, power_kw=11, start=datetime(2024, 5, 6, 21, 0), time_zone="Europe/Amsterdam"
    )
    assert float(est.result.total_cost.excl_vat) == pytest.approx(7.39)
    assert est.to_dict()["total_cost"]["excl_vat"] == pytest.approx(7.39)
    assert est.session.meter_samples[0].current_a == pytest.approx(47.826, abs=1e-3)
