"""Tariffs in OCPI 2.3.0: `min_price`/`max_price` are PriceLimits, and `tax_included` is
required.

A tariff of the model without `tax_included` is a 2.2.1 tariff: its prices exclude VAT and a
component without `vat` has none. It is said with N/A ("no tax applies") when no component
names a VAT rate, else with NO, a component without a rate then saying 0 %. Inbound, the
`tax_included` that says exactly that (NO with a rate on every component, N/A with none) is
read as the model's 2.2.1 form, so a tariff goes through 2.3.0 and back unchanged."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping
from evroam.ocpi.mappings.v2_3_0.prices import limit_in, limit_out


def _components(tariff: dict[str, Any]) -> list[dict[str, Any]]:
    return [pc for el in tariff.get("elements") or () if isinstance(el, dict)
            for pc in el.get("price_components") or () if isinstance(pc, dict)]


def tariff_in(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = dict(tariff)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = limit_in(out[key])
    rates = [pc.get("vat") is not None for pc in _components(out)]
    if (out.get("tax_included") == "NO" and rates and all(rates)) or \
            (out.get("tax_included") == "N/A" and not any(rates)):
        del out["tax_included"]
    return out


def tariff_out(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = dict(tariff)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = limit_out(out[key])
    if out.get("tax_included") is None:
        rates = [pc.get("vat") is not None for pc in _components(out)]
        out["tax_included"] = "NO" if any(rates) else "N/A"
        if any(rates) and not all(rates):
            out["elements"] = [
                {**el, "price_components": [pc if pc.get("vat") is not None else {**pc, "vat": 0.0}
                                            for pc in el.get("price_components") or ()]}
                for el in out.get("elements") or ()]
    return out


TARIFF = ObjectMapping(tariff_in, tariff_out)
