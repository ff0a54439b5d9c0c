"""The mypyc build of the engine and the interpreted source give identical results, and the
fast datetime conversion equals `types.to_ms`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tariff_cases import CASES
from test_tariff_properties import TZS, energy_tariffs, sessions

from evroam.tariffs import (
    ChargingSession,
    MeterSample,
    Reservation,
    SampleSeries,
    compile_tariff,
    engine,
    parse_case,
    variants,
)
from evroam.tariffs import _kernel as kernel
from evroam.tariffs.types import to_ms

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "ocpi-examples" / "2.2.1"
SPEC_TARIFFS = sorted(p.name for p in EXAMPLES.glob("tariff*.json")) if EXAMPLES.is_dir() else []
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [UTC, None, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
needs_build = pytest.mark.skipif(not variants.compiled(), reason="the engine is not compiled here")


def outcome(module, ct, session, **kw) -> str:
    """Everything the engine returns (Decimals by repr, so 1.0 and 1.00 differ) or raises."""
    try:
        return repr(module.price_session(ct, session, **kw))
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


def assert_same(ct, session, **kw) -> None:
    assert outcome(engine, ct, session, **kw) == outcome(variants.pure_engine(), ct, session, **kw)


def test_the_interpreted_variant_is_interpreted():
    pure = variants.pure_engine()
    assert pure.__file__.endswith("engine.py") and pure._kernel.__file__.endswith("_kernel.py")
    assert not pure._kernel.COMPILED


@needs_build
@pytest.mark.skipif(not CASES, reason="tariff cases not found in tests/data")
@pytest.mark.parametrize("case", CASES, ids=[c.get("id", str(i)) for i, c in enumerate(CASES)])
def test_builds_agree_on_the_shared_cases(case):
    tariff, tz, session = parse_case(case)
    ct = compile_tariff(tariff, tz)
    assert_same(ct, session)
    assert_same(ct, SampleSeries.from_session(session), reservation=session.reservation)


@needs_build
@pytest.mark.skipif(not SPEC_TARIFFS, reason="OCPI examples not found")
@pytest.mark.parametrize("name", SPEC_TARIFFS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=sessions(), tz=st.sampled_from(TZS), data=st.data())
def test_builds_agree_on_the_spec_tariffs(name, s, tz, data):
    tariff = json.loads((EXAMPLES / name).read_text())
    ct = compile_tariff(tariff.get("data", tariff), tz)
    # readings without power or current, repeated or out of order, and a reservation
    samples = list(s.meter_samples)
    for i in data.draw(st.lists(st.integers(0, len(samples) - 1), max_size=3)):
        m = samples[i]
        samples[i] = MeterSample(m.timestamp, m.kwh_total, data.draw(st.sampled_from([None, m.power_kw])), None)
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(samples) - 1))
        samples.insert(i, samples[data.draw(st.integers(0, len(samples) - 1))])
    reservation = None
    if data.draw(st.booleans()):
        reservation = Reservation(
            s.start_date_time - timedelta(minutes=data.draw(st.integers(1, 300))),
            s.start_date_time + timedelta(minutes=10),
            data.draw(st.booleans()),
        )
    session = ChargingSession(s.start_date_time, s.end_date_time, tuple(samples), reservation)
    assert_same(ct, session)


@needs_build
@SETTINGS
@given(energy_tariffs(with_max_price=True), sessions(), st.sampled_from(TZS))
def test_builds_agree_on_generated_tariffs(tariff, s, tz):
    assert_same(compile_tariff(tariff, tz), s)


@SETTINGS
@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.sampled_from(ZONES),
    st.booleans(),
)
def test_epoch_ms_is_to_ms(value, zone, whole_ms):
    if whole_ms:
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    value = value.replace(tzinfo=zone)
    assert kernel.epoch_ms(value) == to_ms(value)
    assert variants.pure_engine()._kernel.epoch_ms(value) == to_ms(value)
