"""Credentials and version details in OCPI 2.1.1.

Credentials name one party (`country_code`, `party_id`, `business_details`) and no roles: what a
2.1.1 partner plays follows from its endpoints. A 2.1.1 platform that is CPO and eMSP at once
lists each module twice, once per role; endpoints have no interface role, so each is read by the
/cpo/ or /emsp/ in its URL (as ours are written), else as the only role the partner can play
with us. Inbound, the party gets one model role per role found (`ctx.hints["roles"]`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from evroam.ocpi.mappings.base import Context, ObjectMapping

#: the interface role of a module's endpoint, by the role of the party offering it
SIDES = {
    "CPO": {"locations": "SENDER", "tariffs": "SENDER", "sessions": "SENDER", "cdrs": "SENDER",
            "tokens": "RECEIVER", "commands": "RECEIVER", "credentials": "SENDER"},
    "EMSP": {"locations": "RECEIVER", "tariffs": "RECEIVER", "sessions": "RECEIVER", "cdrs": "RECEIVER",
             "tokens": "SENDER", "commands": "SENDER", "credentials": "SENDER"},
}


def credentials_out(credentials: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    roles = credentials.get("roles") or [{}]
    first = roles[0]
    return {"token": credentials.get("token"), "url": credentials.get("url"),
            "business_details": first.get("business_details") or {"name": first.get("party_id", "")},
            "party_id": first.get("party_id"), "country_code": first.get("country_code")}


def credentials_in(credentials: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = {k: v for k, v in credentials.items() if k in ("token", "url")}
    if "roles" in credentials:  # a 2.2 form sent to our 2.1.1 endpoint: taken as it is
        out["roles"] = credentials["roles"]
        return out
    party = {k: credentials.get(k) for k in ("business_details", "party_id", "country_code")}
    out["roles"] = [{"role": role, **party} for role in ctx.hints.get("roles") or ("CPO",)]
    return out


def _side(url: str) -> str | None:
    segments = [s.lower() for s in urlsplit(str(url)).path.split("/")]
    if "cpo" in segments:
        return "CPO"
    if "emsp" in segments or "msp" in segments:
        return "EMSP"
    return None


def version_details_in(details: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The endpoints with their interface roles, and (`roles`) the roles the partner plays:
    read from the endpoints' URLs, else the counterpart of our roles (`ctx.hints["our_roles"]`;
    a CPO when we are both and the URLs do not say)."""
    endpoints = [e for e in details.get("endpoints") or () if isinstance(e, dict)]
    sides = {_side(e.get("url", "")) for e in endpoints} - {None}
    if not sides:
        ours = set(ctx.hints.get("our_roles") or ())
        sides = {"EMSP"} if ours == {"CPO"} else {"CPO"}
    out = []
    for e in endpoints:
        side = _side(e.get("url", "")) or (next(iter(sides)) if len(sides) == 1 else "CPO")
        if e.get("role"):  # a peer that says it anyway
            out.append({k: e[k] for k in ("identifier", "role", "url") if k in e})
            continue
        role = SIDES[side].get(str(e.get("identifier")))
        out.append({"identifier": e.get("identifier"), **({"role": role} if role else {}), "url": e.get("url")})
    return {**details, "endpoints": out, "roles": sorted(sides)}


def version_details_out(details: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    return {**{k: v for k, v in details.items() if k != "roles"}, "endpoints": [{k: e[k] for k in ("identifier", "url") if k in e}
                                     for e in details.get("endpoints") or ()]}


CREDENTIALS = ObjectMapping(credentials_in, credentials_out)
VERSION_DETAILS = ObjectMapping(version_details_in, version_details_out)
