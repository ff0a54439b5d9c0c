"""Static checks of a tariff: invalid or missing fields, elements and components that can
never apply (contradictory restrictions, shadowed by an earlier element for the same
dimension), and choices the specification advises against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from evroam.model.common import field_errors
from evroam.model.tariffs import Tariff, TariffElement, TariffRestrictions
from evroam.tariffs.case import normalise_tariff
from evroam.tariffs.compiled import DAY_INDEX

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True, slots=True)
class LintMessage:
    severity: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "path": self.path, "message": self.message}


def _minutes(r: TariffRestrictions | None) -> frozenset[int] | None:
    """Minutes of the day the time window covers; None when there is no window."""
    if r is None or (r.start_time is None and r.end_time is None):
        return None

    def hm(v: str) -> int:
        return int(v[:2]) * 60 + int(v[3:])

    s = hm(r.start_time) if r.start_time else 0
    e = hm(r.end_time) if r.end_time else 1440
    e = e or 1440
    if s < e:
        return frozenset(range(s, e))
    if s > e:
        return frozenset(range(s, 1440)) | frozenset(range(0, e))
    return frozenset(range(1440))


def _range_implied(lo_i, hi_i, lo_j, hi_j) -> bool:
    """Does [lo_i, hi_i) lie inside [lo_j, hi_j)? (None = unbounded)"""
    if lo_j is not None and (lo_i is None or lo_i < lo_j):
        return False
    if hi_j is not None and (hi_i is None or hi_i > hi_j):
        return False
    return True


def _implies(ri: TariffRestrictions | None, rj: TariffRestrictions | None) -> bool:
    """Whenever element i's restrictions hold, do element j's hold too?"""
    if rj is None:
        return ri is None or ri.reservation is None
    if (ri.reservation if ri else None) != rj.reservation:
        return False
    mj = _minutes(rj)
    if mj is not None:
        mi = _minutes(ri)
        if mi is None or not mi <= mj:
            return False
    if rj.day_of_week:
        if not (ri and ri.day_of_week) or not set(ri.day_of_week) <= set(rj.day_of_week):
            return False
    pairs = [
        ("start_date", "end_date"),
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
        ("min_duration", "max_duration"),
    ]
    for lo, hi in pairs:
        if not _range_implied(
            getattr(ri, lo) if ri else None, getattr(ri, hi) if ri else None, getattr(rj, lo), getattr(rj, hi)
        ):
            return False
    return True


def _never(r: TariffRestrictions, el: TariffElement) -> list[str]:
    """Reasons why an element's restrictions can never all hold."""
    reasons = []
    for lo, hi in (
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
        ("min_duration", "max_duration"),
    ):
        a, b = getattr(r, lo), getattr(r, hi)
        if a is not None and b is not None and a >= b:
            reasons.append(f"{lo} {a} is not below {hi} {b} (min is inclusive, max exclusive)")
    for name in ("max_kwh", "max_current", "max_power", "max_duration"):
        v = getattr(r, name)
        if v is not None and v <= 0:
            reasons.append(f"{name} {v}: nothing is below it")
    start = date.fromisoformat(r.start_date) if r.start_date else None
    end = date.fromisoformat(r.end_date) if r.end_date else None
    if start and end and start >= end:
        reasons.append(
            f"start_date {r.start_date} is not before end_date {r.end_date} (end_date is exclusive)"
        )
    elif start and end and r.day_of_week and (end - start).days < 7:
        days = {(start.toordinal() + k) % 7 for k in range((end - start).days)}
        wanted = {(DAY_INDEX[d.value] + 1) % 7 for d in r.day_of_week}  # ordinal % 7: Monday == 1
        if not days & wanted:
            reasons.append("no day between start_date and end_date is one of its day_of_week")
    dims = {pc.type.value for pc in el.price_components}
    if dims == {"PARKING_TIME"} and r.reservation is None:
        for name in ("min_current", "min_power"):
            v = getattr(r, name)
            if v is not None and v > 0:
                reasons.append(f"{name} {v} with only PARKING_TIME: while parked no current flows")
    return reasons


