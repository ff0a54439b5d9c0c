"""The strict reading of OCPP numbers and times (`evroam.ocpp.values`) and the plausibility of
energy readings (`evroam.services.plausibility`), on their own."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ocpp.exceptions import OCPPError

from evroam.ocpp import values
from evroam.services.plausibility import BACKWARDS, SPIKE, TOO_FAST, check_energy, max_power_w

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@given(st.text(max_size=30))
def test_a_16_value_is_a_finite_ascii_decimal_or_a_callerror(text):
    try:
        value = values.decimal_16(text)
    except OCPPError as error:
        assert error.code in ("TypeConstraintViolation", "PropertyConstraintViolation")
    else:
        assert text.isascii() and text.strip() == text and "_" not in text
        assert math.isfinite(value) and value == float(text)


@pytest.mark.parametrize("text", ["0", "12", "-3", "+4", "12.5", ".5", "5.", "1.2345678E7", "1e-3", "0001"])
def test_plain_decimals_are_read(text):
    assert values.decimal_16(text) == float(text)


@pytest.mark.parametrize("value, code", [
    (float("nan"), "FormatViolation"), (float("inf"), "FormatViolation"), ("12", "TypeConstraintViolation"),
    (True, "TypeConstraintViolation"), (None, "TypeConstraintViolation"), (10**400, "PropertyConstraintViolation")])
def test_a_2x_value_must_be_a_finite_json_number(value, code):
    with pytest.raises(OCPPError) as error:
        values.number_2(value)
    assert error.value.code == code


def test_multipliers_come_from_a_table_and_are_never_computed():
    assert [values.multiplier(m) for m in (None, -3, 0, 3)] == [1.0, 1e-3, 1.0, 1e3]
    began = time.monotonic()
    for huge in (4, -4, 20, 10**7, -(10**7), 10**100):
        with pytest.raises(OCPPError) as error:
            values.multiplier(huge)
        assert error.value.code == "PropertyConstraintViolation"
    assert time.monotonic() - began < 0.1
    with pytest.raises(OCPPError) as error:
        values.multiplier(1.5)
    assert error.value.code == "TypeConstraintViolation"


def test_scaled_values_stay_within_what_a_meter_reads():
    assert values.scaled(2.5, "kWh") == 2500.0 and values.scaled(5, "Wh", 1e3) == 5000.0
    for value, unit in [(1e10, "kWh"), (1e308, "Wh"), (-2e12, "W")]:
        with pytest.raises(OCPPError):
            values.scaled(value, unit)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-45T99:00:00Z", "2026-02-30T10:00:00Z", "", None, 5])
def test_unreadable_times_are_a_type_constraint_violation(text):
    with pytest.raises(OCPPError) as error:
        values.timestamp(text)
    assert error.value.code == "TypeConstraintViolation"


# ---------------------------------------------------------------------------- plausibility


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_readings_that_go_down_or_rise_faster_than_the_evse_can_deliver_are_refused():
    readings = [(at(10), 1000.0), (at(20), 2000.0), (at(25), 999_000.0), (at(27), 1500.0), (at(30), 3000.0)]
    checked = check_energy(readings, start=T0, meter_start_wh=0.0, end=at(40), meter_stop_wh=4000.0,
                           max_power_w=22_000, margin=1.5)
    assert [(p.wh, p.kind) for p in checked.kept] == [(0.0, "start"), (1000.0, "reading"), (2000.0, "reading"),
                                                        (3000.0, "reading"), (4000.0, "stop")]
    assert [(r.wh, r.reason) for r in checked.refused] == [(999_000.0, TOO_FAST), (1500.0, BACKWARDS)]


def test_a_spike_within_the_power_bound_goes_when_the_register_comes_back_down():
    readings = [(at(10), 1000.0), (at(20), 30_000.0), (at(21), 31_000.0), (at(30), 3000.0)]
    checked = check_energy(readings, start=T0, meter_start_wh=0.0, max_power_w=350_000, margin=1.5)
    assert [p.wh for p in checked.kept] == [0.0, 1000.0, 3000.0]
    assert [(r.wh, r.reason) for r in checked.refused] == [(30_000.0, SPIKE), (31_000.0, SPIKE)]


def test_an_implausible_stop_bills_up_to_the_last_plausible_reading():
    checked = check_energy([(at(10), 5000.0)], start=T0, meter_start_wh=0.0, end=at(12),
                           meter_stop_wh=10**9, max_power_w=150_000, margin=1.5)
    assert checked.last_wh == 5000.0 and [r.kind for r in checked.refused] == ["stop"]
    for stop in (4000.0, 0.0):  # a stop lower than the readings: never taken for them being spikes
        lower = check_energy([(at(10), 5000.0)], start=T0, meter_start_wh=0.0, end=at(12), meter_stop_wh=stop)
        assert lower.last_wh == 5000.0 and [r.reason for r in lower.refused] == [BACKWARDS]


def test_a_reading_of_zero_at_the_end_does_not_undo_the_charge():
    readings = [(at(10), 1000.0), (at(20), 2000.0), (at(30), 0.0)]
    checked = check_energy(readings, start=T0, meter_start_wh=0.0, max_power_w=22_000, margin=1.5)
    assert checked.last_wh == 2000.0 and [r.wh for r in checked.refused] == [0.0]


def test_order_of_arrival_does_not_matter_and_without_a_power_only_the_direction_is_checked():
    readings = [(at(30), 3000.0), (at(10), 1000.0), (at(20), 900_000.0), (at(40), 4000.0)]
    checked = check_energy(readings, start=T0, meter_start_wh=None, max_power_w=None)
    assert [p.wh for p in checked.kept] == [1000.0, 3000.0, 4000.0]
    assert [(r.wh, r.reason) for r in checked.refused] == [(900_000.0, SPIKE)]


def test_the_maximum_power_of_a_connector():
    assert max_power_w({"max_electric_power": 150000, "max_voltage": 920, "max_amperage": 250}) == 150000
    assert max_power_w({"power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}) == 230 * 32 * 3
    assert max_power_w({"power_type": "DC", "max_voltage": 500, "max_amperage": 200}) == 100_000
    assert max_power_w({"power_type": "DC"}) is None
