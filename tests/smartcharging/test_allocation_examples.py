"""Worked examples of the allocator, figures computed by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from evroam.smartcharging import Circuit, Demand, changed, first_come, plan

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)  # a Monday


def test_22kw_site_three_cars_three_phase_share_equally():
    # 22 kW at 230 V on three phases: 22000 / 690 = 31.884 A per phase; a third each is
    # 10.628 A, rounded down to 10.6 A = 7314 W.
    site = Circuit("site", None, limit_kw=22)
    cars = [Demand(f"CP-{i}/1", "site", phases=3, max_a=32) for i in range(3)]
    p = plan([site], cars, NOW)
    assert p.limits_a == {"CP-0/1": 10.6, "CP-1/1": 10.6, "CP-2/1": 10.6}
    assert p.limits_w == {"CP-0/1": 7314.0, "CP-1/1": 7314.0, "CP-2/1": 7314.0}
    assert p.circuit_limit_a["site"] == pytest.approx(22000 / 690)
    assert p.circuit_load_a["site"] == pytest.approx(31.8)
    assert p.overloaded == ()


def test_need_based_share():
    # 31.884 A: both get 6 A; car a needs 20 kWh in 1 h = 20000 / 690 = 28.99 A, car b 10 kWh in
    # 8 h = 1.81 A (below its minimum). Car a gets everything left: 31.884 - 6 = 25.88 -> 25.8 A.
    site = Circuit("site", None, limit_kw=22)
    a = Demand("a", "site", 3, 32, departure=NOW + timedelta(hours=1), energy_need_kwh=20)
    b = Demand("b", "site", 3, 32, departure=NOW + timedelta(hours=8), energy_need_kwh=10)
    p = plan([site], [a, b], NOW)
    assert p.limits_a == {"a": 25.8, "b": 6.0}


def test_unprofiled_counts_at_max_and_gets_its_own_limit():
    site = Circuit("site", None, limit_a=32)
    a = Demand("a", "site", 3, 32)
    u = Demand("u", "site", 3, 16, profiled=False)
    p = plan([site], [a, u], NOW)
    # a is planned with u at its full 16 A; u's own limit is its fair share of 32 A (16 A)
    assert p.limits_a == {"a": 16.0, "u": 16.0}
    u2 = Demand("u", "site", 3, 32, profiled=False)
    p = plan([site], [a, u2], NOW)
    assert p.limits_a == {"a": 0.0, "u": 16.0}  # 32 - 32 = 0 left for a (paused)
    assert p.circuit_load_a["site"] == 32.0


def test_first_come_baseline():
    site = Circuit("site", None, limit_a=40)
    cars = [Demand(f"c{i}", "site", 3, 32, arrived_at=NOW - timedelta(minutes=10 - i)) for i in range(3)]
    p = first_come([site], cars, NOW)
    assert p.limits_a == {"c0": 32.0, "c1": 8.0, "c2": 0.0}


def test_unlimited_circuit():
    p = plan([Circuit("site", None)], [Demand("a", "site", 1, 16)], NOW)
    assert p.limits_a == {"a": 16.0} and p.circuit_limit_a == {"site": math.inf}


def test_changed_sends_decreases_and_big_increases():
    old = {"a": 10.0, "b": 10.0, "c": 10.0, "d": 0.0, "e": 6.0}
    new = {"a": 9.9, "b": 10.9, "c": 11.5, "d": 6.0, "e": 0.0, "f": 6.0}
    assert changed(old, new, 1.0) == {"a", "c", "d", "e", "f"}
