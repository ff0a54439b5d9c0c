"""Tariffs in OCPI 2.2.1: prices are excluding VAT. A tariff whose prices include taxes (2.3.0
`tax_included` YES) cannot be said; `tax_included` NO or N/A and `preauthorize_amount` are
left out (2.2.1: a component without `vat` has no VAT)."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping, same

ONLY_2_3 = ("tax_included", "preauthorize_amount")
MARKERS = (b'"tax_included"', b'"preauthorize_amount"', b'"taxes"')


def refusals(tariff: dict[str, Any]) -> list[str]:
    if tariff.get("tax_included") == "YES":
        return ["its prices include taxes (tax_included YES): OCPI 2.2.1 prices exclude VAT"]
    return []


def tariff_out(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    reasons = refusals(tariff)
    if reasons:
        raise CannotSay(f"tariff {tariff.get('id')!r}: " + "; ".join(reasons))
    out = {k: v for k, v in tariff.items() if k not in ONLY_2_3}
    for key in ("min_price", "max_price"):
        if isinstance(out.get(key), dict) and "taxes" in out[key]:
            out[key] = {k: v for k, v in out[key].items() if k != "taxes"}
    return out


TARIFF = ObjectMapping(same, tariff_out)
