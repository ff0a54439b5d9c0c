"""Sessions and CDRs in OCPI 2.2.1: the model's form without the 2.3.0 tax lists, a 2.3.0 token
type said as 2.2.1 says it, and the tariffs a CDR carries as 2.2.1 tariffs."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping, same
from evroam.ocpi.mappings.v2_2_1.prices import costs_out
from evroam.ocpi.mappings.v2_2_1.tariffs import tariff_out
from evroam.ocpi.mappings.v2_2_1.tokens import cdr_token_out


def session_out(session: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return cdr_token_out(costs_out(session))


def cdr_out(cdr: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = cdr_token_out(costs_out(cdr))
    if "tariffs" in out:
        tariffs = []
        for tariff in out["tariffs"]:
            try:
                tariffs.append(tariff_out(tariff))
            except CannotSay:
                continue  # the CDR's costs are what was billed; a tariff it cannot say is left out
        out["tariffs"] = tariffs
    return out


SESSION = ObjectMapping(same, session_out)
SESSION_PATCH = ObjectMapping(same, session_out)
CDR = ObjectMapping(same, cdr_out)
MARKERS = (b'"taxes"', b'"EMAID"', b'"tax_included"', b'"preauthorize_amount"')
