"""Tariffs in OCPI 2.1.1: no owner fields, no `type`, no minimum or maximum price, no validity
period, no VAT (prices exclude it), no current or reservation restrictions; PATCH exists.

What a 2.1.1 partner reads must never give a wrong price, so a tariff whose price depends on
something 2.1.1 cannot say is not sent at all (`refusals` says why; `evroam tariff lint` and
the partner view show it): prices including taxes, a minimum or maximum price, a validity
period, a type other than REGULAR (2.1.1 applies a connector's tariff to every session), current
or reservation restrictions. VAT rates are left out: the prices stay the same, excluding VAT."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping
from evroam.ocpi.mappings.v2_1_1.common import energy_mix_in, energy_mix_out

TARIFF_FIELDS = ("id", "currency", "tariff_alt_text", "tariff_alt_url", "elements", "energy_mix", "last_updated")
RESTRICTION_FIELDS = ("start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh", "min_power",
                      "max_power", "min_duration", "max_duration", "day_of_week")


def refusals(tariff: dict[str, Any]) -> list[str]:
    """Why a tariff cannot be said in OCPI 2.1.1 without a wrong price (empty: it can)."""
    reasons = []
    if tariff.get("tax_included") == "YES":
        reasons.append("its prices include taxes (tax_included YES); 2.1.1 prices exclude VAT")
    if tariff.get("type") not in (None, "REGULAR"):
        reasons.append(f"it is a {tariff['type']} tariff; 2.1.1 has no tariff types and would apply it to every "
                       "session")
    for key in ("min_price", "max_price"):
        if tariff.get(key) is not None:
            reasons.append(f"it has a {key.replace('_', ' ')}; 2.1.1 has none, so its partners would bill otherwise")
    if tariff.get("start_date_time") or tariff.get("end_date_time"):
        reasons.append("it is valid for a limited period (start_date_time/end_date_time); 2.1.1 cannot say so")
    for i, element in enumerate(tariff.get("elements") or ()):
        r = element.get("restrictions") or {}
        for key in ("min_current", "max_current", "reservation"):
            if r.get(key) is not None:
                reasons.append(f"elements[{i}] is restricted by {key}, which 2.1.1 does not have")
    return reasons


def _element_out(element: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": [
        {k: v for k, v in pc.items() if k != "vat"} for pc in element.get("price_components") or ()]}
    if element.get("restrictions") is not None:
        out["restrictions"] = {k: v for k, v in element["restrictions"].items() if k in RESTRICTION_FIELDS}
    return out


def tariff_out(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    reasons = refusals(tariff)
    if reasons:
        raise CannotSay(f"tariff {tariff.get('id')!r} cannot be said in OCPI 2.1.1: " + "; ".join(reasons))
    out: dict[str, Any] = {}
    for key in TARIFF_FIELDS:
        if key not in tariff:
            continue
        value = tariff[key]
        if key == "elements":
            value = [_element_out(e) for e in value]
        elif key == "energy_mix":
            value = energy_mix_out(value)
        out[key] = value
    return out


def tariff_in(tariff: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ctx.owner is not None:
        out["country_code"], out["party_id"] = ctx.owner
    for key, value in tariff.items():
        if key in ("country_code", "party_id"):
            continue
        out[key] = energy_mix_in(value) if key == "energy_mix" else value
    return out


def tariff_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = {k: v for k, v in tariff_in(patch, Context()).items()}
    if "last_updated" not in out and ctx.now:
        out["last_updated"] = ctx.now
    return out


TARIFF = ObjectMapping(tariff_in, tariff_out)
TARIFF_PATCH = ObjectMapping(tariff_patch_in, lambda patch, ctx: {k: v for k, v in patch.items()
                                                                   if k in TARIFF_FIELDS})
