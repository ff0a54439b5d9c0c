"""Which new limits are worth a profile: a limit that goes down is always sent (the plan's
safety counts on it), one that goes up only when it rises by more than the hysteresis."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["changed"]


def changed(old_limits: Mapping[str, float], new_limits: Mapping[str, float], hysteresis_a: float) -> set[str]:
    """Ids in `new_limits` whose limit must be sent: new ids, any decrease, a pause or a resume
    (to or from 0), and increases by more than `hysteresis_a`.

    Holding back an increase is safe: the charger keeps a lower limit than planned. Holding back a
    decrease is not (another session may have been given that current), so decreases always go
    out. Ids only in `old_limits` (sessions that ended) need no profile and are not returned."""
    out = set()
    for key, new in new_limits.items():
        old = old_limits.get(key)
        if old is None or new < old - 1e-9 or (old <= 0) != (new <= 0) or new - old > hysteresis_a + 1e-9:
            out.add(key)
    return out
