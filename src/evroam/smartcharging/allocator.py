"""The allocator: per-session current limits that keep every circuit under its limit.

Model. Every circuit has one constraint row per phase it carries (three for a 3-phase circuit,
one for a 1-phase circuit). A session's limit x (A per phase) loads the rows of every circuit
from its own up to the grid connection: a 3-phase car all three phases, a 1-phase car the
phase its connector is wired to (`Demand.phase`, or the phase of a 1-phase circuit above it) or,
when that is unknown, every phase (the safe assumption). A 3-phase car under a 1-phase circuit
draws on that one phase.

Steps of `plan` (all in one pass, no clock, no I/O):

1. Loads the plan cannot lower are counted first: a charger that rejects profiles at its static
   share (`fixed_a`), a session without a profile yet at its full `max_a` (or at what the
   charger's default profile allows new sessions, `unprofiled_a`).
2. Admission: sessions in order (priority, then the tightest schedule: least slack between the
   time left and the time needed at full power, then sessions without preferences, then cars
   that need nothing more; ties by arrival) each get `min_a` if it fits on every row, else they
   are paused (0): never everyone below the minimum.
3. Per priority level, highest first: (a) need: sessions with OCPI ChargingPreferences get, all
   by the same fraction, what they need beyond the minimum to finish by departure
   (energy_need / time left); (b) fair share: the rest is water-filled, the lowest limits rising
   first, up to each session's cap.
4. A session's cap is its `max_a`, lowered to `drawn_a + RELEASE_MARGIN_A` when it draws clearly
   less than the limit in force (`allocated_a`), so that current goes to others while it can
   still ramp back (at the next plan it is no longer clearly below and gets its cap back).
   An idle session (drawing less than IDLE_A of a limit of at least its minimum: a full car,
   a car that paused itself) is planned last: it gets its minimum only from what is left after
   every other session, else 0; paused, it is no longer idle at the next plan and is planned as
   usual (but offered no more than its minimum until it draws), so a car that wants to resume
   gets its minimum again within two plans. A session
   whose driver's energy need is met (energy_need_kwh <= 0) and that draws less than IDLE_A gets
   0 and no reservation.
5. Limits are rounded down to 0.1 A (the resolution OCPP and OCPI profiles carry).

A session without a profile yet is planned at least at what it may draw until its profile
applies (`max_a`, or `unprofiled_a` when the charger has a default profile for new sessions);
the limit sent to it is the lower of that plan and what it would get as an ordinary session.
The others are then planned again with it at the most it may draw, before or after its
profile applies: every limit is safe whichever profiles have applied, in any order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evroam.smartcharging.types import Circuit, Demand, Plan

__all__ = ["IDLE_A", "MIN_HOURS_LEFT", "RELEASE_MARGIN_A", "RESOLUTION_A", "first_come", "plan"]

RESOLUTION_A = 0.1  # limits are rounded down to this
RELEASE_MARGIN_A = 2.0  # headroom kept above a car's measured draw when its unused part is released
IDLE_A = 1.0  # a car drawing less than this of a limit of at least its minimum is idle
MIN_HOURS_LEFT = 0.25  # a departure sooner than this (or past) counts as this far away
EPS = 1e-9


# ------------------------------------------------------------------ the circuit tree


class _Grid:
    """Constraint rows of a set of circuits at one instant."""

    def __init__(self, circuits: Sequence[Circuit], now: datetime):
        by_id: dict[str, Circuit] = {}
        for c in circuits:
            if c.id in by_id:
                raise ValueError(f"circuit {c.id!r}: duplicate id")
            if c.phases not in (1, 3):
                raise ValueError(f"circuit {c.id!r}: phases must be 1 or 3, got {c.phases!r}")
            if c.phase not in (None, 1, 2, 3):
                raise ValueError(f"circuit {c.id!r}: phase must be 1, 2 or 3, got {c.phase!r}")
            for name in ("limit_a", "limit_kw"):
                value = getattr(c, name)
                if value is not None and not value >= 0:
                    raise ValueError(f"circuit {c.id!r}: {name} must be >= 0, got {value!r}")
            if not c.voltage_v > 0:
                raise ValueError(f"circuit {c.id!r}: voltage_v must be > 0, got {c.voltage_v!r}")
            by_id[c.id] = c
        self.circuits = by_id
        self.chains: dict[str, tuple[Circuit, ...]] = {}
        for c in circuits:
            chain = [c]
            seen = {c.id}
            while chain[-1].parent_id is not None:
                parent = by_id.get(chain[-1].parent_id)
                if parent is None:
                    raise ValueError(f"circuit {chain[-1].id!r}: unknown parent {chain[-1].parent_id!r}")
                if parent.id in seen:
                    raise ValueError(f"circuit {c.id!r}: circuits form a cycle")
                seen.add(parent.id)
                chain.append(parent)
            self.chains[c.id] = tuple(chain)
        self.limit: dict[str, float] = {}
        self.row_cap: list[float] = []
        self.rows_of_circuit: dict[str, tuple[int, ...]] = {}
        for c in circuits:
            limit = c.limit_a_at(now)
            self.limit[c.id] = limit
            first = len(self.row_cap)
            self.row_cap.extend([limit] * c.phases)
            self.rows_of_circuit[c.id] = tuple(range(first, first + c.phases))
        self._placement: dict[tuple[str, int, int | None], tuple[tuple[int, ...], int, float]] = {}

    def placement(self, d: Demand) -> tuple[tuple[int, ...], int, float]:
        """(rows the session loads, phases it draws on, voltage) for a demand."""
        key = (d.circuit_id, d.phases, d.phase)
        found = self._placement.get(key)
        if found is not None:
            return found
        chain = self.chains.get(d.circuit_id)
        if chain is None:
            raise ValueError(f"demand {d.id!r}: unknown circuit {d.circuit_id!r}")
        single = [c for c in chain if c.phases == 1]
        n_phases = 1 if (d.phases == 1 or single) else 3
        phase = next((c.phase for c in reversed(single) if c.phase is not None), None)
        if phase is None and d.phases == 1:
            phase = d.phase
        phase_set = (1, 2, 3) if (n_phases == 3 or phase is None) else (phase,)
        rows: list[int] = []
        for c in chain:
            circuit_rows = self.rows_of_circuit[c.id]
            if c.phases == 1:
                rows.extend(circuit_rows)
            else:
                rows.extend(circuit_rows[k - 1] for k in phase_set)
        found = (tuple(rows), n_phases, chain[0].voltage_v)
        self._placement[key] = found
        return found


# ------------------------------------------------------------------- the sessions


@dataclass(slots=True)
class _Session:
    demand: Demand
    rows: tuple[int, ...]
    n_phases: int
    voltage: float
    fixed: bool  # counted at `floor`, not planned
    floor: float  # counted at least at this (a static share; a session without a profile yet)
    cap: float  # most it may be given
    minimum: float
    need_a: float  # current that finishes by departure (0: no preference / nothing needed)
    order: tuple  # admission order
    idle: bool = False  # takes (almost) nothing of at least its minimum: planned last
    start: float = 0.0  # without a profile yet: what it may draw before it applies
    x: float = 0.0
    admitted: bool = False


def _start_a(d: Demand) -> float:
    """What a session without a profile yet may draw."""
    max_a = max(0.0, d.max_a)
    return max_a if d.unprofiled_a is None else min(max_a, max(0.0, d.unprofiled_a))


def _prepare(grid: _Grid, demands: Sequence[Demand], now: datetime) -> list[_Session]:
    """The sessions, with what every pass of the allocation shares (`_set_floors` sets the rest)."""
    out = []
    now_ts = now.timestamp()
    inf = math.inf
    for d in demands:
        rows, n_phases, voltage = grid.placement(d)
        max_a = d.max_a if d.max_a > 0 else 0.0
        min_a = d.min_a if d.min_a > 0 else 0.0
        fixed = d.fixed_a is not None
        floor = min(max(0.0, d.fixed_a), max_a) if fixed else 0.0  # type: ignore[arg-type]
        cap = max_a
        drawn, allocated, need = d.drawn_a, d.allocated_a, d.energy_need_kwh
        idle = False
        if drawn is not None and allocated is not None:
            if drawn < allocated - RELEASE_MARGIN_A:
                # takes clearly less than it is given: the rest to others, a margin to ramp back
                cap = min(max_a, max(min_a, drawn + RELEASE_MARGIN_A))
            if drawn < IDLE_A:
                if allocated >= max(min_a, IDLE_A) - EPS:
                    idle = True  # takes (almost) nothing of at least its minimum
                elif allocated < min_a - EPS and cap > min_a:
                    cap = min_a  # paused: offered its minimum again, more once it draws
        watts_per_a = n_phases * voltage
        need_a = 0.0
        group, slack = 1, 0.0
        if need is not None and need <= 0:
            group = 2
            if drawn is not None and drawn < IDLE_A:
                cap = 0.0  # has what its driver asked for and takes no more: nothing reserved
        elif need is not None and d.departure is not None:
            hours = (d.departure.timestamp() - now_ts) / 3600.0
            if hours < MIN_HOURS_LEFT:
                hours = MIN_HOURS_LEFT
            need_a = need * 1000.0 / (hours * watts_per_a)
            full_kw = max_a * watts_per_a / 1000.0
            group = 0
            slack = hours - (need / full_kw if full_kw > 0 else inf)
        arrived = d.arrived_at.timestamp() if d.arrived_at is not None else inf
        start = _start_a(d) if not d.profiled and not fixed else 0.0
        out.append(_Session(
            d, rows, n_phases, voltage, fixed, floor, cap, min_a, need_a,
            (-d.priority, group, slack, arrived, d.id), idle, start,
        ))
    return out


def _set_floors(sessions: list[_Session], unprofiled: str, first: dict[int, float] | None = None) -> None:
    """How sessions without a profile yet are counted in the next pass: "floor" at least at what
    they may draw before it applies, "free" like any session, "fixed" at the most they may draw
    now or after their first profile (`first`, by position)."""
    for i, s in enumerate(sessions):
        d = s.demand
        if d.profiled or d.fixed_a is not None:
            continue
        if unprofiled == "floor":
            s.fixed, s.floor = False, s.start
        elif unprofiled == "free":
            s.fixed, s.floor = False, 0.0
        else:
            s.fixed, s.floor = True, max(s.start, first[i])  # type: ignore[index]


# ------------------------------------------------------------- progressive filling


def _fill(parts: list[tuple[_Session, float, float, float]], load: list[float], cap: list[float]) -> None:
    """Progressive filling. Each part (session, rate w, start level a, ceiling c) grows as
    x(t) = x0 + w * (t - a) from t = a until it reaches c or one of its rows is full; the load
    of every row is kept in `load` (updated in place), each session's x in `session.x`."""
    if not parts:
        return
    n_rows = len(cap)
    members: list[list[int] | None] = [None] * n_rows
    for k, p in enumerate(parts):
        for r in p[0].rows:
            lst = members[r]
            if lst is None:
                members[r] = [k]
            else:
                lst.append(k)
    saturated = [False] * n_rows
    for r in range(n_rows):
        if members[r] is not None and load[r] >= cap[r] - EPS:
            saturated[r] = True
    rate = [0.0] * n_rows
    count = [0] * n_rows
    tref = [0.0] * n_rows
    version = [0] * n_rows
    d_rate = [0.0] * n_rows
    d_count = [0] * n_rows
    start = [p[0].x for p in parts]
    state = [0] * len(parts)  # 0 waiting, 1 growing, 2 frozen
    # activations in order of their start level; other events on a heap:
    # (time, kind, key, version), kind 0 a row is full, 1 a session reaches its ceiling
    pending = sorted(range(len(parts)), key=lambda k: parts[k][2])
    next_start = 0
    heap: list[tuple[float, int, int, int]] = []
    inf = math.inf
    heappush, heappop = heapq.heappush, heapq.heappop

    while heap or next_start < len(pending):
        t = heap[0][0] if heap else inf
        if next_start < len(pending) and parts[pending[next_start]][2] < t:
            t = parts[pending[next_start]][2]
        touched: list[int] = []
        batch = []
        while heap and heap[0][0] <= t + EPS:
            batch.append(heappop(heap))
        for _time, kind, key, ver in batch:  # rows full: their growing sessions stop
            if kind == 0 and ver == version[key] and not saturated[key]:
                saturated[key] = True
                for k in members[key]:  # type: ignore[union-attr]
                    if state[k] == 1:
                        sess, w, a, c = parts[k]
                        state[k] = 2
                        x = start[k] + w * (t - a)
                        sess.x = c if x > c else x
                        for r in sess.rows:
                            if not d_count[r] and d_rate[r] == 0.0:
                                touched.append(r)
                            d_rate[r] -= w
                            d_count[r] -= 1
        for _time, kind, key, _ver in batch:  # sessions at their ceiling
            if kind == 1 and state[key] == 1:
                sess, w, a, c = parts[key]
                state[key] = 2
                sess.x = c
                for r in sess.rows:
                    if not d_count[r] and d_rate[r] == 0.0:
                        touched.append(r)
                    d_rate[r] -= w
                    d_count[r] -= 1
        while next_start < len(pending) and parts[pending[next_start]][2] <= t + EPS:
            k = pending[next_start]
            next_start += 1
            sess, w, a, c = parts[k]
            rows = sess.rows
            if c <= start[k] + EPS or w <= 0 or any(saturated[r] for r in rows):
                state[k] = 2
                continue
            state[k] = 1
            for r in rows:
                if not d_count[r] and d_rate[r] == 0.0:
                    touched.append(r)
                d_rate[r] += w
                d_count[r] += 1
            heappush(heap, (a + (c - start[k]) / w, 1, k, 0))
        for r in touched:
            dc = d_count[r]
            if not dc and d_rate[r] == 0.0:
                continue  # (listed twice, or nothing changed)
            load[r] += rate[r] * (t - tref[r])
            tref[r] = t
            count[r] += dc
            rate[r] = rate[r] + d_rate[r] if count[r] else 0.0
            d_rate[r] = 0.0
            d_count[r] = 0
            version[r] += 1
            if count[r] and not saturated[r] and cap[r] != inf:
                room = cap[r] - load[r]
                heappush(heap, (t + (room if room > 0 else 0.0) / rate[r], 0, r, version[r]))