def lint_tariff(data: Any, *, path: str = "tariff") -> list[LintMessage]:
    """Check a tariff (dict in the 2.2.1 shape, 2.3.0 min/max spelling accepted)."""
    msgs: list[LintMessage] = []
    if isinstance(data, dict) and "elements" not in data and isinstance(data.get("tariff"), dict):
        data = data["tariff"]
    try:
        tariff = Tariff.model_validate(normalise_tariff(data))
    except ValidationError as exc:
        for line in field_errors(exc):
            where, _, msg = line.partition(": ")
            msgs.append(LintMessage(ERROR, f"{path}.{where}" if where != "(body)" else path, msg))
        return msgs
    if isinstance(data, dict) and "last_updated" not in data:
        msgs.append(LintMessage(WARNING, f"{path}.last_updated", "missing (required by OCPI)"))
    if tariff.start_date_time and tariff.end_date_time and tariff.end_date_time <= tariff.start_date_time:
        msgs.append(LintMessage(ERROR, f"{path}.end_date_time", "is not after start_date_time"))
    if tariff.min_price and tariff.max_price:
        if tariff.min_price.excl_vat > tariff.max_price.excl_vat:
            msgs.append(LintMessage(ERROR, f"{path}.min_price.excl_vat", "is above max_price.excl_vat"))
        if (
            tariff.min_price.incl_vat is not None
            and tariff.max_price.incl_vat is not None
            and tariff.min_price.incl_vat > tariff.max_price.incl_vat
        ):
            msgs.append(LintMessage(ERROR, f"{path}.min_price.incl_vat", "is above max_price.incl_vat"))
    for key in ("min_price", "max_price"):
        limit = getattr(tariff, key)
        if limit is not None and limit.incl_vat is not None and limit.incl_vat < limit.excl_vat:
            msgs.append(LintMessage(WARNING, f"{path}.{key}", "incl_vat is below excl_vat"))

    never_apply: set[int] = set()
    for i, el in enumerate(tariff.elements):
        ep = f"{path}.elements[{i}]"
        r = el.restrictions
        seen: set[str] = set()
        for j, pc in enumerate(el.price_components):
            cp = f"{ep}.price_components[{j}]"
            dim = pc.type.value
            if dim in seen:
                msgs.append(LintMessage(WARNING, cp, f"second {dim} component in this element is never used"))
            seen.add(dim)
            if pc.step_size < 0:
                msgs.append(LintMessage(ERROR, f"{cp}.step_size", "must not be negative"))
            elif pc.step_size == 0 and dim != "FLAT":
                msgs.append(
                    LintMessage(WARNING, f"{cp}.step_size", "0 is treated as 1 (use 1 to disable rounding)")
                )
            if pc.price < 0:
                msgs.append(LintMessage(WARNING, f"{cp}.price", "is negative"))
            if pc.vat is not None and not 0 <= pc.vat <= 100:
                msgs.append(
                    LintMessage(ERROR, f"{cp}.vat", f"{pc.vat} is not a percentage between 0 and 100")
                )
            if r is not None and r.reservation is not None and dim not in ("FLAT", "TIME"):
                msgs.append(
                    LintMessage(ERROR, cp, f"a reservation element can only price FLAT and TIME, not {dim}")
                )
        if r is None:
            continue
        if r.start_time is not None and r.start_time == r.end_time:
            msgs.append(
                LintMessage(
                    WARNING, f"{ep}.restrictions", "start_time equals end_time: read as the whole day"
                )
            )
        if r.day_of_week is not None and len(r.day_of_week) == 0:
            msgs.append(LintMessage(INFO, f"{ep}.restrictions.day_of_week", "empty list: restricts nothing"))
        if r.day_of_week and len(set(r.day_of_week)) == 7:
            msgs.append(
                LintMessage(INFO, f"{ep}.restrictions.day_of_week", "lists every day: restricts nothing")
            )
        for reason in _never(r, el):
            never_apply.add(i)
            msgs.append(LintMessage(ERROR, f"{ep}.restrictions", f"can never apply: {reason}"))

    # shadowing: component of dimension d in element i is never used when an earlier element j
    # with a d component matches whenever i does.
    for i, el in enumerate(tariff.elements):
        if i in never_apply:
            continue
        ep = f"{path}.elements[{i}]"
        dims = []
        for pc in el.price_components:
            if pc.type.value not in dims:
                dims.append(pc.type.value)
        shadowed = {}
        for dim in dims:
            for j in range(i):
                if j in never_apply:
                    continue
                if any(pc.type.value == dim for pc in tariff.elements[j].price_components) and _implies(
                    el.restrictions, tariff.elements[j].restrictions
                ):
                    shadowed[dim] = j
                    break
        if shadowed and len(shadowed) == len(dims):
            by = sorted(set(shadowed.values()))
            msgs.append(
                LintMessage(
                    WARNING,
                    ep,
                    "can never apply: shadowed by earlier element(s) "
                    + ", ".join(f"elements[{j}]" for j in by)
                    + " that match whenever this one does, for each of its dimensions",
                )
            )
        else:
            for dim, j in shadowed.items():
                msgs.append(
                    LintMessage(
                        WARNING,
                        ep,
                        f"its {dim} component is never used: elements[{j}] prices {dim} whenever this one matches",
                    )
                )

    # advice: a final unrestricted element per dimension as fallback
    session_dims = {
        pc.type.value
        for el in tariff.elements
        if el.restrictions is None or el.restrictions.reservation is None
        for pc in el.price_components
    }
    for dim in sorted(session_dims):
        has_default = any(
            el.restrictions is None or _implies(None, el.restrictions)
            for el in tariff.elements
            if any(pc.type.value == dim for pc in el.price_components)
        )
        if not has_default and dim != "FLAT":
            msgs.append(
                LintMessage(
                    INFO,
                    f"{path}.elements",
                    f"no unrestricted {dim} element: {dim} is free whenever no restriction matches",
                )
            )
    return msgs
