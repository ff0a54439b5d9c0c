"""The allocator's progressive filling (an event heap, rows updated in batches) against a
plain reference: at each step, scan everything for the next event."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evroam.smartcharging.allocator import _fill, _Session


def reference_fill(parts, load, cap):
    """parts: (rows, start x, rate w, start level a, ceiling c). Returns the final x of each."""
    x = [p[1] for p in parts]
    state = ["waiting"] * len(parts)
    load = list(load)
    t = 0.0
    full = {r for r in range(len(cap)) if load[r] >= cap[r] - 1e-9}
    for _ in range(10 * len(parts) + 10):
        for k, (rows, _x0, w, a, c) in enumerate(parts):  # starts due now
            if state[k] == "waiting" and a <= t + 1e-12:
                state[k] = "growing" if (c > x[k] + 1e-9 and w > 0 and not full.intersection(rows)) else "done"
        growing = [k for k in range(len(parts)) if state[k] == "growing"]
        waiting = [parts[k][3] for k in range(len(parts)) if state[k] == "waiting"]
        if not growing and not waiting:
            break
        candidates = [min(waiting)] if waiting else []
        candidates += [t + (parts[k][4] - x[k]) / parts[k][2] for k in growing]
        for r in range(len(cap)):
            rate = sum(parts[k][2] for k in growing if r in parts[k][0])
            if rate > 0 and r not in full and cap[r] != math.inf:
                candidates.append(t + max(0.0, cap[r] - load[r]) / rate)
        nxt = min(candidates)
        for k in growing:
            dx = parts[k][2] * (nxt - t)
            x[k] += dx
            for r in parts[k][0]:
                load[r] += dx
        t = nxt
        for r in range(len(cap)):
            if r not in full and load[r] >= cap[r] - 1e-9 and any(r in parts[k][0] for k in growing):
                full.add(r)
        for k in growing:
            if x[k] >= parts[k][4] - 1e-9 or full.intersection(parts[k][0]):
                x[k] = min(x[k], parts[k][4])
                state[k] = "done"
    return x


rows_sets = st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True).map(tuple)
part = st.tuples(rows_sets, st.integers(0, 20).map(float), st.sampled_from([0.5, 1.0, 2.0, 3.5]),
                 st.integers(0, 20).map(float), st.integers(0, 40).map(float))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(part, max_size=8), st.lists(st.sampled_from([10.0, 25.0, 40.0, 80.0, math.inf]), min_size=5, max_size=5))
def test_fill_matches_the_reference(raw, cap):
    # a part starts growing at its level a, from x0 = min(start, a) (as the water level does)
    parts = [(rows, min(x0, a), w, a, max(c, min(x0, a))) for rows, x0, w, a, c in raw]
    load = [0.0] * 5
    for rows, x0, *_ in parts:
        for r in rows:
            load[r] += x0
    if any(load[r] > cap[r] for r in range(5)):
        return  # the allocator never fills from an overloaded start
    sessions = []
    for rows, x0, *_ in parts:
        s = _Session(None, rows, 3, 230.0, False, 0.0, 0.0, 0.0, 0.0, ())  # type: ignore[arg-type]
        s.x = x0
        sessions.append(s)
    got_load = list(load)
    _fill([(s, w, a, c) for s, (_r, _x0, w, a, c) in zip(sessions, parts, strict=True)], got_load, cap)
    want = reference_fill(parts, load, cap)
    assert [round(s.x, 6) for s in sessions] == [round(v, 6) for v in want]
    for r in range(5):
        assert got_load[r] <= cap[r] + 1e-6
        assert math.isclose(got_load[r], sum(s.x for s in sessions if r in s.rows), abs_tol=1e-6)
