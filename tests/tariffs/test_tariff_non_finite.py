"""Readings no meter can give (infinity, NaN, beyond a petawatt-hour) are a PricingError of the
engine, in the compiled and the interpreted build alike, never an OverflowError or a ValueError
from deep inside the kernel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evroam.tariffs import ChargingSession, MeterSample, compile_tariff, engine, variants

TARIFF = {"country_code": "NL", "party_id": "CPO", "id": "E", "currency": "EUR", "last_updated": "2024-01-01T00:00:00Z",
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}]}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("module", [engine, variants.pure_engine()], ids=["as-installed", "interpreted"])
@pytest.mark.parametrize("kwh", [float("inf"), float("-inf"), float("nan"), 1e305, 2e15])
@pytest.mark.parametrize("where", ["last", "first", "middle"])
def test_non_finite_or_absurd_readings_are_a_pricing_error(module, kwh, where):
    ct = module.compile_tariff(TARIFF, "UTC")
    values = {"first": [kwh, 1.0, 2.0], "middle": [0.0, kwh, 2.0], "last": [0.0, 1.0, kwh]}[where]
    samples = [MeterSample(T0 + timedelta(minutes=10 * i), v) for i, v in enumerate(values)]
    with pytest.raises(module.PricingError, match="kwh_total"):
        module.price_session(ct, ChargingSession(T0, T0 + timedelta(minutes=30), samples))


def test_a_petawatt_hour_is_still_priced():
    ct = compile_tariff(TARIFF, "UTC")
    samples = [MeterSample(T0, 0.0), MeterSample(T0 + timedelta(minutes=10), 1e15)]
    result = engine.price_session(ct, ChargingSession(T0, T0 + timedelta(minutes=10), samples))
    assert result.total_cost.excl_vat == Decimal("250000000000000")
