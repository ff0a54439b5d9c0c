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

__all__ = ["MIN_HOURS_LEFT", "RELEASE_MARGIN_A", "RESOLUTION_A", "first_come", "plan"]

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
    x: float = 0.0
    admitted: bool = False


def _start_a(d: Demand) -> float:
    """What a session without a profile yet may draw."""
    max_a = max(0.0, d.max_a)
    return max_a if d.unprofiled_a is None else min(max_a, max(0.0, d.unprofiled_a))


def _sessions(grid: _Grid, demands: Sequence[Demand], now: datetime, floors: bool) -> list[_Session]:
    """Sessions for the allocation; with `floors`, those without a profile yet are counted at
    least at what they may draw before it applies."""
    out = []
    for d in demands:
        rows, n_phases, voltage = grid.placement(d)
        max_a = max(0.0, d.max_a)
        fixed = d.fixed_a is not None
        floor = 0.0
        if fixed:
            floor = min(max(0.0, d.fixed_a), max_a)  # type: ignore[arg-type]
        elif not d.profiled and floors:
            floor = _start_a(d)
        cap = max_a
        if (
            d.drawn_a is not None
            and d.allocated_a is not None
            and d.drawn_a < d.allocated_a - RELEASE_MARGIN_A
        ):
            cap = min(max_a, max(d.min_a, d.drawn_a + RELEASE_MARGIN_A))
        watts_per_a = n_phases * voltage
        need_a = 0.0
        group, slack = 1, 0.0
        if d.energy_need_kwh is not None and d.energy_need_kwh <= 0:
            group = 2
        elif d.energy_need_kwh is not None and d.departure is not None:
            hours = max((d.departure - now).total_seconds() / 3600.0, MIN_HOURS_LEFT)
            need_a = d.energy_need_kwh * 1000.0 / (hours * watts_per_a)
            full_kw = max_a * watts_per_a / 1000.0
            group = 0
            slack = hours - (d.energy_need_kwh / full_kw if full_kw > 0 else math.inf)
        arrived = d.arrived_at.timestamp() if d.arrived_at is not None else math.inf
        order = (-d.priority, group, slack, arrived, d.id)
        idle = (
            d.drawn_a is not None
            and d.allocated_a is not None
            and d.drawn_a < IDLE_A
            and d.allocated_a >= max(d.min_a, IDLE_A) - EPS
        )
        if (
            d.allocated_a is not None
            and d.allocated_a < d.min_a - EPS
            and d.drawn_a is not None
            and d.drawn_a < IDLE_A
        ):
            cap = min(cap, d.min_a)  # paused: offered its minimum again, more once it draws
        if group == 2 and d.drawn_a is not None and d.drawn_a < IDLE_A:
            cap = 0.0  # has what its driver asked for and takes no more: nothing reserved for it
        out.append(_Session(d, rows, n_phases, voltage, fixed, floor, cap, max(0.0, d.min_a), need_a, order, idle))
    return out


# ------------------------------------------------------------- progressive filling


