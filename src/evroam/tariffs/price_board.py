"""The price an ad-hoc driver pays, shown as AFIR (Regulation (EU) 2023/1804, art. 5) asks: the
price per kWh, per minute and per session, VAT included, before charging starts.

From an OCPI tariff: one row per tariff element (with when it applies), each price with VAT
(`price x (1 + vat / 100)`, or as given when the tariff says its prices include taxes) and
without. Prices keep the precision the tariff gives (0.275 EUR/kWh stays 0.275); a time price
per hour becomes a price per minute (exact to 6 decimals, trailing zeros dropped)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evroam.tariffs.describe import amount, conditions

_MINUTE = Decimal(60)
_PLACES = Decimal("0.000001")


def _price(value: Any, vat: Any, tax_included: str | None, per_minute: bool = False) -> dict[str, Any]:
    price = Decimal(str(value))
    if per_minute:
        price = price / _MINUTE
    if tax_included == "YES":
        incl, excl = price, None
    else:
        excl = price
        incl = price * (1 + Decimal(str(vat)) / 100) if vat is not None else None
    out: dict[str, Any] = {}
    for key, val in (("incl_vat", incl), ("excl_vat", excl)):
        if val is not None:
            out[key] = amount(val.quantize(_PLACES, rounding=ROUND_HALF_UP))
    if vat is not None:
        out["vat_rate"] = format(Decimal(str(vat)).normalize(), "f")
    return out


def price_board(tariff: dict[str, Any] | None) -> dict[str, Any] | None:
    """{"tariff_id", "currency", "rows": [{"per_kwh", "per_minute", "session_fee",
    "parking_per_minute", "conditions"}], "min_price", "max_price"}; each price
    {"incl_vat", "excl_vat", "vat_rate"} (what the tariff allows saying). None without tariff."""
    if not tariff:
        return None
    tax = tariff.get("tax_included")
    rows = []
    for element in tariff.get("elements") or ():
        row: dict[str, Any] = {"conditions": conditions(element.get("restrictions"))}
        for comp in element.get("price_components") or ():
            kind = comp["type"]
            if kind == "ENERGY":
                row["per_kwh"] = _price(comp["price"], comp.get("vat"), tax)
            elif kind == "TIME":
                row["per_minute"] = _price(comp["price"], comp.get("vat"), tax, per_minute=True)
            elif kind == "FLAT":
                row["session_fee"] = _price(comp["price"], comp.get("vat"), tax)
            elif kind == "PARKING_TIME":
                row["parking_per_minute"] = _price(comp["price"], comp.get("vat"), tax, per_minute=True)
        rows.append(row)
    board: dict[str, Any] = {"tariff_id": tariff.get("id"), "currency": tariff.get("currency"), "rows": rows}
    for key in ("min_price", "max_price"):
        bound = tariff.get(key)
        if bound:
            board[key] = {k: amount(v) for k, v in bound.items() if v is not None}
    return board
