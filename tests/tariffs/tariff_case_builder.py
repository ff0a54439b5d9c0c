"""Small helpers to write pricing cases in the JSON contract's shape."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")


def pc(type_: str, price: float, step: int = 1, vat: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def el(*components: dict, **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def tariff(*elements: dict, **extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EVR",
        "id": "T1",
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2024-01-01T00:00:00Z",
        **extra,
    }


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(tz: str, text: str) -> datetime:
    """A local wall time, e.g. local("Europe/Amsterdam", "2024-05-06 21:00"); fold=0."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def session(
    start: datetime,
    legs: list[tuple[float, float]],
    *,
    power: list[float | None] | None = None,
    current: list[float | None] | None = None,
    kwh0: float = 1000.0,
    reservation: dict | None = None,
) -> dict[str, Any]:
    """A session from legs (minutes, kWh charged in that leg); kWh 0 is a pause/parking.
    `power` / `current` per leg; by default power is the leg's average power."""
    samples = []
    t = start
    kwh = kwh0
    for i, (minutes, energy) in enumerate(legs):
        p = power[i] if power else (energy / (minutes / 60) if minutes else 0.0)
        sample: dict[str, Any] = {"timestamp": iso(t), "kwh_total": round(kwh, 6), "power_kw": p}
        if current:
            sample["current_a"] = current[i]
        samples.append(sample)
        t = t + timedelta(minutes=minutes)
        kwh += energy
    samples.append({"timestamp": iso(t), "kwh_total": round(kwh, 6), "power_kw": 0.0})
    out: dict[str, Any] = {"start_date_time": iso(start), "end_date_time": iso(t), "meter_samples": samples}
    if reservation:
        out["reservation"] = reservation
    return out


def case(tariff_: dict, tz: str, session_: dict) -> dict[str, Any]:
    return {"tariff": tariff_, "location_time_zone": tz, "session": session_}
