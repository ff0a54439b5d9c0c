"""Properties of the allocator over random circuit trees, sessions and schedules (hypothesis).

Loads are recomputed here from the plan's limits with an independent model of the wiring: a
3-phase car loads the three phases, a 1-phase car the phase it is wired to (its own, or that of
a 1-phase circuit above it), or, when that is unknown, it may be on any phase, so it is counted
on each; a 1-phase circuit carries everything under it on its one conductor."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evroam.smartcharging import RESOLUTION_A, Circuit, Demand, load_schedule, plan

NOW = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)  # the night of a DST change in Amsterdam
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-6

limits = st.one_of(st.none(), st.integers(0, 80).map(float), st.floats(0, 80, allow_nan=False))
times = st.integers(0, 23 * 4).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}")
booleans = st.booleans()
maybe_phase = st.sampled_from([None, 1, 2, 3])
some_days = st.lists(st.sampled_from(["MONDAY", "SATURDAY", "SUNDAY"]), min_size=1, unique=True)
capacities = st.integers(0, 60)
zones = st.sampled_from(["Europe/Amsterdam", "UTC", "Asia/Kolkata"])
circuit_phases = st.sampled_from([3, 3, 1])
voltages = st.sampled_from([230.0, 240.0])
period_count = st.integers(1, 3)
demand = st.fixed_dictionaries({
    "phases": st.sampled_from([1, 3]),
    "max_a": st.sampled_from([0.0, 5.0, 6.0, 10.0, 16.0, 32.0, 63.0]),
    "min_a": st.sampled_from([6.0, 6.0, 0.0, 8.0]),
    "priority": st.sampled_from([0, 0, 1]),
    "arrived": st.integers(0, 600),
    "departure": st.integers(-60, 900),
    "need": st.one_of(st.none(), st.floats(0, 80)),
    "allocated": st.one_of(st.none(), st.floats(0, 63)),
    "drawn": st.floats(0, 63),
    "profiled": st.sampled_from([True, True, True, False]),
    "fixed": st.sampled_from([None] * 6 + [0.0, 6.0, 10.0]),
    "phase": maybe_phase,
    "circuit": st.integers(0, 5),
    "unprofiled_a": st.sampled_from([None, None, 0.0, 6.0, 10.0]),
})


@st.composite
def schedules(draw):
    if not draw(booleans):
        return None
    periods = []
    for _ in range(draw(period_count)):
        start, end = draw(times), draw(times)
        if start == end:
            end = "24:00"
        period = {"start": start, "end": end}
        if draw(booleans):
            period["days"] = draw(some_days)
        period["capacity_kw" if draw(booleans) else "capacity_a"] = draw(capacities)
        periods.append(period)
    return load_schedule({"timezone": draw(zones), "periods": periods})


@st.composite
def sites(draw):
    n = draw(st.integers(1, 6))
    circuits = []
    for i in range(n):
        parent = None if i == 0 else f"c{draw(st.integers(0, i - 1))}"
        phases = 3 if i == 0 else draw(circuit_phases)
        circuits.append(Circuit(
            f"c{i}", parent, limit_a=draw(limits), limit_kw=draw(limits), schedule=draw(schedules()),
            phases=phases, voltage_v=draw(voltages), phase=draw(maybe_phase) if phases == 1 else None,
        ))
    demands = []
    for j, f in enumerate(draw(st.lists(demand, max_size=25))):
        need = f["need"]
        demands.append(Demand(
            f"d{j}", f"c{f['circuit'] % n}", f["phases"], f["max_a"], min_a=f["min_a"], priority=f["priority"],
            arrived_at=NOW - timedelta(minutes=f["arrived"]),
            departure=NOW + timedelta(minutes=f["departure"]) if need is not None else None,
            energy_need_kwh=need,
            drawn_a=f["drawn"] if f["allocated"] is not None else None,
            allocated_a=f["allocated"],
            profiled=f["profiled"],
            fixed_a=f["fixed"],
            phase=f["phase"] if f["phases"] == 1 else None,
            unprofiled_a=f["unprofiled_a"],
        ))
    return circuits, demands


def chain(circuits, cid):
    by_id = {c.id: c for c in circuits}
    out = [by_id[cid]]
    while out[-1].parent_id is not None:
        out.append(by_id[out[-1].parent_id])
    return out


def wiring(circuits, d):
    """(phases of the grid connection the car may load, drawn on one phase?)"""
    ch = chain(circuits, d.circuit_id)
    single = [c for c in ch if c.phases == 1]
    if d.phases == 3 and not single:
        return {1, 2, 3}, False
    known = [c.phase for c in single if c.phase is not None]
    phase = known[-1] if known else d.phase
    return ({phase} if phase else {1, 2, 3}), True


def loads(circuits, demands, amps):
    """circuit id -> {phase: load}; a 1-phase circuit has the single key 0."""
    out = {c.id: ({0: 0.0} if c.phases == 1 else {1: 0.0, 2: 0.0, 3: 0.0}) for c in circuits}
    for d in demands:
        phases, _ = wiring(circuits, d)
        for c in chain(circuits, d.circuit_id):
            if c.phases == 1:
                out[c.id][0] += amps[d.id]
            else:
                for k in phases:
                    out[c.id][k] += amps[d.id]
    return out


def limit_at(c, now):
    kw, a = c.limit_kw, c.limit_a
    if c.schedule:
        okw, oa = c.schedule.overrides_at(now)
        kw = okw if okw is not None else kw
        a = oa if oa is not None else a
    values = [v for v in (a, None if kw is None else kw * 1000 / (c.voltage_v * c.phases)) if v is not None]
    return min(values, default=math.inf)


def idle(d):
    """Takes (almost) nothing of a limit of at least its minimum: planned last, minimum only."""
    return d.drawn_a is not None and d.allocated_a is not None and d.drawn_a < 1 and d.allocated_a >= max(d.min_a, 1)


def cap_of(d):
    """The most the rules allow a session (see the allocator's docstring)."""
    cap = d.max_a
    if d.drawn_a is not None and d.allocated_a is not None and d.drawn_a < d.allocated_a - 2:
        cap = min(d.max_a, max(d.min_a, d.drawn_a + 2))  # releases what it does not take
    if d.drawn_a is not None and d.drawn_a < 1 and d.allocated_a is not None and d.allocated_a < d.min_a:
        cap = min(cap, d.min_a)  # paused: its minimum first
    if idle(d):
        cap = min(cap, d.min_a)
    if d.energy_need_kwh is not None and d.energy_need_kwh <= 0 and d.drawn_a is not None and d.drawn_a < 1:
        cap = 0.0  # has what its driver asked for
    return cap


def fixed_amount(d):
    """What a session may draw whatever the plan says: a static share, or a session without a
    profile until its profile applies (the charger's default for new sessions, else max_a)."""
    if d.fixed_a is not None:
        return min(d.fixed_a, d.max_a)
    if not d.profiled:
        return d.max_a if d.unprofiled_a is None else min(d.unprofiled_a, d.max_a)
    return None


@SETTINGS
@given(sites(), st.integers(0, 7 * 24 * 4))
def test_no_circuit_is_ever_exceeded(site, quarter):
    circuits, demands = site
    now = NOW + timedelta(minutes=15 * quarter)
    p = plan(circuits, demands, now)
    assert set(p.limits_a) == {d.id for d in demands}
    # now: sessions without a profile may draw what their charger allows new sessions (else
    # max_a); later, once their profiles apply: their limits
    now_amps = {d.id: (fixed_amount(d) if fixed_amount(d) is not None else p.limits_a[d.id]) for d in demands}
    later = {d.id: (min(d.fixed_a, d.max_a) if d.fixed_a is not None else p.limits_a[d.id]) for d in demands}
    # what the plan cannot lower: static shares, sessions without a profile at the most they may
    # draw now or once their profile applies
    fixed_only = {d.id: max(fixed_amount(d) or 0.0, later[d.id] if not d.profiled else 0.0) for d in demands}
    base = loads(circuits, demands, fixed_only)
    for amps in (now_amps, later):
        for c in circuits:
            limit = limit_at(c, now)
            assert p.circuit_limit_a[c.id] == limit
            for k, load in loads(circuits, demands, amps)[c.id].items():
                # only loads the plan cannot lower may exceed a limit (and are then reported)
                assert load <= max(limit, base[c.id][k]) + EPS, (c.id, k, load, limit)
                if base[c.id][k] > limit + EPS:
                    assert c.id in p.overloaded
    planned = loads(circuits, demands, {d.id: fixed_only[d.id] if fixed_amount(d) is not None else later[d.id]
                                        for d in demands})
    for c in circuits:
        assert math.isclose(p.circuit_load_a[c.id], max(planned[c.id].values()), abs_tol=EPS)


@SETTINGS
@given(sites())
def test_limits_within_max_and_never_between_zero_and_the_minimum(site):
    circuits, demands = site
    p = plan(circuits, demands, NOW)
    for d in demands:
        x = p.limits_a[d.id]
        assert 0 <= x <= d.max_a + EPS
        if d.fixed_a is None:
            assert x <= cap_of(d) + EPS
        if d.fixed_a is not None:
            assert x == min(d.fixed_a, d.max_a)
        elif x > 0:
            assert x >= d.min_a - EPS
            assert round(x / RESOLUTION_A, 6) == int(round(x / RESOLUTION_A, 6))  # 0.1 A steps
        _, one = wiring(circuits, d)
        volts = chain(circuits, d.circuit_id)[0].voltage_v
        assert math.isclose(p.limits_w[d.id], x * (1 if one else 3) * volts, abs_tol=0.06)


@SETTINGS
@given(sites())
def test_everyone_gets_the_minimum_when_the_minimums_fit(site):
    circuits, demands = site
    # a session's minimum: its static share; its minimum, or for one without a profile yet
    # what it may draw until that applies if more
    want = {}
    for d in demands:
        if d.fixed_a is not None:
            want[d.id] = fixed_amount(d)
        else:
            minimum = d.min_a if d.max_a >= d.min_a else 0.0
            want[d.id] = max(minimum, fixed_amount(d) or 0.0)
    fits = all(load <= limit_at(c, NOW) + EPS
               for c in circuits for load in loads(circuits, demands, want)[c.id].values())
    p = plan(circuits, demands, NOW)
    if fits:
        for d in demands:
            if d.fixed_a is None and cap_of(d) >= d.min_a and cap_of(d) > 0 and not idle(d):
                assert p.limits_a[d.id] >= d.min_a - EPS, d


@SETTINGS
@given(sites())
def test_no_current_left_unused_that_a_session_could_take(site):
    """Maximality: a controllable session below its cap has a full row (within the rounding of
    everyone on it); a paused one could not have had its minimum."""
    circuits, demands = site
    p = plan(circuits, demands, NOW)
    amps = {d.id: max(fixed_amount(d) or 0.0, p.limits_a[d.id]) for d in demands}
    rows = loads(circuits, demands, amps)
    count = loads(circuits, demands, dict.fromkeys(amps, 1.0))
    for d in demands:
        if fixed_amount(d) is not None or d.max_a < d.min_a:
            continue
        cap = cap_of(d)
        x = p.limits_a[d.id]
        assert x <= cap + EPS
        phases, _ = wiring(circuits, d)
        slack = []
        for c in chain(circuits, d.circuit_id):
            keys = [0] if c.phases == 1 else sorted(phases)
            for k in keys:
                slack.append(limit_at(c, NOW) - rows[c.id][k] - RESOLUTION_A * count[c.id][k])
        room = min(slack, default=math.inf)
        if x == 0 and cap > 0:
            assert room < d.min_a + EPS, (d, room)
        elif x < cap - RESOLUTION_A - EPS:
            assert room <= EPS, (d, room)


@SETTINGS
@given(
    st.floats(6, 120), st.integers(0, 4), st.floats(0.5, 40), st.sampled_from([0.0, 0.5, 1.0, 5.0, 20.0]),
    st.integers(15, 600), st.integers(0, 600), st.sampled_from([1, 3]),
)
def test_car_leaving_sooner_with_more_need_never_gets_less(limit, others, need_b, extra, minutes, later, phases):
    assume(extra > 0 or later > 0)
    site = Circuit("site", None, limit_a=limit)
    a = Demand("a", "site", phases, 32, departure=NOW + timedelta(minutes=minutes), energy_need_kwh=need_b + extra,
               arrived_at=NOW)
    b = Demand("b", "site", phases, 32, departure=NOW + timedelta(minutes=minutes + later), energy_need_kwh=need_b,
               arrived_at=NOW - timedelta(minutes=1))  # b came first: ties go to b
    rest = [Demand(f"o{i}", "site", 3, 16) for i in range(others)]
    p = plan([site], [b, a, *rest], NOW)
    assert p.limits_a["a"] >= p.limits_a["b"]


def test_need_based_ordering_example():
    # 40 A, four 3-phase cars. a: 30 kWh in 2 h = 30000 / (2 * 690) = 21.74 A; b: 10 kWh in 4 h
    # = 3.62 A (under the minimum); c and d without preferences. Minimums: 4 * 6 = 24 A; the 16 A
    # left cover a's 15.74 A deficit in full (21.74 -> 21.7 A); the remaining 0.26 A lift b, c
    # and d to 6.09 A (-> 6.0 A).
    site = Circuit("site", None, limit_a=40)
    cars = [Demand("a", "site", 3, 32, departure=NOW + timedelta(hours=2), energy_need_kwh=30),
            Demand("b", "site", 3, 32, departure=NOW + timedelta(hours=4), energy_need_kwh=10),
            Demand("c", "site", 3, 32), Demand("d", "site", 3, 32)]
    assert plan([site], cars, NOW).limits_a == {"a": 21.7, "b": 6.0, "c": 6.0, "d": 6.0}
