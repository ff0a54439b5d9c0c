"""A subscription plan applied to a driver's monthly invoice lines (services/invoices.py).

A plan has a monthly fee (excl. VAT, at its `vat_rate`), included kWh, and either its own price
per kWh (excl. VAT, at `vat_rate`) or a discount on the CDRs' prices (or neither: only the included
kWh and the fee). For the CDRs in the plan's currency, in the order they ended:

- the included kWh cover the first kWh of the month: a line's `included_kwh` are free, the rest
  (`billed_kwh`) is billed;
- with a price per kWh: excl. VAT = billed_kwh x price, incl. VAT = billed_kwh x price x (1 +
  vat_rate / 100), each rounded half up to the cent, VAT the difference;
- otherwise: the CDR's amounts x (billed_kwh / kWh) x (1 - discount / 100), each to the cent;
- a Credit CDR refunds the same way (its kWh at the plan's price, or its amounts with the
  discount), without giving included kWh back.

The CDR's own amounts stay on the line (`cdr_excl_vat`, `cdr_incl_vat`); the fee is a line of its
own. Lines in other currencies are left as they are. Totals remain the sums of the lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evroam.store.plans import PlanRecord

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(excl: Decimal, vat: Decimal) -> str | None:
    return str((vat / excl * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) if excl != 0 else None


def fee_line(plan: PlanRecord, period_start: str, party: str) -> dict[str, Any]:
    excl = _cents(Decimal(plan.monthly_fee))
    incl = _cents(Decimal(plan.monthly_fee) * (1 + Decimal(plan.vat_rate) / 100))
    return {"cdr_id": f"PLAN-{plan.id}", "cpo": party, "start_date_time": period_start,
            "end_date_time": period_start, "location": f"{plan.name}: monthly fee", "evse_id": None,
            "energy_kwh": "0.000", "currency": plan.currency, "excl_vat": str(excl), "vat": str(incl - excl),
            "vat_rate": _rate(excl, incl - excl), "incl_vat": str(incl), "vat_known": True, "credit": False,
            "kind": "subscription_fee", "plan": plan.id}


def apply_plan(plan: PlanRecord, lines: list[dict[str, Any]], *, period_start: str,
               party: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the lines with the plan applied, fee line first; what the plan did)."""
    remaining = Decimal(plan.included_kwh)
    price = Decimal(plan.price_per_kwh) if plan.price_per_kwh is not None else None
    keep = 1 - Decimal(plan.discount_percent or 0) / 100
    vat_factor = 1 + Decimal(plan.vat_rate) / 100
    out = [fee_line(plan, period_start, party)]
    used = Decimal(0)
    for ln in lines:
        if ln["currency"] != plan.currency:
            out.append(ln)
            continue
        kwh = abs(Decimal(ln["energy_kwh"]))
        covered = Decimal(0) if ln["credit"] else min(remaining, kwh)
        remaining -= covered
        used += covered
        billed = kwh - covered
        sign = -1 if ln["credit"] else 1
        if price is not None:
            excl = sign * _cents(billed * price)
            incl = sign * _cents(billed * price * vat_factor)
        else:
            share = (billed / kwh) if kwh else Decimal(1)
            excl = _cents(Decimal(ln["excl_vat"]) * share * keep)
            incl = _cents(Decimal(ln["incl_vat"]) * share * keep)
        out.append({**ln, "cdr_excl_vat": ln["excl_vat"], "cdr_incl_vat": ln["incl_vat"],
                    "included_kwh": str(covered.quantize(Decimal("0.001"))),
                    "billed_kwh": str(billed.quantize(Decimal("0.001"))), "plan": plan.id,
                    "excl_vat": str(excl), "vat": str(incl - excl), "incl_vat": str(incl),
                    "vat_rate": _rate(excl, incl - excl), "vat_known": True})
    summary = {"id": plan.id, "name": plan.name, "currency": plan.currency, "monthly_fee": plan.monthly_fee,
               "vat_rate": plan.vat_rate, "included_kwh": plan.included_kwh,
               "used_included_kwh": str(used.quantize(Decimal("0.001"))), "price_per_kwh": plan.price_per_kwh,
               "discount_percent": plan.discount_percent}
    return out, summary
