"""Load management (smart charging): per-session limits that keep every site under its limit.

Pure, like `tariffs/`: no I/O, no clock (time is passed in), no store. Public API::

    from evroam.smartcharging import Circuit, Demand, plan, load_schedule, changed

    site = Circuit("site", None, limit_kw=22)                  # the grid connection
    cars = [Demand("CP-1/1", "site", phases=3, max_a=32), ...]
    p = plan([site], cars, now)            # Plan: limits_a, limits_w, circuit_load_a, ...
    to_send = changed(previous_limits, p.limits_a, hysteresis_a=1.0)

Circuits nest (`parent_id`; None is the grid connection); each may have `limit_a` (per phase),
`limit_kw`, and a `CapacitySchedule` (`load_schedule(dict)`, the schedule file format) whose
periods replace those limits by time of day and weekday; `CapacitySchedule.next_change(after)`
says when to plan again. A `Demand` is one active session; see `allocator` for the rules.

Guarantees of `plan`: no circuit's per-phase load exceeds its effective limit, unless loads the
plan cannot lower (sessions without a profile yet, counted at `max_a` or `unprofiled_a`;
chargers that reject profiles, counted at `fixed_a`) already exceed it, in which case every
controllable session under it is paused and the circuit is named in `Plan.overloaded`; each
session gets at least `min_a` when capacity allows (idle ones excepted, below), otherwise some
are paused (0) rather than all going below it; no session gets more than its `max_a`.

Changes to the first agreed interface (all additions with defaults, nothing renamed):
- `Demand.allocated_a`: the limit in force (last profile accepted). Used with `drawn_a` (pass a
  reading taken after that limit applied): a car drawing more than RELEASE_MARGIN_A (2 A) below
  it is capped at drawn_a + 2 A (at least min_a), the rest going to others. A car drawing under
  IDLE_A (1 A) of a limit >= min_a is idle: planned last, it gets min_a only from what is left,
  else 0; paused (allocated_a < min_a) and still drawing nothing, it is offered min_a again,
  no more; with energy_need_kwh <= 0 and drawing nothing it gets 0. Without `allocated_a`,
  `drawn_a` is not used (except for the last rule).
- `Demand.phase` / `Circuit.phase`: the phase (1-3, numbered at the grid connection) a 1-phase
  car's connector or a 1-phase circuit is wired to (OCPP 1.6 ConnectorPhaseRotation, OCPP 2.0.1
  EVSE PhaseRotation). Unknown: a 1-phase car is counted on every phase (safe, but it takes
  three times its share of the site's capacity). 3-phase cars always load all three.
- `Demand.unprofiled_a`: what a session without a profile yet may draw when the charger has a
  default profile for new transactions (OCPP TxDefaultProfile); None keeps the rule "counted at
  max_a". Others are planned with it at max(unprofiled_a, its own new limit).
- `Plan.overloaded`: circuits whose fixed loads alone exceed their limit.
- `CapacitySchedule.limit_a_at(at, default_a)` and `overrides_at(at)` beside `limit_kw_at`;
  `Circuit.limit_a_at(now)`: the effective per-phase limit.
- `first_come(...)`: the first-come baseline the benchmark compares with (same signature as
  `plan`); `equal_share(...)`: `plan` without preferences (fair shares only).
- Limits are rounded down to 0.1 A; `Plan.circuit_limit_a` is math.inf for an unlimited circuit.
- `changed(old, new, hysteresis_a)` always includes decreases (see `hysteresis`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from evroam.smartcharging.allocator import (
    IDLE_A,
    MIN_HOURS_LEFT,
    RELEASE_MARGIN_A,
    RESOLUTION_A,
    first_come,
    plan,
)
from evroam.smartcharging.hysteresis import changed
from evroam.smartcharging.schedule import DAYS, CapacitySchedule, SchedulePeriod, load_schedule
from evroam.smartcharging.types import Circuit, Demand, Plan


def equal_share(circuits: Sequence[Circuit], demands: Sequence[Demand], now: datetime) -> Plan:
    """Baseline for comparison: `plan` with the charging preferences (departure, energy need)
    removed, so every session gets a fair share."""
    stripped = [dataclasses.replace(d, departure=None, energy_need_kwh=None) for d in demands]
    return plan(circuits, stripped, now)


__all__ = [
    "DAYS",
    "IDLE_A",
    "MIN_HOURS_LEFT",
    "RELEASE_MARGIN_A",
    "RESOLUTION_A",
    "CapacitySchedule",
    "Circuit",
    "Demand",
    "Plan",
    "SchedulePeriod",
    "changed",
    "equal_share",
    "first_come",
    "load_schedule",
    "plan",
]
