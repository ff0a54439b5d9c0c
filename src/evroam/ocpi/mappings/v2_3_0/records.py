"""Sessions and CDRs in OCPI 2.3.0: every cost a 2.3.0 Price (see prices.py); the tariffs a CDR
carries as 2.3.0 tariffs."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping
from evroam.ocpi.mappings.v2_3_0.prices import costs_in, costs_out
from evroam.ocpi.mappings.v2_3_0.tariffs import tariff_in, tariff_out


def session_in(session: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return costs_in(session)


def session_out(session: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return costs_out(session)


def cdr_in(cdr: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = costs_in(cdr)
    if isinstance(out.get("tariffs"), list):
        out["tariffs"] = [tariff_in(t) if isinstance(t, dict) else t for t in out["tariffs"]]
    return out


def cdr_out(cdr: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = costs_out(cdr)
    if "tariffs" in out:
        out["tariffs"] = [tariff_out(t) for t in out["tariffs"]]
    return out


SESSION = ObjectMapping(session_in, session_out)
SESSION_PATCH = ObjectMapping(session_in, session_out)
CDR = ObjectMapping(cdr_in, cdr_out)
