"""A tariff in words, for drivers and operators: one sentence per tariff element ("0.25 EUR per
kWh, 0.50 EUR per session, from 20:00 to 07:00"), prices with VAT when the tariff gives it, and
the minimum and maximum price. The CPO's own alternative text (`tariff_alt_text`) is passed on
beside it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


def amount(value: Any) -> str:
    """A price as written on a price board: at least two decimals, more only when present."""
    d = Decimal(str(value))
    if d == d.quantize(Decimal("0.01")):
        return str(d.quantize(Decimal("0.01")))
    return format(d.normalize(), "f")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _number(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def _component(comp: dict[str, Any], currency: str, tax_included: str | None) -> str:
    price = Decimal(str(comp["price"]))
    vat = comp.get("vat")
    if vat is not None and tax_included != "YES":
        with_vat = price * (1 + Decimal(str(vat)) / 100)
        text = f"{amount(with_vat.quantize(Decimal('0.0001')))} {currency}"
        suffix = f" (incl. {_number(vat)}% VAT)"
    else:
        text = f"{amount(price)} {currency}"
        suffix = " (incl. VAT)" if tax_included == "YES" else " (excl. VAT)" if vat is None and price else ""
    step = int(comp.get("step_size") or 0)
    kind = comp["type"]
    if kind == "ENERGY":
        text += " per kWh"
        if step > 1:
            text += f", billed per {_number(step / 1000)} kWh"
    elif kind == "FLAT":
        text += " per session"
    elif kind == "TIME":
        text += " per hour charging"
        if step > 1:
            text += f", billed per {_duration(step)}"
    elif kind == "PARKING_TIME":
        text += " per hour parked without charging"
        if step > 1:
            text += f", billed per {_duration(step)}"
    return text + suffix


def _days(days: list[str]) -> str:
    ordered = [d for d in _DAYS if d in days]
    if ordered == _DAYS[:5]:
        return "on weekdays"
    if ordered == _DAYS[5:]:
        return "at weekends"
    return "on " + ", ".join(d.capitalize() for d in ordered)


def _restrictions(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    out = []
    if r.get("start_time") and r.get("end_time"):
        out.append(f"from {r['start_time']} to {r['end_time']}")
    elif r.get("start_time"):
        out.append(f"from {r['start_time']}")
    elif r.get("end_time"):
        out.append(f"until {r['end_time']}")
    if r.get("day_of_week"):
        out.append(_days(r["day_of_week"]))
    if r.get("start_date"):
        out.append(f"from {r['start_date']}")
    if r.get("end_date"):
        out.append(f"before {r['end_date']}")
    if r.get("min_kwh") is not None:
        out.append(f"after the first {_number(r['min_kwh'])} kWh")
    if r.get("max_kwh") is not None:
        out.append(f"for the first {_number(r['max_kwh'])} kWh")
    if r.get("min_duration") is not None:
        out.append(f"after the first {_duration(r['min_duration'])}")
    if r.get("max_duration") is not None:
        out.append(f"during the first {_duration(r['max_duration'])}")
    if r.get("min_power") is not None:
        out.append(f"when charging at {_number(r['min_power'])} kW or more")
    if r.get("max_power") is not None:
        out.append(f"when charging below {_number(r['max_power'])} kW")
    if r.get("min_current") is not None:
        out.append(f"at {_number(r['min_current'])} A or more")
    if r.get("max_current") is not None:
        out.append(f"below {_number(r['max_current'])} A")
    if r.get("reservation") == "RESERVATION":
        out.append("while reserved")
    elif r.get("reservation") == "RESERVATION_EXPIRES":
        out.append("when a reservation expires")
    return out


def describe_tariff(tariff: dict[str, Any]) -> dict[str, Any]:
    """{"id", "currency", "lines": [one sentence per element, then min/max price], "text": the
    lines joined, "alt_text": the CPO's tariff_alt_text (may be empty)}."""
    currency = tariff.get("currency", "")
    tax = tariff.get("tax_included")
    lines = []
    for element in tariff.get("elements") or ():
        parts = [_component(c, currency, tax) for c in element.get("price_components") or ()]
        sentence = ", ".join(parts)
        conditions = _restrictions(element.get("restrictions"))
        if conditions:
            sentence += " — " + ", ".join(conditions)
        lines.append(sentence[:1].upper() + sentence[1:])
    for key, word in (("min_price", "At least"), ("max_price", "At most")):
        bound = tariff.get(key)
        if bound:
            value = bound.get("incl_vat") if bound.get("incl_vat") is not None else bound.get("excl_vat")
            vat = "incl." if bound.get("incl_vat") is not None else "excl."
            lines.append(f"{word} {amount(value)} {currency} per session ({vat} VAT)")
    return {"id": tariff.get("id"), "currency": currency, "lines": lines, "text": "; ".join(lines),
            "alt_text": tariff.get("tariff_alt_text") or []}


def conditions(restrictions: dict[str, Any] | None) -> list[str]:
    """When a tariff element applies, in words ("from 20:00 to 07:00", "on weekdays" ...)."""
    return _restrictions(restrictions)
