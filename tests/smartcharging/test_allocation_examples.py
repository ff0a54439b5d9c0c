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


def test_nested_circuit_limits_its_cars_and_the_site_gets_the_rest():
    circuits = [Circuit("site", None, limit_a=32), Circuit("garage", "site", limit_a=16)]
    cars = [Demand("g1", "garage", 3, 32), Demand("g2", "garage", 3, 32), Demand("s1", "site", 3, 32)]
    p = plan(circuits, cars, NOW)
    assert p.limits_a == {"g1": 8.0, "g2": 8.0, "s1": 16.0}
    assert p.circuit_load_a == {"site": 32.0, "garage": 16.0}


def test_one_phase_cars_on_known_phases_use_the_whole_site():
    site = Circuit("site", None, limit_a=32)
    cars = [Demand(f"c{k}", "site", 1, 32, phase=k) for k in (1, 2, 3)]
    assert plan([site], cars, NOW).limits_a == {"c1": 32.0, "c2": 32.0, "c3": 32.0}
    # wiring unknown: each counted on every phase, a third each (10.66 -> 10.6 A)
    cars = [Demand(f"c{k}", "site", 1, 32) for k in (1, 2, 3)]
    p = plan([site], cars, NOW)
    assert p.limits_a == {"c1": 10.6, "c2": 10.6, "c3": 10.6}
    assert p.limits_w == {"c1": 2438.0, "c2": 2438.0, "c3": 2438.0}  # 10.6 A * 230 V, one phase


def test_one_phase_car_and_three_phase_car_share_the_loaded_phase():
    site = Circuit("site", None, limit_a=32)
    p = plan([site], [Demand("one", "site", 1, 32, phase=1), Demand("three", "site", 3, 32)], NOW)
    assert p.limits_a == {"one": 16.0, "three": 16.0}  # L1 carries both: 16 + 16


def test_three_phase_car_under_a_one_phase_circuit_draws_one_phase():
    circuits = [Circuit("site", None, limit_a=20), Circuit("line", "site", limit_kw=3.68, phases=1, phase=2)]
    cars = [Demand("a", "line", 3, 32), Demand("b", "site", 1, 32, phase=2)]
    p = plan(circuits, cars, NOW)
    # line: 3680 W / 230 V = 16 A; L2 of the site (20 A) carries a and b: a 10, b 10
    assert p.limits_a == {"a": 10.0, "b": 10.0}
    assert p.limits_w == {"a": 2300.0, "b": 2300.0}
    assert p.circuit_limit_a["line"] == pytest.approx(16.0)


def test_minimum_current_pauses_some_rather_than_all_below_six_amps():
    site = Circuit("site", None, limit_a=10)
    cars = [Demand(f"c{i}", "site", 3, 32, arrived_at=NOW - timedelta(minutes=30 - i)) for i in range(3)]
    p = plan([site], cars, NOW)
    assert p.limits_a == {"c0": 10.0, "c1": 0.0, "c2": 0.0}  # first to arrive, then all it can take
    site = Circuit("site", None, limit_a=12)
    assert plan([site], cars, NOW).limits_a == {"c0": 6.0, "c1": 6.0, "c2": 0.0}


def test_priority_gets_the_rest_first():
    site = Circuit("site", None, limit_a=20)
    cars = [Demand("low", "site", 3, 32), Demand("high", "site", 3, 32, priority=1)]
    assert plan([site], cars, NOW).limits_a == {"low": 6.0, "high": 14.0}


def test_charger_rejecting_profiles_is_counted_at_its_static_share():
    site = Circuit("site", None, limit_a=32)
    cars = [Demand("fixed", "site", 3, 32, fixed_a=10), Demand("a", "site", 3, 32), Demand("b", "site", 3, 32)]
    assert plan([site], cars, NOW).limits_a == {"fixed": 10.0, "a": 11.0, "b": 11.0}


def test_car_drawing_less_releases_the_unused_current():
    site = Circuit("site", None, limit_a=32)
    tapering = Demand("full", "site", 3, 32, allocated_a=16, drawn_a=5)
    other = Demand("other", "site", 3, 32, allocated_a=16, drawn_a=16)
    # the tapering car keeps 5 + 2 A to ramp back; the other gets 32 - 7 = 25 A
    assert plan([site], [tapering, other], NOW).limits_a == {"full": 7.0, "other": 25.0}
    # drawing within the margin of its limit: nothing released, fair shares again
    steady = Demand("full", "site", 3, 32, allocated_a=7, drawn_a=6.5)
    assert plan([site], [steady, other], NOW).limits_a == {"full": 16.0, "other": 16.0}


def test_fixed_loads_over_the_limit_pause_the_rest_and_are_reported():
    circuits = [Circuit("site", None, limit_a=100), Circuit("row", "site", limit_a=20)]
    cars = [Demand("new", "row", 3, 32, profiled=False), Demand("a", "row", 3, 32), Demand("b", "site", 3, 32)]
    p = plan(circuits, cars, NOW)
    assert p.overloaded == ("row",)
    # a is paused while `new` may still draw 32 A; new's own limit is its share of the row (10 A)
    assert p.limits_a == {"new": 10.0, "a": 0.0, "b": 32.0}
    assert p.circuit_load_a == {"site": 64.0, "row": 32.0}


