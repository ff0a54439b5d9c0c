"""Tariffs in OCPI 2.3.0: `min_price`/`max_price` are PriceLimits, and `tax_included` is
required. A tariff of the model without it is a 2.2.1 tariff: its prices exclude VAT, so it
is said with NO when a component names a VAT rate and with N/A ("no tax applies", 2.2.1's
reading of a tariff without any `vat`) otherwise."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping
from evroam.ocpi.mappings.v2_3_0.prices import limit_in, limit_out


def tariff_in(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = dict(tariff)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = limit_in(out[key])
    return out


def tariff_out(tariff: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = dict(tariff)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = limit_out(out[key])
    if out.get("tax_included") is None:
        with_vat = any(pc.get("vat") is not None for el in out.get("elements") or ()
                       for pc in el.get("price_components") or ())
        out["tax_included"] = "NO" if with_vat else "N/A"
    return out


TARIFF = ObjectMapping(tariff_in, tariff_out)