def _fill(parts: list[tuple[_Session, float, float, float]], load: list[float], cap: list[float]) -> None:
    """Progressive filling. Each part (session, rate w, start level a, ceiling c) grows as
    x(t) = x0 + w * (t - a) from t = a until it reaches c or one of its rows is full; the load
    of every row is kept in `load` (updated in place), each session's x in `session.x`."""
    if not parts:
        return
    n = len(parts)
    members: dict[int, list[int]] = {}
    for k, (s, _w, _a, _c) in enumerate(parts):
        for r in s.rows:
            lst = members.get(r)
            if lst is None:
                members[r] = [k]
            else:
                lst.append(k)
    saturated = {r for r in members if load[r] >= cap[r] - EPS}
    rate = dict.fromkeys(members, 0.0)
    count = dict.fromkeys(members, 0)
    tref = dict.fromkeys(members, 0.0)
    version = dict.fromkeys(members, 0)
    start = [p[0].x for p in parts]
    state = [0] * n  # 0 waiting, 1 growing, 2 frozen
    # events: (time, kind, key, version); kinds at one time: row full, ceiling reached, start
    heap: list[tuple[float, int, int, int]] = [(a, 2, k, 0) for k, (_s, _w, a, _c) in enumerate(parts)]
    heapq.heapify(heap)

    while heap:
        t = heap[0][0]
        batch = []
        while heap and heap[0][0] <= t + EPS:
            batch.append(heapq.heappop(heap))
        d_rate: dict[int, float] = {}
        d_count: dict[int, int] = {}

        def freeze(k: int, t: float = t, d_rate=d_rate, d_count=d_count) -> None:
            s, w, a, c = parts[k]
            state[k] = 2
            s.x = min(c, start[k] + w * (t - a))
            for r in s.rows:
                d_rate[r] = d_rate.get(r, 0.0) - w
                d_count[r] = d_count.get(r, 0) - 1

        for _time, kind, key, ver in batch:
            if kind == 0 and ver == version[key] and key not in saturated:
                saturated.add(key)
                for k in members[key]:
                    if state[k] == 1:
                        freeze(k)
        for _time, kind, key, _ver in batch:
            if kind == 1 and state[key] == 1:
                freeze(key)
        for _time, kind, key, _ver in batch:
            if kind == 2 and state[key] == 0:
                s, w, a, c = parts[key]
                if c <= start[key] + EPS or w <= 0 or any(r in saturated for r in s.rows):
                    state[key] = 2
                    continue
                state[key] = 1
                for r in s.rows:
                    d_rate[r] = d_rate.get(r, 0.0) + w
                    d_count[r] = d_count.get(r, 0) + 1
                heapq.heappush(heap, (a + (c - start[key]) / w, 1, key, 0))
        for r, dc in d_count.items():
            load[r] += rate[r] * (t - tref[r])
            tref[r] = t
            count[r] += dc
            rate[r] = rate[r] + d_rate[r] if count[r] else 0.0
            version[r] += 1
            if count[r] and r not in saturated and cap[r] != math.inf:
                heapq.heappush(heap, (t + max(0.0, cap[r] - load[r]) / rate[r], 0, r, version[r]))


# ------------------------------------------------------------------------- policies


def _admit(sessions: list[_Session], load: list[float], cap: list[float], first_come: bool) -> list[_Session]:
    """Sessions in admission order each get their minimum if it fits (or, first come, all they
    can take); returns the admitted ones."""
    admitted = []
    for s in sorted(sessions, key=lambda s: s.order):
        rows = s.rows
        if s.cap <= 0 or s.cap < s.minimum - EPS:
            continue
        if first_come:
            headroom = min((cap[r] - load[r] for r in rows), default=math.inf)
            target = min(s.cap, s.x + max(0.0, headroom))
            if target < s.minimum - EPS or target <= 0:
                continue
        else:
            target = max(s.x, s.minimum)
            if target > s.x + EPS and any(load[r] + target - s.x > cap[r] + EPS for r in rows):
                continue  # (a session counted at least at its minimum already is admitted)
        extra = target - s.x
        s.x = target
        s.admitted = True
        admitted.append(s)
        for r in rows:
            load[r] += extra
    return admitted