def test_schedule_lowers_the_site_limit_in_the_evening():
    from evroam.smartcharging import load_schedule

    schedule = load_schedule({"timezone": "Europe/Amsterdam", "periods": [
        {"days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"], "start": "17:00", "end": "20:00", "capacity_kw": 11}]})
    site = Circuit("site", None, limit_kw=22, schedule=schedule)
    cars = [Demand("a", "site", 3, 32), Demand("b", "site", 3, 32)]
    evening = datetime(2024, 5, 6, 16, 0, tzinfo=UTC)  # Monday 18:00 in Amsterdam (CEST)
    # 11000 W / 690 = 15.94 A: 7.97 -> 7.9 A each
    assert plan([site], cars, evening).limits_a == {"a": 7.9, "b": 7.9}
    assert plan([site], cars, evening + timedelta(hours=2)).limits_a == {"a": 15.9, "b": 15.9}
    saturday = datetime(2024, 5, 11, 16, 0, tzinfo=UTC)
    assert plan([site], cars, saturday).limits_a == {"a": 15.9, "b": 15.9}


@pytest.mark.parametrize(
    ("circuits", "demands", "message"),
    [
        ([Circuit("s", None), Circuit("s", None)], [], "duplicate id"),
        ([Circuit("s", "nowhere")], [], "unknown parent"),
        ([Circuit("a", "b"), Circuit("b", "a")], [], "cycle"),
        ([Circuit("s", None, phases=2)], [], "phases must be 1 or 3"),
        ([Circuit("s", None, limit_a=-1)], [], "limit_a must be >= 0"),
        ([Circuit("s", None)], [Demand("d", "x", 3, 16)], "unknown circuit"),
        ([Circuit("s", None)], [Demand("d", "s", 2, 16)], "phases must be 1 or 3"),
        ([Circuit("s", None)], [Demand("d", "s", 3, 16), Demand("d", "s", 3, 16)], "duplicate id"),
        ([Circuit("s", None)], [Demand("d", "s", 1, 16, phase=4)], "phase must be 1, 2 or 3"),
    ],
)
def test_bad_input_is_refused(circuits, demands, message):
    with pytest.raises(ValueError, match=message):
        plan(circuits, demands, NOW)


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        plan([Circuit("s", None)], [], datetime(2024, 5, 6, 12))


def test_sessions_without_a_profile_are_safe_whichever_profile_applies_first():
    # 30 A. new0's charger starts new sessions at 0 A (default profile), new16 has none and may
    # draw its 16 A until its profile applies. Planned with new16 at 16 A: a and new0 share
    # 30 - 16 = 14 A (7 A each). new16's first profile is its share as an ordinary session
    # (30 / 3 = 10 A). Any mix of applied profiles stays within 30 A: 7 + 7 + 16 = 30.
    site = Circuit("site", None, limit_a=30)
    cars = [Demand("a", "site", 3, 32), Demand("new0", "site", 3, 32, profiled=False, unprofiled_a=0),
            Demand("new16", "site", 3, 16, profiled=False)]
    p = plan([site], cars, NOW)
    assert p.limits_a == {"a": 7.0, "new0": 7.0, "new16": 10.0}
    assert p.circuit_load_a == {"site": 30.0}


def test_idle_car_is_planned_last_and_a_car_whose_need_is_met_gets_nothing():
    site = Circuit("site", None, limit_a=20)
    full = Demand("full", "site", 3, 32, allocated_a=10, drawn_a=0.2)  # took nothing of its 10 A
    a = Demand("a", "site", 3, 32, allocated_a=10, drawn_a=10)
    # a takes all 20 A; nothing is left for the idle car's minimum
    assert plan([site], [full, a], NOW).limits_a == {"full": 0.0, "a": 20.0}
    # with a capped at 16 A by its car, the idle car gets its 6 A minimum from what is left... only 4 A
    a16 = Demand("a", "site", 3, 16, allocated_a=10, drawn_a=10)
    assert plan([site], [full, a16], NOW).limits_a == {"full": 0.0, "a": 16.0}
    site30 = Circuit("site", None, limit_a=30)
    assert plan([site30], [full, a16], NOW).limits_a == {"full": 6.0, "a": 16.0}
    # paused and still drawing nothing: offered its minimum again, not a fair share
    paused = Demand("full", "site", 3, 32, allocated_a=0, drawn_a=0)
    assert plan([site30], [paused, a16], NOW).limits_a == {"full": 6.0, "a": 16.0}
    assert plan([site30], [paused, a], NOW).limits_a == {"full": 6.0, "a": 24.0}
    # its driver's need is met and it draws nothing: no reservation at all
    done = Demand("full", "site", 3, 32, allocated_a=0, drawn_a=0, departure=NOW + timedelta(hours=3),
                  energy_need_kwh=0)
    assert plan([site30], [done, a], NOW).limits_a == {"full": 0.0, "a": 30.0}
