"""Which energy register readings of a transaction can be billed.

A meter register only counts up, and no faster than the EVSE can deliver. A reading that
breaks either rule is refused for billing (kept in the database and in the OCPP log, listed on
the transaction and in its CDR's `remark`) and never breaks the transaction. The readings are
judged in time order, whatever order they arrived in, each against the last plausible one
before it, starting from the meter start (or, without one, the first reading):

- lower than the last plausible reading ("backwards"), or negative: refused;
- higher by more energy than the EVSE's maximum power delivers in the time between the two,
  times `margin` and plus a minute's grace (clock granularity, meters rounding): refused;
- a reading back down after up to SPIKE_RUN readings that were too high but still within the
  power bound: when it rises above the reading before them (plausibly), and the point after it
  does not continue from them, those were the spikes: refused, and this one kept (a reading
  back down between two that agree is the glitch, refused).

The transaction's stop reading (1.6 meterStop) is judged against the last plausible reading and
never refuses the readings before it: when it is implausible (lower, or more than the EVSE could
deliver) the transaction is billed up to the last plausible reading, never from the implausible
one. So a spike, a meter that jumped or was reset, or a wrong meterStop never bills more than
the EVSE could have delivered, and a reading or stop that fails is flagged for the operator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from evroam.model.common import format_datetime

GRACE_SECONDS = 60.0
SPIKE_RUN = 3

BACKWARDS = "lower than the plausible reading before it"
NEGATIVE = "negative"
TOO_FAST = "more energy than the EVSE's maximum power delivers in the time since the reading before it"
SPIKE = "higher than the readings after it"
EARLY = "before the start and higher than the register at the start"


@dataclass(frozen=True)
class Point:
    at: datetime
    wh: float
    kind: str = "reading"  # "start" (meter start) | "reading" | "stop" (the stop's meter value)


@dataclass(frozen=True)
class Refused:
    at: datetime
    wh: float
    kind: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at.isoformat().replace("+00:00", "Z"), "wh": self.wh, "kind": self.kind,
                "reason": self.reason}


@dataclass
class Checked:
    kept: list[Point]  # the plausible points, in time order (the meter start first, when given)
    refused: list[Refused]

    @property
    def last_wh(self) -> float | None:
        return self.kept[-1].wh if self.kept else None


_ORDER = {"start": 0, "reading": 1, "stop": 2}


def check_energy(readings: Iterable[tuple[datetime, float]], *, start: datetime, meter_start_wh: float | None,
                 end: datetime | None = None, meter_stop_wh: float | None = None,
                 max_power_w: float | None = None, margin: float = 1.5) -> Checked:
    """Judge a transaction's energy register readings ((time, Wh) pairs, one per instant) with
    its meter start at `start` and, once stopped, its meter stop at `end`. `max_power_w` None
    (or `margin` 0) checks the direction only."""
    points = [Point(at, wh) for at, wh in readings]
    if meter_start_wh is not None and not any(p.at == start for p in points):
        points.append(Point(start, meter_start_wh, "start"))
    if meter_stop_wh is not None and end is not None:
        points.append(Point(end, meter_stop_wh, "stop"))
    points.sort(key=lambda p: (p.at, _ORDER[p.kind]))
    rate = max_power_w * margin / 3600.0 if max_power_w and margin > 0 else None  # Wh per second

    def plausible(before: Point, after: Point) -> bool:
        step = after.wh - before.wh
        if step < 0:
            return False
        if rate is None:
            return True
        return step <= rate * (max((after.at - before.at).total_seconds(), 0.0) + GRACE_SECONDS)

    refused: list[Refused] = []
    kept: list[Point] = []
    anchor = next((p for p in points if p.kind == "start" and p.wh >= 0), None)
    if anchor is None:
        anchor = next((p for p in points if p.wh >= 0 and p.at >= start), None)
    for i, p in enumerate(points):
        if p.wh < 0:
            refused.append(Refused(p.at, p.wh, p.kind, NEGATIVE))
        elif anchor is None or p.at < anchor.at:
            # before the start: not billed; refused when above the register at the start
            if anchor is not None and p.wh > anchor.wh:
                refused.append(Refused(p.at, p.wh, p.kind, EARLY))
        elif p is anchor:
            kept.append(p)
        elif plausible(kept[-1], p):
            kept.append(p)
        elif (p.wh < kept[-1].wh and p.kind == "reading" and not _glitch(kept[-1], points[i + 1:], plausible)
              and _drop_spikes(kept, p, plausible, refused)):
            kept.append(p)
        else:
            refused.append(Refused(p.at, p.wh, p.kind, BACKWARDS if p.wh < kept[-1].wh else TOO_FAST))
    refused.sort(key=lambda r: r.at)
    return Checked(kept, refused)


def _glitch(top: Point, after: list[Point], plausible) -> bool:
    """A reading below `top` is a glitch (not the end of a spike) when the point after it
    continues plausibly from `top`."""
    following = next((q for q in after if q.wh >= 0), None)
    return following is not None and plausible(top, following)


def _drop_spikes(kept: list[Point], p: Point, plausible, refused: list[Refused]) -> bool:
    """When `p` rises plausibly above the reading before the last few kept ones (never the
    first), those were spikes: refuse them and say True."""
    for depth in range(1, SPIKE_RUN + 1):
        if len(kept) - depth < 1:
            return False
        base = kept[-1 - depth]
        if p.wh > base.wh and plausible(base, p):
            for q in kept[-depth:]:
                refused.append(Refused(q.at, q.wh, q.kind, SPIKE))
            del kept[-depth:]
            return True
    return False


def max_power_w(connector: dict) -> float | None:
    """An OCPI connector's maximum power in W: max_electric_power, else voltage x amperage
    (x 3 for three phases, as OCPI defines max_voltage per phase); None when it says neither."""
    given = connector.get("max_electric_power")
    if isinstance(given, int | float) and given > 0:
        return float(given)
    volts, amps = connector.get("max_voltage"), connector.get("max_amperage")
    if not (isinstance(volts, int | float) and isinstance(amps, int | float)) or volts <= 0 or amps <= 0:
        return None
    phases = {"AC_3_PHASE": 3, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2}.get(connector.get("power_type") or "", 1)
    return float(volts) * float(amps) * phases


#: how far a charger's clock may be from ours for the times of its transactions to be believed
CLOCK_AHEAD = timedelta(hours=1)


def plausible_time(at: datetime, now: datetime, max_age: timedelta) -> tuple[datetime, str | None]:
    """A transaction's start or stop time as a charger gave it, or `now` when it cannot be true
    (a clock that was never set says 1970; one running ahead says next year), with the reason.
    A transaction spanning decades would also be priced over every day of them."""
    if at > now + CLOCK_AHEAD:
        return now, f"the charger's time {format_datetime(at)} is in the future: the time it was received is used"
    if at < now - max_age:
        return now, (f"the charger's time {format_datetime(at)} is older than {max_age.days} days: the time it was "
                     "received is used")
    return at, None
