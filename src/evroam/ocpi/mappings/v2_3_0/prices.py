"""Prices in OCPI 2.3.0: `Price {before_taxes, taxes: [TaxAmount]}` for costs and
`PriceLimit {before_taxes, after_taxes}` for a tariff's minimum and maximum.

The model's Price is `{excl_vat, incl_vat, taxes}`: `incl_vat` is `before_taxes` plus the
taxes' amounts, and a 2.3.0 Price keeps its tax list unless it is one tax named VAT with only
its amount (which `incl_vat` says, and which is how a Price without a tax list, from a 2.2.1
partner or our own pricing, is said in 2.3.0: one tax, "VAT", of `incl_vat - excl_vat`)."""

from __future__ import annotations

from typing import Any

COST_FIELDS = ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
               "total_reservation_cost")


def _amount(value: float) -> float:
    return round(value, 4)  # OCPI numbers carry 4 decimals


def price_in(price: Any) -> Any:
    if not isinstance(price, dict) or "before_taxes" not in price:
        return price
    out: dict[str, Any] = {"excl_vat": price["before_taxes"]}
    taxes = price.get("taxes")
    if isinstance(taxes, list):
        try:
            out["incl_vat"] = _amount(price["before_taxes"] + sum(t["amount"] for t in taxes))
        except (TypeError, KeyError):
            pass  # not numbers: the model's validation names the field
        if taxes and not _plain_vat(taxes):
            out["taxes"] = taxes  # what `incl_vat` alone cannot say (several taxes, rates, accounts)
    return out


def _plain_vat(taxes: list[Any]) -> bool:
    """One tax named VAT with only its amount: what `incl_vat` says (and how it is said back)."""
    return len(taxes) == 1 and isinstance(taxes[0], dict) and set(taxes[0]) == {"name", "amount"} \
        and taxes[0]["name"] == "VAT"


def price_out(price: Any) -> Any:
    if not isinstance(price, dict) or "excl_vat" not in price:
        return price
    out: dict[str, Any] = {"before_taxes": price["excl_vat"]}
    if price.get("taxes"):
        out["taxes"] = price["taxes"]
    elif price.get("incl_vat") is not None:
        out["taxes"] = [{"name": "VAT", "amount": _amount(price["incl_vat"] - price["excl_vat"])}]
    return out


def limit_in(limit: Any) -> Any:
    if not isinstance(limit, dict) or "before_taxes" not in limit:
        return limit
    out = {"excl_vat": limit["before_taxes"]}
    if limit.get("after_taxes") is not None:
        out["incl_vat"] = limit["after_taxes"]
    return out


def limit_out(limit: Any) -> Any:
    if not isinstance(limit, dict) or "excl_vat" not in limit:
        return limit
    out = {"before_taxes": limit["excl_vat"]}
    if limit.get("incl_vat") is not None:
        out["after_taxes"] = limit["incl_vat"]
    return out


def costs_in(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key in COST_FIELDS:
        if key in out:
            out[key] = price_in(out[key])
    return out


def costs_out(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key in COST_FIELDS:
        if key in out:
            out[key] = price_out(out[key])
    return out
