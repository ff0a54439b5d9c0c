"""Load management: a site with a capacity schedule and N electric vehicles, simulated minute by
minute through the real allocator (`evroam.smartcharging.plan`) and two baselines computed in the
same run on the same cars.

The site: a grid connection of C kW (default 2.0 kW per EV) whose capacity drops to half on
weekdays 17:00-21:00 (Europe/Amsterdam), a garage circuit nested in it (a quarter of C) and
rows of chargers nested in the garage (40 A each). The cars: commuters (arrive 07-10, leave
16-19), visitors (stay 45 min to 3 h) and residents (arrive 17-21, leave 06:30-08:30), a mix of
3-phase (16 or 32 A) and 1-phase (16 or 32 A, on a known phase of the rotation) cars, half of
them tapering above 80 % state of charge; 70 % send OCPI ChargingPreferences (departure time,
energy need); 3 % sit at chargers that reject profiles and are held to a static 10 A. A car
draws what its limit, its own maximum and its taper allow, until it has its energy.

Each minute: departures, arrivals (a new session counts unprofiled: it may draw its maximum
until its first profile applies, one minute later), a re-plan when anything happened or the
schedule changed (and every 5 minutes for the meter values), limits sent when they change by
more than the hysteresis (1 A; decreases always), then every car draws and every phase of every
circuit is checked against its limit at that minute.

Policies:
  smart        evroam.smartcharging.plan (preferences, fair shares, unused current released)
  equal share  the same allocator without the preferences: fair shares only
  first come   cars in order of arrival take all they can (same circuits, same counting)

Reported per policy: capacity violations (must be 0; the script exits 1 otherwise), % of the
requested energy delivered by departure, cars that got all they asked for, peak kW, profiles
sent, plan() wall and CPU time per re-plan (p50/p99); an upper bound of the energy any policy
could deliver (a max flow); plan() with 1,000 sessions active at once.

    .venv/bin/python bench/load_management.py [--n 50 --n 1000] [--seed 1] [--hours 30] [--kw-per-ev 2]
        [--prefs 0.7] [--concurrent 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from evroam.smartcharging import Circuit, Demand, changed, equal_share, first_come, load_schedule, plan

TZ = ZoneInfo("Europe/Amsterdam")
START = datetime(2024, 5, 6, 6, 0, tzinfo=TZ).astimezone(UTC)  # Monday 06:00 local
VOLT = 230.0
EVSE_MAX_A = 32.0
HYSTERESIS_A = 1.0
METER_EVERY_MIN = 5
STATIC_SHARE_A = 10.0
DEFAULT_PROFILE_A = 6.0  # chargers start new sessions at this until their own profile applies
PLAN_TARGET_MS = 50.0
ROW_LIMIT_A = 40.0
ROW_SIZE = 10  # EVs of the population per garage row (about a third of them park in the garage)


@dataclasses.dataclass
class Car:
    id: str
    arrive: int  # minute
    depart: int  # minute
    circuit: str
    phases: int
    phase: int | None
    max_a: float
    battery_kwh: float
    soc0: float
    need_kwh: float
    tapers: bool
    prefs: bool
    rejects_profiles: bool

    @property
    def watts_per_a(self) -> float:
        return self.phases * VOLT


def site(n: int, kw_per_ev: float) -> tuple[list[Circuit], float, int]:
    capacity = round(n * kw_per_ev, 1)
    schedule = load_schedule({"timezone": "Europe/Amsterdam", "periods": [
        {"days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
         "start": "17:00", "end": "21:00", "capacity_kw": round(capacity / 2, 1)}]})
    rows = max(1, round(n / ROW_SIZE))
    circuits = [Circuit("site", None, limit_kw=capacity, schedule=schedule),
                Circuit("garage", "site", limit_kw=round(capacity / 4, 1))]
    circuits += [Circuit(f"row{i}", "garage", limit_a=ROW_LIMIT_A) for i in range(rows)]
    return circuits, capacity, rows


def cars(n: int, seed: int, horizon_min: int, rows: int, prefs: float = 0.7) -> list[Car]:
    rnd = random.Random(seed)
    out = []

    def at(hour: float) -> int:  # minutes since START (06:00) for a local hour of Monday (>24: Tuesday)
        return int(round((hour - 6.0) * 60))

    for i in range(n):
        kind = rnd.choices(["commuter", "visitor", "resident"], weights=[40, 30, 30])[0]
        if kind == "commuter":
            arrive, depart = at(rnd.uniform(7, 10)), at(rnd.uniform(16, 19))
        elif kind == "visitor":
            arrive = at(rnd.uniform(9, 17))
            depart = arrive + int(rnd.uniform(45, 180))
        else:
            arrive, depart = at(rnd.uniform(17, 21)), at(24 + rnd.uniform(6.5, 8.5))
        if arrive >= horizon_min - 5:
            continue
        depart = min(depart, horizon_min)
        three = rnd.random() < 0.7
        car_max = rnd.choice([16.0, 16.0, 32.0])
        max_a = min(EVSE_MAX_A, car_max)
        place = rnd.random()
        circuit = f"row{rnd.randrange(rows)}" if place < 0.35 else "site"
        battery = rnd.uniform(40, 90)
        soc0 = rnd.uniform(0.1, 0.6)
        target = rnd.uniform(0.7, 1.0)
        hours = (depart - arrive) / 60
        possible = 0.9 * max_a * (3 if three else 1) * VOLT / 1000 * hours
        need = max(1.0, min(battery * (target - soc0), possible))
        out.append(Car(
            f"ev{i}", arrive, depart, circuit, 3 if three else 1, None if three else rnd.choice([1, 2, 3]),
            max_a, battery, soc0, need, rnd.random() < 0.5, rnd.random() < prefs, rnd.random() < 0.03,
        ))
    return out


def _wh(kwh: float) -> float:
    """Energy as a meter reports it (whole Wh), not below 0."""
    return max(0.0, math.floor(kwh * 1000 + 1e-6) / 1000)


def taper_a(car: Car, delivered: float) -> float:
    """Most current the car takes at its state of charge."""
    if not car.tapers:
        return car.max_a
    soc = car.soc0 + delivered / car.battery_kwh
    if soc <= 0.8:
        return car.max_a
    return max(0.2, 1 - 0.8 * (soc - 0.8) / 0.2) * car.max_a


class Wiring:
    """Independent of the allocator: which (circuit, phase) each car's current flows through."""

    def __init__(self, circuits: list[Circuit]):
        self.parent = {c.id: c.parent_id for c in circuits}
        self.circuits = circuits

    def paths(self, car: Car) -> list[tuple[str, int]]:
        phases = (1, 2, 3) if car.phases == 3 else (car.phase,) if car.phase else (1, 2, 3)
        out = []
        cid = car.circuit
        while cid is not None:
            out += [(cid, k) for k in phases]
            cid = self.parent[cid]
        return out


