"""How an outbox message is said to its partner: the request in the partner's OCPI version (the
body mapped at delivery, never when enqueued, so a partner that re-registers on another version
gets its waiting pushes in the new one) and the party it is addressed to (routing headers).

Addressing (`OCPI-to-*`, from 2.2; never on versions, credentials or hubclientinfo):
- a Session or CDR goes to the eMSP party of its token;
- through a hub, our own objects every party may read (locations, tariffs, tokens) are broadcast
  (addressed to the hub itself), and results posted to a `response_url` are left to the hub to
  route (open routing: no `OCPI-to-*`);
- otherwise to the partner's party in the role that receives the module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from evroam.model.partners import Partner
from evroam.ocpi import registry, wire
from evroam.ocpi.mappings import base
from evroam.store.outbox import OutboxMessage

if TYPE_CHECKING:
    from evroam.app import Platform

#: the role of the party that receives our pushes of a module
RECEIVING_ROLE = {"locations": "EMSP", "tariffs": "EMSP", "sessions": "EMSP", "cdrs": "EMSP", "tokens": "CPO",
                  "commands": "EMSP", "chargingprofiles": "EMSP", "payments": "PTP"}
BROADCAST = frozenset({"locations", "tariffs", "tokens"})


def is_absolute(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def push_kind(module: str, method: str, path: str) -> str | None:
    """The kind of object a push carries (None: nothing to map)."""
    if module == "locations":
        depth = path.split("?", 1)[0].strip("/").count("/")
        kinds = {2: (base.LOCATION, base.LOCATION_PATCH), 3: (base.EVSE, base.EVSE_PATCH),
                 4: (base.CONNECTOR, base.CONNECTOR_PATCH)}.get(depth)
        return None if kinds is None else kinds[method == "PATCH"]
    if module == "tariffs":
        return base.TARIFF if method == "PUT" else None
    if module == "sessions":
        return base.SESSION_PATCH if method == "PATCH" else base.SESSION
    if module == "cdrs":
        return base.CDR
    if module == "tokens":
        return base.TOKEN
    if module == "commands" and is_absolute(path):
        return base.COMMAND_RESULT
    if module == "payments":  # to a PTP: a Terminal (PUT, or POST .../activate), its assignment (PATCH)
        if path.rstrip("/").endswith("/deactivate"):
            return None
        return base.TERMINAL_PATCH if method == "PATCH" else base.TERMINAL
    return None


@dataclass
class Said:
    method: str
    url: str
    body: Any  # JSON-ready, or None
    to_party: tuple[str, str] | None


async def say(platform: Platform, message: OutboxMessage, partner: Partner, base_url: str | None) -> Said:
    """The request that delivers `message` to `partner` (CannotSay when its version cannot say it).
    `base_url`: the partner's endpoint of the message's module (None for an absolute path)."""
    version = registry.get(partner.version)
    body = orjson.loads(message.body) if message.body is not None else None
    s = platform.settings
    ctx = wire.context(platform, owner=(s.country_code, s.party_id))
    kind = push_kind(message.module, message.method, message.path)
    method, path, body = await version.mapping.push(kind, message.method, message.path, body, ctx)
    if is_absolute(path):
        url = path
    elif path:
        url = (base_url or "").rstrip("/") + path
    else:  # e.g. POST of a CDR: to the endpoint URL exactly as the partner gave it
        url = base_url or ""
    return Said(method, url, body, address(partner, message.module, message.path, body, version))


def address(partner: Partner, module: str, path: str, body: Any, version: registry.OcpiVersion
            ) -> tuple[str, str] | None:
    """The party a push is addressed to (None: no OCPI-to-* headers)."""
    if not version.routing_headers:
        return None
    hub = partner.hub_party()
    token = body.get("cdr_token") if isinstance(body, dict) else None
    if module in ("sessions", "cdrs") and isinstance(token, dict) and token.get("country_code"):
        return token["country_code"], token["party_id"]
    if hub is not None:
        if module in BROADCAST:
            return hub
        if is_absolute(path):
            return None  # open routing: the hub knows where the response_url leads
    parties = partner.parties(RECEIVING_ROLE.get(module)) or partner.parties()
    return parties[0] if parties else hub
