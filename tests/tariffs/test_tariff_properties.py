"""Properties of the engine (hypothesis), and a cross-check against the per-minute
reference pricer on real spec tariffs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tariff_reference import reference_price

from evroam.model.tariffs import Tariff
from evroam.tariffs import ChargingSession, MeterSample, compile_tariff, price_session

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "ocpi-examples" / "2.2.1"
TZS = [
    "Europe/Amsterdam",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
    "America/Santiago",
    "Australia/Lord_Howe",
    "America/Havana",
]
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------- strategies

prices = st.integers(min_value=0, max_value=100).map(lambda c: c / 100)
vats = st.sampled_from([None, 0.0, 9.0, 21.0])
hours = st.integers(min_value=0, max_value=23).map(lambda h: f"{h:02d}:00")


@st.composite
def restrictions(draw) -> dict | None:
    r: dict = {}
    if draw(st.booleans()):
        r["start_time"], r["end_time"] = draw(hours), draw(hours)
    if draw(st.booleans()):
        r["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    if draw(st.booleans()):
        lo = draw(st.integers(0, 30))
        r["min_kwh"], r["max_kwh"] = float(lo), float(lo + draw(st.integers(1, 30)))
    if draw(st.booleans()):
        r["max_power"] = float(draw(st.sampled_from([11, 22, 50])))
    return r or None


@st.composite
def energy_tariffs(draw, with_max_price: bool = False) -> dict:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        comp = {"type": "ENERGY", "price": draw(prices), "step_size": 1}
        vat = draw(vats)
        if vat is not None:
            comp["vat"] = vat
        element: dict = {"price_components": [comp]}
        r = draw(restrictions())
        if r:
            element["restrictions"] = r
        elements.append(element)
    if draw(st.booleans()):
        elements.append(
            {"price_components": [{"type": "FLAT", "price": draw(prices), "step_size": 1, "vat": 21.0}]}
        )
    t = {"country_code": "NL", "party_id": "EVR", "id": "P", "currency": "EUR", "elements": elements}
    if with_max_price:
        cap = draw(st.integers(1, 2000)) / 100
        t["max_price"] = {"excl_vat": cap}
        if draw(st.booleans()):
            t["max_price"]["incl_vat"] = round(cap * draw(st.sampled_from([1.0, 1.1, 1.21])), 2)
    return t


@st.composite
def sessions(draw, minute_aligned: bool = False) -> ChargingSession:
    base = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 366 * 24 * 60)))
    t = base
    kwh = 1000.0
    samples = []
    for _ in range(draw(st.integers(1, 8))):
        minutes = draw(st.integers(1, 120))
        charging = draw(st.booleans())
        current = draw(st.sampled_from([10.0, 16.0, 32.0, 40.0, 63.0])) if charging else 0.0
        power = current * 0.23 * (3 if draw(st.booleans()) else 1) if charging else 0.0
        samples.append(MeterSample(t, kwh, power, current))
        if not minute_aligned:
            t += timedelta(seconds=draw(st.integers(0, 59)))
        t += timedelta(minutes=minutes)
        kwh = round(kwh + (power * minutes / 60 if charging else 0.0), 6)
    samples.append(MeterSample(t, kwh, 0.0, 0.0))
    return ChargingSession(base, t, tuple(samples))


def _cost(tariff: dict, tz: str, s: ChargingSession):
    return price_session(compile_tariff(tariff, tz), s).total_cost


# ----------------------------------------------------------------------- properties


@SETTINGS
@given(energy_tariffs(), sessions(), st.sampled_from(TZS), st.floats(0.001, 40), st.integers(1, 90))
def test_more_energy_never_costs_less(tariff, s, tz, extra_kwh, extra_minutes):
    """Appending charging to an ENERGY-only tariff session never lowers the total (up to the
    1 Wh step_size rounding, which can move to a cheaper last component)."""
    last = s.meter_samples[-1]
    end = last.timestamp + timedelta(minutes=extra_minutes)
    longer = ChargingSession(
        s.start_date_time,
        end,
        (
            *s.meter_samples[:-1],
            MeterSample(last.timestamp, last.kwh_total, 11.0, 16.0),
            MeterSample(end, last.kwh_total + extra_kwh, 0.0, 0.0),
        ),
    )
    before, after = _cost(tariff, tz, s), _cost(tariff, tz, longer)
    assert after.excl_vat >= before.excl_vat - Decimal("0.0011")
    assert after.incl_vat >= before.incl_vat - Decimal("0.0014")


@SETTINGS
@given(energy_tariffs(), sessions(), st.sampled_from(TZS), st.data())
def test_splitting_samples_changes_nothing(tariff, s, tz, data):
    """Inserting an interpolated reading at any instant inside a meter interval keeps the result."""
    samples = list(s.meter_samples)
    i = data.draw(st.integers(0, len(samples) - 2))
    a, b = samples[i], samples[i + 1]
    span_ms = int((b.timestamp - a.timestamp).total_seconds() * 1000)
    if span_ms < 2:
        return
    at_ms = data.draw(st.integers(1, span_ms - 1))
    t = a.timestamp + timedelta(milliseconds=at_ms)
    kwh = a.kwh_total + (b.kwh_total - a.kwh_total) * at_ms / span_ms
    samples.insert(i + 1, MeterSample(t, kwh, a.power_kw, a.current_a))
    split = ChargingSession(s.start_date_time, s.end_date_time, tuple(samples))
    ct = compile_tariff(tariff, tz)
    one, two = price_session(ct, s), price_session(ct, split)
    assert abs(one.total_cost.excl_vat - two.total_cost.excl_vat) < Decimal("0.000001")
    assert abs(one.total_cost.incl_vat - two.total_cost.incl_vat) < Decimal("0.000001")
    assert [(p.start_ms, p.end_ms, p.components) for p in one.periods] == [
        (p.start_ms, p.end_ms, p.components) for p in two.periods
    ]


@SETTINGS
@given(energy_tariffs(with_max_price=True), sessions(), st.sampled_from(TZS))
def test_max_price_is_never_exceeded(tariff, s, tz):
    cost = _cost(tariff, tz, s)
    assert cost.excl_vat <= Decimal(str(tariff["max_price"]["excl_vat"]))
    if "incl_vat" in tariff["max_price"]:
        assert cost.incl_vat <= Decimal(str(tariff["max_price"]["incl_vat"]))


# ----------------------------------------------------------------------- cross-check with the reference

SPEC_TARIFFS = [
    "tariff_4_complex.json",
    "tariff_14_step_size.json",
    "tariff_10_025kwh_parking_start.json",
    "tariff_13_simple_3hour_5parking.json",
    "tariffrestriction_example_max_duration.json",
    "tariffrestriction_example_max_power.json",
]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="OCPI examples not found")
@pytest.mark.parametrize("name", SPEC_TARIFFS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=sessions(minute_aligned=True), tz=st.sampled_from(TZS))
def test_engine_agrees_with_per_minute_reference(name, s, tz):
    tariff = Tariff.model_validate(json.loads((EXAMPLES / name).read_text()))
    got = price_session(compile_tariff(tariff, tz), s).total_cost
    samples = [(m.timestamp, m.kwh_total, m.power_kw, m.current_a) for m in s.meter_samples]
    excl, incl = reference_price(tariff, tz, s.start_date_time, s.end_date_time, samples)
    assert got.excl_vat == pytest.approx(excl, abs=Decimal("0.000001"))
    assert got.incl_vat == pytest.approx(incl, abs=Decimal("0.000001"))