def simulate(policy: Callable, circuits: list[Circuit], fleet: list[Car], horizon_min: int) -> dict:
    wiring = Wiring(circuits)
    paths = {c.id: wiring.paths(c) for c in fleet}
    by_arrival: dict[int, list[Car]] = {}
    for c in fleet:
        by_arrival.setdefault(c.arrive, []).append(c)
    present: dict[str, Car] = {}
    delivered = {c.id: 0.0 for c in fleet}
    in_force: dict[str, float] = {}  # limits the chargers apply
    profiled: set[str] = set()
    pending: dict[str, float] = {}  # first profiles of new sessions, applied next minute
    drawn: dict[str, float] = {}
    plan_ms: list[float] = []
    plan_cpu_ms: list[float] = []
    session_minutes = 0
    profiles = 0
    violations = 0
    worst_over = 0.0
    peak_w = 0.0
    root = next(c for c in circuits if c.parent_id is None)
    next_change = root.schedule.next_change(START) if root.schedule else None
    last_plan = -10**9
    for minute in range(horizon_min):
        now = START + timedelta(minutes=minute)
        events = False
        for cid in [cid for cid, c in present.items() if c.depart <= minute]:
            del present[cid]
            in_force.pop(cid, None)
            drawn.pop(cid, None)
            profiled.discard(cid)
            events = True
        for car in by_arrival.get(minute, ()):
            present[car.id] = car
            events = True
        for cid, limit in pending.items():  # first profiles applied
            if cid in present:
                in_force[cid] = limit
                profiled.add(cid)
        pending.clear()
        if next_change is not None and now >= next_change:
            events = True
            next_change = root.schedule.next_change(now)
        if events or minute - last_plan >= METER_EVERY_MIN:
            last_plan = minute
            demands = []
            for car in present.values():
                prefs = car.prefs
                demands.append(Demand(
                    car.id, car.circuit, car.phases, car.max_a, arrived_at=START + timedelta(minutes=car.arrive),
                    departure=START + timedelta(minutes=car.depart) if prefs else None,
                    energy_need_kwh=_wh(car.need_kwh - delivered[car.id]) if prefs else None,
                    drawn_a=drawn.get(car.id), profiled=car.id in profiled or car.rejects_profiles,
                    fixed_a=STATIC_SHARE_A if car.rejects_profiles else None,
                    allocated_a=in_force.get(car.id), phase=car.phase, unprofiled_a=DEFAULT_PROFILE_A,
                ))
            t0, c0 = time.perf_counter(), time.thread_time()
            p = policy(circuits, demands, now)
            plan_ms.append((time.perf_counter() - t0) * 1000)
            plan_cpu_ms.append((time.thread_time() - c0) * 1000)
            controllable = {cid: x for cid, x in p.limits_a.items() if not present[cid].rejects_profiles}
            current = {cid: in_force[cid] for cid in controllable if cid in profiled}
            for cid in changed(current, controllable, HYSTERESIS_A):
                profiles += 1
                if cid in profiled:
                    in_force[cid] = controllable[cid]
                else:
                    pending[cid] = controllable[cid]
        # the cars draw for a minute
        load: dict[tuple[str, int], float] = {}
        total_w = 0.0
        session_minutes += len(present)
        for car in present.values():
            remaining = car.need_kwh - delivered[car.id]
            if car.rejects_profiles:
                limit = STATIC_SHARE_A
            elif car.id in profiled:
                limit = in_force.get(car.id, car.max_a)
            else:
                limit = DEFAULT_PROFILE_A  # no profile of its own yet: the charger's default
            amps = min(limit, car.max_a, taper_a(car, delivered[car.id])) if limit >= 6.0 else 0.0
            if _wh(remaining) <= 0:
                amps = 0.0
            else:
                amps = min(amps, remaining * 1000 * 60 / car.watts_per_a)  # stops when done
            drawn[car.id] = amps
            if amps > 0:
                delivered[car.id] += amps * car.watts_per_a / 1000 / 60
                total_w += amps * car.watts_per_a
                for key in paths[car.id]:
                    load[key] = load.get(key, 0.0) + amps
        peak_w = max(peak_w, total_w)
        for c in circuits:
            limit = c.limit_a_at(now)
            for k in (1, 2, 3):
                over = load.get((c.id, k), 0.0) - limit
                if over > 1e-6:
                    violations += 1
                    worst_over = max(worst_over, over)
    requested = sum(c.need_kwh for c in fleet)
    got = sum(min(delivered[c.id], c.need_kwh) for c in fleet)
    served = sum(1 for c in fleet if delivered[c.id] >= c.need_kwh - 0.05)
    return {
        "violations": violations,
        "worst_over_a": worst_over,
        "requested_kwh": requested,
        "delivered_kwh": got,
        "delivered_pct": 100 * got / requested if requested else 100.0,
        "served_pct": 100 * served / len(fleet) if fleet else 100.0,
        "peak_kw": peak_w / 1000,
        "profiles": profiles,
        "plans": len(plan_ms),
        "plan_ms_p50": statistics.median(plan_ms) if plan_ms else 0.0,
        "plan_ms_p99": _pct(plan_ms, 99),
        "plan_cpu_ms_p50": statistics.median(plan_cpu_ms) if plan_cpu_ms else 0.0,
        "plan_cpu_ms_p99": _pct(plan_cpu_ms, 99),
        "profiles_per_session_hour": profiles / (session_minutes / 60) if session_minutes else 0.0,
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1)]