def _allocate(grid: _Grid, sessions: list[_Session], first_come: bool) -> list[float]:
    """Sets session.x for every session; returns the row loads."""
    cap = grid.row_cap
    load = [0.0] * len(cap)
    controllable = []
    for s in sessions:
        s.x = s.floor
        if s.floor:
            for r in s.rows:
                load[r] += s.floor
        if not s.fixed:
            controllable.append(s)
    active = [s for s in controllable if not s.idle]
    idle = [s for s in controllable if s.idle]
    if first_come:
        for s in controllable:
            s.order = ((s.demand.arrived_at.timestamp() if s.demand.arrived_at else math.inf), s.demand.id)
        _admit(active, load, cap, first_come)
        _admit(idle, load, cap, first_come)
        return load
    admitted = _admit(active, load, cap, first_come)
    for priority in sorted({s.demand.priority for s in admitted}, reverse=True):
        level = [s for s in admitted if s.demand.priority == priority]
        _fill([(s, min(s.cap, s.need_a) - s.x, 0.0, min(s.cap, s.need_a)) for s in level
               if min(s.cap, s.need_a) > s.x + EPS], load, cap)
        _fill([(s, 1.0, s.x, s.cap) for s in level if s.cap > s.x + EPS], load, cap)
    # idle sessions: their minimum from what is left (so that they can resume), no more
    _admit(idle, load, cap, first_come)
    return load


def _limit(s: _Session) -> float:
    """The limit to send: rounded down to RESOLUTION_A; 0 for a session not admitted."""
    if s.fixed:
        return s.x
    if not s.admitted or s.x <= 0:
        return 0.0
    q = round(math.floor(s.x / RESOLUTION_A + 1e-6) * RESOLUTION_A, 6)
    return q if q >= s.minimum - EPS else s.x


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
    # Sessions without a profile yet are planned at least at what they may draw before it
    # applies (y >= start); the limit sent to them is at most y, so every other session's limit
    # is safe whichever profiles have applied.
    sessions = _sessions(grid, demands, now, floors=True)
    _allocate(grid, sessions, first_come)
    limits = {s.demand.id: _limit(s) for s in sessions}
    unprofiled = [s for s in sessions if not s.demand.profiled and not s.fixed]
    if unprofiled:
        # what they would get as ordinary sessions: their first profile, when lower
        trial = _sessions(grid, demands, now, floors=False)
        _allocate(grid, trial, first_come)
        own = {s.demand.id: _limit(s) for s in trial}
        first = {s.demand.id: min(limits[s.demand.id], own[s.demand.id]) for s in unprofiled}
        # the others again, with those sessions at the most they may draw now or after their
        # first profile (no more than the first pass counted them at: nothing that fitted is lost)
        sessions = _sessions(grid, demands, now, floors=True)
        for s in sessions:
            if s.demand.id in first:
                s.fixed = True
                s.floor = max(s.floor, first[s.demand.id])
        _allocate(grid, sessions, first_come)
        limits = {s.demand.id: _limit(s) for s in sessions}
        limits.update(first)
    # planned loads: every session at its limit, those without a profile yet at least at what
    # they may draw before it applies
    load = [0.0] * len(grid.row_cap)
    floor_load = [0.0] * len(grid.row_cap)
    for s in sessions:
        if not s.demand.profiled and s.demand.fixed_a is None:
            s.floor = _start_a(s.demand)
        x = max(s.floor, limits[s.demand.id])
        for r in s.rows:
            load[r] += x
            floor_load[r] += s.floor
    circuit_load = {}
    overloaded = []
    for cid, rows in grid.rows_of_circuit.items():
        circuit_load[cid] = max(load[r] for r in rows)
        if any(floor_load[r] > grid.row_cap[r] + EPS for r in rows):
            overloaded.append(cid)
    limits_w = {s.demand.id: round(limits[s.demand.id] * s.n_phases * s.voltage, 1) for s in sessions}
    return Plan(limits, limits_w, circuit_load, dict(grid.limit), tuple(overloaded))


def plan(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime) -> Plan:
    """Per-session current limits at `now` (see the module docstring for the rules)."""
    return _plan(circuits, demands, now, first_come=False)


def first_come(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime) -> Plan:
    """Baseline for comparison: sessions in order of arrival each take as much as they can
    (up to their cap) of what is left; same circuit model, counting and rounding as `plan`."""
    return _plan(circuits, demands, now, first_come=True)
