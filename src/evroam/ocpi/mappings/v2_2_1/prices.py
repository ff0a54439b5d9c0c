"""Prices in OCPI 2.2.1: `{excl_vat, incl_vat}`, without the 2.3.0 tax list the model may hold."""

from __future__ import annotations

from typing import Any

COST_FIELDS = ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
               "total_reservation_cost")


def price_out(price: Any) -> Any:
    if isinstance(price, dict) and "taxes" in price:
        return {k: v for k, v in price.items() if k != "taxes"}
    return price


def costs_out(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key in COST_FIELDS:
        if key in out:
            out[key] = price_out(out[key])
    return out