# ------------------------------------------------------------------------- policies


def _admit(ordered: list[_Session], load: list[float], cap: list[float], first_come: bool) -> list[_Session]:
    """Sessions in the given order each get their minimum if it fits (or, first come, all they
    can take); returns the admitted ones."""
    admitted = []
    for s in ordered:
        if s.fixed or s.cap <= 0 or s.cap < s.minimum - EPS:
            continue
        rows = s.rows
        x = s.x
        if first_come:
            headroom = math.inf
            for r in rows:
                room = cap[r] - load[r]
                if room < headroom:
                    headroom = room
            target = min(s.cap, x + max(0.0, headroom))
            if target < s.minimum - EPS or target <= 0:
                continue
        else:
            target = x if x > s.minimum else s.minimum
            extra = target - x
            if extra > EPS:  # (a session counted at least at its minimum already is admitted)
                fits = True
                for r in rows:
                    if load[r] + extra > cap[r] + EPS:
                        fits = False
                        break
                if not fits:
                    continue
        extra = target - x
        s.x = target
        s.admitted = True
        admitted.append(s)
        if extra:
            for r in rows:
                load[r] += extra
    return admitted


def _allocate(grid: _Grid, sessions: list[_Session], order: tuple[list[_Session], list[_Session]],
              first_come: bool) -> None:
    """Sets session.x and session.admitted for every session. `order`: the active and the idle
    sessions, each in admission order."""
    cap = grid.row_cap
    load = [0.0] * len(cap)
    for s in sessions:
        s.x = s.floor
        s.admitted = False
        if s.floor:
            for r in s.rows:
                load[r] += s.floor
    active, idle = order
    if first_come:
        _admit(active, load, cap, first_come)
        _admit(idle, load, cap, first_come)
        return
    admitted = _admit(active, load, cap, first_come)
    for priority in sorted({s.demand.priority for s in admitted}, reverse=True):
        level = [s for s in admitted if s.demand.priority == priority]
        _fill([(s, min(s.cap, s.need_a) - s.x, 0.0, min(s.cap, s.need_a)) for s in level
               if min(s.cap, s.need_a) > s.x + EPS], load, cap)
        _fill([(s, 1.0, s.x, s.cap) for s in level if s.cap > s.x + EPS], load, cap)
    # idle sessions: their minimum from what is left (so that they can resume), no more
    _admit(idle, load, cap, first_come)


