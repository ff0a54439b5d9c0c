"""The payments module (2.3.0 only): a Terminal is in the model's form as it is; a
FinancialAdviceConfirmation's `total_costs` is a 2.3.0 Price (`before_taxes`, `taxes`), read into
the model's Price like every cost (prices.py) and said back in the 2.3.0 form.

The specification's FAC examples give `total_costs` as a 2.2.1 Price (`excl_vat`, `incl_vat`),
against the 2.3.0 Price class they point to: that form is read too (it is the model's), and said
back as a 2.3.0 Price."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping, same
from evroam.ocpi.mappings.v2_3_0.prices import price_in, price_out


def fac_in(fac: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if "total_costs" not in fac:
        return fac
    return {**fac, "total_costs": price_in(fac["total_costs"])}


def fac_out(fac: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if "total_costs" not in fac:
        return fac
    return {**fac, "total_costs": price_out(fac["total_costs"])}


TERMINAL = ObjectMapping(same, same)
TERMINAL_PATCH = ObjectMapping(same, same)
FINANCIAL_ADVICE = ObjectMapping(fac_in, fac_out)
