"""Credentials in OCPI 2.3.0: the Role HUB is gone; a hub platform lists the parties it reaches
in `roles` and names itself in `hub_party_id` (country code and party id run together, e.g.
NLHUB). The model keeps the hub as a role HUB (as 2.2.1 says it), so a 2.3.0 hub and a 2.2.1
hub are the same kind of partner here."""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import Context, ObjectMapping


def credentials_in(credentials: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = {k: v for k, v in credentials.items() if k != "hub_party_id"}
    hub = credentials.get("hub_party_id")
    if isinstance(hub, str) and len(hub) == 5:
        roles = [r for r in out.get("roles") or [] if isinstance(r, dict)]
        name = next((r.get("business_details") for r in roles if r.get("business_details")), None) or {"name": hub}
        out["roles"] = [*roles, {"role": "HUB", "business_details": name, "party_id": hub[2:],
                                 "country_code": hub[:2]}]
    return out


def credentials_out(credentials: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    roles = credentials.get("roles") or []
    hubs = [r for r in roles if r.get("role") == "HUB"]
    if not hubs:
        return credentials
    out = {**credentials, "roles": [r for r in roles if r.get("role") != "HUB"]}
    out["hub_party_id"] = f"{hubs[0]['country_code']}{hubs[0]['party_id']}"
    return out


CREDENTIALS = ObjectMapping(credentials_in, credentials_out)