def _limit(s: _Session) -> float:
    """The limit to send: rounded down to RESOLUTION_A; 0 for a session not admitted."""
    if s.fixed and s.demand.fixed_a is not None:
        return s.x
    x = s.x
    if not s.admitted or x <= 0:
        return 0.0
    q = int(x * 10 + 1e-6) / 10  # RESOLUTION_A
    return q if q >= s.minimum - EPS else x


def _plan(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime, first_come: bool) -> Plan:
    if now.tzinfo is None:
        raise ValueError("plan: `now` must be an aware datetime")
    grid = _Grid(circuits, now)
    ids = set()
    for d in demands:
        if d.id in ids:
            raise ValueError(f"demand {d.id!r}: duplicate id")
        ids.add(d.id)
        if d.phases not in (1, 3):
            raise ValueError(f"demand {d.id!r}: phases must be 1 or 3, got {d.phases!r}")
        if d.phase not in (None, 1, 2, 3):
            raise ValueError(f"demand {d.id!r}: phase must be 1, 2 or 3, got {d.phase!r}")
        if not d.max_a >= 0 or not d.min_a >= 0:
            raise ValueError(f"demand {d.id!r}: max_a and min_a must be >= 0")
    sessions = _prepare(grid, demands, now)
    if first_come:
        ordered = sorted(sessions, key=lambda s: (
            s.demand.arrived_at.timestamp() if s.demand.arrived_at else math.inf, s.demand.id))
    else:
        ordered = sorted(sessions, key=lambda s: s.order)
    order = ([s for s in ordered if not s.idle], [s for s in ordered if s.idle])
    # Sessions without a profile yet are planned at least at what they may draw before it
    # applies (y >= start); the limit sent to them is at most y, so every other session's limit
    # is safe whichever profiles have applied.
    _set_floors(sessions, "floor")
    _allocate(grid, sessions, order, first_come)
    limits = [_limit(s) for s in sessions]
    unprofiled = [i for i, s in enumerate(sessions) if not s.demand.profiled and s.demand.fixed_a is None]
    if any(sessions[i].start > sessions[i].minimum + EPS for i in unprofiled):
        # Some may draw more than their minimum before their profile applies: what they would
        # get as ordinary sessions is their first limit, when lower; the others are planned again
        # with them at the most they may draw now or after it (no more than the first pass
        # counted them at: nothing that fitted is lost).
        _set_floors(sessions, "free")
        _allocate(grid, sessions, order, first_come)
        first = {i: min(limits[i], _limit(sessions[i])) for i in unprofiled}
        _set_floors(sessions, "fixed", first)
        _allocate(grid, sessions, order, first_come)
        limits = [_limit(s) for s in sessions]
        for i, x in first.items():
            limits[i] = x
    # planned loads: every session at its limit, those without a profile yet at least at what
    # they may draw before it applies
    row_cap = grid.row_cap
    load = [0.0] * len(row_cap)
    floor_load = [0.0] * len(row_cap)
    for s, x in zip(sessions, limits, strict=True):
        floor = s.start if s.start else (s.floor if s.demand.fixed_a is not None else 0.0)
        if floor > x:
            x = floor
        for r in s.rows:
            load[r] += x
        if floor:
            for r in s.rows:
                floor_load[r] += floor
    circuit_load = {}
    overloaded = []
    for cid, rows in grid.rows_of_circuit.items():
        circuit_load[cid] = max(load[r] for r in rows)
        if any(floor_load[r] > row_cap[r] + EPS for r in rows):
            overloaded.append(cid)
    ids = [s.demand.id for s in sessions]
    limits_w = {i: round(x * s.n_phases * s.voltage, 1) for i, x, s in zip(ids, limits, sessions, strict=True)}
    return Plan(dict(zip(ids, limits, strict=True)), limits_w, circuit_load, dict(grid.limit), tuple(overloaded))


def plan(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime) -> Plan:
    """Per-session current limits at `now` (see the module docstring for the rules)."""
    return _plan(circuits, demands, now, first_come=False)


def first_come(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime) -> Plan:
    """Baseline for comparison: sessions in order of arrival each take as much as they can
    (up to their cap) of what is left; same circuit model, counting and rounding as `plan`."""
    return _plan(circuits, demands, now, first_come=True)