def concurrent_plan_times(seed: int, n: int = 1000, runs: int = 60) -> dict:
    """plan() with n sessions active at once on the bench site (all with measured draw, most
    with preferences): wall time per call."""
    circuits, _capacity, rows = site(n, 1.0)
    rnd = random.Random(seed)
    now = START + timedelta(hours=5)
    times: list[float] = []
    cpu: list[float] = []
    for run in range(runs):
        demands = []
        for i in range(n):
            three = rnd.random() < 0.7
            prefs = rnd.random() < 0.7
            allocated = rnd.uniform(6, 16)
            demands.append(Demand(
                f"ev{i}", f"row{rnd.randrange(rows)}" if rnd.random() < 0.35 else "site", 3 if three else 1,
                rnd.choice([16.0, 32.0]), arrived_at=now - timedelta(minutes=rnd.randrange(600)),
                departure=now + timedelta(minutes=rnd.randrange(30, 900)) if prefs else None,
                energy_need_kwh=rnd.uniform(0, 50) if prefs else None,
                drawn_a=allocated - rnd.choice([0.0, 0.0, 0.0, 5.0]), allocated_a=allocated,
                profiled=rnd.random() > 0.01, fixed_a=STATIC_SHARE_A if rnd.random() < 0.03 else None,
                phase=None if three else rnd.choice([1, 2, 3]),
            ))
        t0, c0 = time.perf_counter(), time.thread_time()
        plan(circuits, demands, now + timedelta(minutes=run))
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return {"sessions": n, "runs": runs, "p50_ms": statistics.median(times), "p99_ms": _pct(times, 99),
            "max_ms": max(times), "cpu_p50_ms": statistics.median(cpu), "cpu_p99_ms": _pct(cpu, 99)}


