"""The allocator's data: circuits (a site's grid connection and the circuits nested in it),
demands (active charging sessions) and the plan computed for them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from evroam.smartcharging.schedule import CapacitySchedule

__all__ = ["Circuit", "Demand", "Plan"]


@dataclass(frozen=True)
class Circuit:
    id: str
    parent_id: str | None  # None: the site's grid connection (root)
    limit_a: float | None = None  # per-phase current limit (A)
    limit_kw: float | None = None  # power limit (kW), converted with voltage and phases
    schedule: CapacitySchedule | None = None  # time-of-day / weekday limits
    phases: int = 3
    voltage_v: float = 230.0  # phase-to-neutral
    # A 1-phase circuit: the phase (1-3, numbered as at the grid connection) it is wired to;
    # None: unknown, its load is counted on every phase of the circuits above it.
    phase: int | None = None

    def limit_a_at(self, now: datetime) -> float:
        """Effective per-phase limit at `now` (schedule applied); math.inf when unlimited."""
        limit_a, limit_kw = self.limit_a, self.limit_kw
        if self.schedule is not None:
            kw, amps = self.schedule.overrides_at(now)
            if kw is not None:
                limit_kw = kw
            if amps is not None:
                limit_a = amps
        result = math.inf
        if limit_a is not None:
            result = limit_a
        if limit_kw is not None:
            result = min(result, limit_kw * 1000.0 / (self.voltage_v * self.phases))
        return result


@dataclass(frozen=True)
class Demand:  # one active charging session
    id: str  # session key (e.g. "CP-1/2" or the OCPI session id)
    circuit_id: str  # the innermost circuit it hangs on
    phases: int  # 1 or 3: phases the car draws on
    max_a: float  # per phase: min(EVSE max, car max when known)
    min_a: float = 6.0  # OCPP/IEC 61851 minimum; below it the car is paused (0)
    priority: int = 0  # higher first
    arrived_at: datetime | None = None
    departure: datetime | None = None  # OCPI ChargingPreferences.departure_time
    energy_need_kwh: float | None = None  # remaining energy wanted (need minus delivered)
    drawn_a: float | None = None  # measured per-phase current; None: unknown
    profiled: bool = True  # False: no profile sent yet -> counts at max_a in the plan
    fixed_a: float | None = None  # charger rejects profiles: held to this static share
    # Added after the first version (defaults keep the original meaning):
    # the limit in force now (last profile the charger accepted); with drawn_a it tells a car
    # that takes less than it is given (its unused current is released to others).
    allocated_a: float | None = None
    # A 1-phase car: the phase (1-3, numbered as at the grid connection) its connector is wired
    # to (OCPP ConnectorPhaseRotation / PhaseRotation); None: unknown, counted on every phase.
    phase: int | None = None
    # What a session without a profile yet (profiled=False) may draw: the limit of the charger's
    # default profile for new transactions (OCPP TxDefaultProfile); None: max_a.
    unprofiled_a: float | None = None


@dataclass(frozen=True)
class Plan:
    limits_a: dict[str, float]  # demand id -> per-phase current limit (0 = paused)
    limits_w: dict[str, float]  # demand id -> power limit in W (limits_a * phases * voltage)
    circuit_load_a: dict[str, float]  # circuit id -> planned per-phase load (worst phase)
    circuit_limit_a: dict[str, float]  # circuit id -> effective limit at `now` (math.inf: none)
    # circuits whose loads the plan cannot lower (sessions without a profile yet, chargers held
    # to a static share) already exceed their limit: every controllable session under them is
    # paused and the overload is reported here.
    overloaded: tuple[str, ...] = field(default=())