def upper_bound(circuits: list[Circuit], fleet: list[Car], horizon_min: int, slot_min: int = 15) -> float:
    """Most energy (kWh, up to each car's request) any policy could deliver: a max flow from the
    cars through time slots and the circuit tree, in kW (each circuit at its limit in the slot,
    the lowest of the slot's minutes), each car at its own maximum power. Ignores the minimum
    current, phase balance and tapering, so it is an upper bound, not always reachable."""
    children: dict[str, list[str]] = {}
    for c in circuits:
        if c.parent_id is not None:
            children.setdefault(c.parent_id, []).append(c.id)
    slots = math.ceil(horizon_min / slot_min)
    graph = _Flow()
    source, sink = graph.node(), graph.node()
    node: dict[tuple[str, int], int] = {}
    for t in range(slots):
        for c in circuits:
            node[(c.id, t)] = graph.node()
        minutes = range(t * slot_min, min(horizon_min, (t + 1) * slot_min))
        hours = len(minutes) / 60
        for c in circuits:
            kw = min(c.limit_a_at(START + timedelta(minutes=m)) for m in minutes) * c.phases * c.voltage_v / 1000
            target = sink if c.parent_id is None else node[(c.parent_id, t)]
            graph.edge(node[(c.id, t)], target, kw * hours)
    for car in fleet:
        v = graph.node()
        graph.edge(source, v, car.need_kwh)
        kw = car.max_a * car.watts_per_a / 1000
        for t in range(car.arrive // slot_min, math.ceil(car.depart / slot_min)):
            present = min(car.depart, (t + 1) * slot_min) - max(car.arrive, t * slot_min)
            if present > 0:
                graph.edge(v, node[(car.circuit, t)], kw * present / 60)
    return graph.max_flow(source, sink)


class _Flow:
    """Dinic's maximum flow on real capacities."""

    def __init__(self) -> None:
        self.adj: list[list[int]] = []
        self.to: list[int] = []
        self.cap: list[float] = []

    def node(self) -> int:
        self.adj.append([])
        return len(self.adj) - 1

    def edge(self, u: int, v: int, c: float) -> None:
        self.adj[u].append(len(self.to))
        self.to.append(v)
        self.cap.append(c)
        self.adj[v].append(len(self.to))
        self.to.append(u)
        self.cap.append(0.0)

    def max_flow(self, s: int, t: int) -> float:
        total = 0.0
        while True:
            level = [-1] * len(self.adj)
            level[s] = 0
            queue = [s]
            for u in queue:
                for e in self.adj[u]:
                    if self.cap[e] > 1e-9 and level[self.to[e]] < 0:
                        level[self.to[e]] = level[u] + 1
                        queue.append(self.to[e])
            if level[t] < 0:
                return total
            it = [0] * len(self.adj)
            while True:
                f = self._push(s, t, math.inf, level, it)
                if f <= 1e-9:
                    break
                total += f

    def _push(self, u: int, t: int, f: float, level: list[int], it: list[int]) -> float:
        if u == t:
            return f
        while it[u] < len(self.adj[u]):
            e = self.adj[u][it[u]]
            v = self.to[e]
            if self.cap[e] > 1e-9 and level[v] == level[u] + 1:
                got = self._push(v, t, min(f, self.cap[e]), level, it)
                if got > 1e-9:
                    self.cap[e] -= got
                    self.cap[e ^ 1] += got
                    return got
            it[u] += 1
        return 0.0


POLICIES = {"smart": plan, "equal share": equal_share, "first come": first_come}


def run(n: int, seed: int, hours: float, kw_per_ev: float, prefs: float = 0.7) -> dict:
    horizon = int(hours * 60)
    circuits, capacity, rows = site(n, kw_per_ev)
    fleet = cars(n, seed, horizon, rows, prefs)
    results = {name: simulate(fn, circuits, fleet, horizon) for name, fn in POLICIES.items()}
    requested = sum(c.need_kwh for c in fleet)
    bound = upper_bound(circuits, fleet, horizon)
    return {"n": n, "cars": len(fleet), "seed": seed, "hours": hours, "capacity_kw": capacity,
            "requested_kwh": requested, "bound_kwh": bound, "bound_pct": 100 * bound / requested if requested else 100.0,
            "garage_kw": round(capacity / 4, 1), "rows": rows, "policies": results}


def report(r: dict) -> None:
    print(f"\nN={r['n']} EVs ({r['cars']} within {r['hours']:g} h from Monday 06:00), seed {r['seed']}: "
          f"site {r['capacity_kw']:g} kW ({r['capacity_kw'] / 2:g} kW weekdays 17:00-21:00), garage "
          f"{r['garage_kw']:g} kW nested in it, {r['rows']} row(s) of {ROW_LIMIT_A:g} A nested in the garage")
    head = (f"{'policy':12s} {'violations':>10s} {'delivered':>9s} {'served':>7s} {'peak kW':>8s} "
            f"{'profiles':>8s} {'/sess.h':>7s} {'plans':>5s}  {'plan ms p50/p99 wall':>20s}  {'cpu':>11s}")
    print(head)
    print("-" * len(head))
    for name, m in r["policies"].items():
        print(f"{name:12s} {m['violations']:10d} {m['delivered_pct']:8.1f}% {m['served_pct']:6.1f}% "
              f"{m['peak_kw']:8.1f} {m['profiles']:8d} {m['profiles_per_session_hour']:7.2f} {m['plans']:5d}  "
              f"{m['plan_ms_p50']:9.2f} / {m['plan_ms_p99']:7.2f}  "
              f"{m['plan_cpu_ms_p50']:5.2f}/{m['plan_cpu_ms_p99']:5.2f}")
    s = r["policies"]["smart"]
    others = {k: v for k, v in r["policies"].items() if k != "smart"}
    best_other = max(others, key=lambda k: others[k]["delivered_pct"])
    lead = s["delivered_pct"] - others[best_other]["delivered_pct"]
    print(f"delivered: % of the requested {s['requested_kwh']:.0f} kWh by departure; served: cars that got "
          f"all they asked for; profiles: limits sent (hysteresis {HYSTERESIS_A:g} A, decreases always)")
    print(f"upper bound (max flow through the circuits at the cars' full power, no minimum current, "
          f"phase balance or taper): {r['bound_pct']:.1f}% of the requested energy")
    print(f"smart delivers {s['delivered_pct']:.1f}%, {lead:+.1f} points vs the best baseline "
          f"({best_other}): {'smart beats both' if lead > 0 else 'smart does NOT beat both'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="EVs (repeatable; default 50 and 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=30.0, help="simulated time from Monday 06:00 (default 30)")
    parser.add_argument("--kw-per-ev", type=float, default=2.0,
                        help="site capacity per EV of the population (default 2.0)")
    parser.add_argument("--prefs", type=float, default=0.7,
                        help="share of the cars whose eMSP sends ChargingPreferences (default 0.7)")
    parser.add_argument("--concurrent", type=int, default=1000,
                        help="sessions active at once for the plan() timing (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    ns = args.n or [50, 1000]
    results = []
    for n in ns:
        t0 = time.perf_counter()
        r = run(n, args.seed, args.hours, args.kw_per_ev, args.prefs)
        r["wall_s"] = time.perf_counter() - t0
        report(r)
        results.append(r)
    out: dict = {"runs": results}
    if args.concurrent:
        c = concurrent_plan_times(args.seed, args.concurrent)
        out["concurrent"] = c
        verdict = "PASS" if c["p99_ms"] < PLAN_TARGET_MS else "FAIL"
        print(f"\nplan() with {c['sessions']} sessions active at once: wall p50 {c['p50_ms']:.1f} ms, "
              f"p99 {c['p99_ms']:.1f} ms, max {c['max_ms']:.1f} ms (CPU p50 {c['cpu_p50_ms']:.1f}, "
              f"p99 {c['cpu_p99_ms']:.1f} ms) over {c['runs']} plans (target < {PLAN_TARGET_MS:g} ms): {verdict}")
    big = [r for r in results if r["n"] >= 1000]
    if big:
        s = big[0]["policies"]["smart"]
        print(f"re-plan time at N={big[0]['n']} (per event): wall p50 {s['plan_ms_p50']:.1f} ms, p99 "
              f"{s['plan_ms_p99']:.1f} ms (CPU p50 {s['plan_cpu_ms_p50']:.1f}, p99 {s['plan_cpu_ms_p99']:.1f} ms) "
              f"(target < {PLAN_TARGET_MS:g} ms): {'PASS' if s['plan_ms_p99'] < PLAN_TARGET_MS else 'FAIL'}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: load average {load:.2f} on {os.cpu_count()} CPUs (wall times include waiting for a CPU)")
    violations = sum(m["violations"] for r in results for m in r["policies"].values())
    print(f"capacity violations: {violations} ({'PASS' if violations == 0 else 'FAIL'})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
