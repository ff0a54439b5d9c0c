"""Version negotiation of the credentials handshake, and the credentials objects of each version.

The party that starts reads the other's versions and picks the highest both speak (or the one
an operator forces: `partners register --version`); a partner registering with us picks the
version by the credentials URL it calls (`/ocpi/{version}/credentials`). The chosen version's
details give the partner's endpoints; a 2.1.1 partner's endpoints carry no interface role and
its credentials name one party without roles: both are read through the 2.1.1 mapping, which
tells the roles apart (see mappings/v2_1_1/credentials.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evroam.ocpi import registry
from evroam.ocpi.mappings import Context, base
from evroam.ocpi.transport import status
from evroam.ocpi.transport.auth import BASE64, PLAIN
from evroam.ocpi.transport.errors import PartnerCallError

if TYPE_CHECKING:
    from evroam.app import Platform

# Modules that make a partner useful to us; a partner offering none of them gets 3003.
USEFUL_MODULES = {"locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles",
                  "hubclientinfo", "payments"}


class HandshakeError(Exception):
    def __init__(self, message: str, ocpi_status: int) -> None:
        super().__init__(message)
        self.message = message
        self.ocpi_status = ocpi_status


@dataclass
class Negotiated:
    version: str
    version_url: str
    endpoints: list[dict[str, Any]]
    encoding: str
    # the roles the partner plays as its endpoints say (2.1.1, whose credentials do not)
    party_roles: list[str] = field(default_factory=list)


def new_token() -> str:
    """A fresh credentials token: 43 URL-safe characters (OCPI allows up to 64 printable)."""
    return secrets.token_urlsafe(32)


def our_credentials_model(platform: Platform, token: str) -> dict[str, Any]:
    s = platform.settings
    business: dict[str, Any] = {"name": s.business_name}
    if s.business_website:
        business["website"] = s.business_website
    return {
        "token": token,
        "url": s.versions_url,
        "roles": [
            {"role": role, "business_details": business, "party_id": s.party_id, "country_code": s.country_code}
            for role in s.roles
        ],
    }


async def our_credentials(platform: Platform, token: str, version: str) -> dict[str, Any]:
    """Our Credentials object in `version`'s form."""
    return await registry.get(version).mapping.outbound(base.CREDENTIALS, our_credentials_model(platform, token))


async def their_credentials(raw: dict[str, Any], version: str, party_roles: list[str] | None) -> dict[str, Any]:
    """A partner's Credentials object of `version` in the model's form (with `roles`)."""
    ctx = Context(hints={"roles": party_roles or ["CPO"]})
    return await registry.get(version).mapping.inbound(base.CREDENTIALS, raw, ctx)


async def negotiate(platform: Platform, versions_url: str, token: str, encoding: str | None,
                    prefer: str | None = None, version: str | None = None) -> Negotiated:
    """Read the partner's versions, pick the highest version we both speak (or `version`, which
    both must speak), read its endpoints. `prefer`: the token encoding to try first when
    `encoding` is not known yet."""
    client = platform.ocpi
    try:
        reply = await _versions(client, versions_url, token, encoding, prefer)
    except PartnerCallError as exc:
        raise HandshakeError(f"could not read the partner's versions at {versions_url}: {exc}",
                             status.UNABLE_TO_USE_CLIENT_API) from exc
    theirs = {}
    for item in reply.data or []:
        if isinstance(item, dict) and "version" in item and "url" in item:
            theirs[str(item["version"])] = item["url"]
    ours = registry.offered(platform.settings)
    if version is not None:
        if version not in ours:
            raise HandshakeError(f"OCPI {version} is not offered here (offered: {', '.join(ours)})",
                                 status.UNSUPPORTED_VERSION)
        if version not in theirs:
            raise HandshakeError(f"the partner does not offer OCPI {version} (it offers {sorted(theirs) or 'none'})",
                                 status.UNSUPPORTED_VERSION)
        mutual = [version]
    else:
        mutual = [v for v in ours if v in theirs]
    if not mutual:
        raise HandshakeError(
            f"no OCPI version in common: the partner offers {sorted(theirs) or 'none'}, we offer {ours}",
            status.UNSUPPORTED_VERSION,
        )
    chosen = mutual[0]
    fixed = registry.get(chosen).token_encoding  # 2.1.1: the token as it is, whatever versions took
    try:
        details = await client.call("GET", theirs[chosen], token=token, encoding=fixed, prefer=reply.encoding)
    except PartnerCallError as exc:
        raise HandshakeError(f"could not read the partner's {chosen} endpoints: {exc}",
                             status.UNABLE_TO_USE_CLIENT_API) from exc
    data = details.data if isinstance(details.data, dict) else {}
    if not isinstance(data.get("endpoints"), list):
        raise HandshakeError("the partner's version details have no endpoints list", status.UNABLE_TO_USE_CLIENT_API)
    read = await registry.get(chosen).mapping.inbound(
        base.VERSION_DETAILS, data, Context(hints={"our_roles": list(platform.settings.roles)}))
    endpoints = [
        {k: ep[k] for k in ("identifier", "role", "url") if k in ep}
        for ep in read["endpoints"]
        if isinstance(ep, dict) and "identifier" in ep and "url" in ep
    ]
    if not any(ep["identifier"] in USEFUL_MODULES for ep in endpoints):
        raise HandshakeError("the partner offers no module we can work with (only versions/credentials)",
                             status.NO_MATCHING_ENDPOINTS)
    encoding = fixed or details.encoding
    return Negotiated(chosen, theirs[chosen], endpoints, encoding, list(read.get("roles") or []))


async def _versions(client, url: str, token: str, encoding: str | None, prefer: str | None):
    """GET the partner's versions. While the token's encoding is not known, an error answer to
    one encoding (not only a 401: some peers answer a token they cannot decode with an error
    envelope) is followed by one try with the other."""
    try:
        return await client.call("GET", url, token=token, encoding=encoding, prefer=prefer)
    except PartnerCallError as exc:
        if encoding is not None or exc.http_status == 401:
            raise
        other = BASE64 if prefer == PLAIN else PLAIN
        try:
            return await client.call("GET", url, token=token, encoding=other)
        except PartnerCallError:
            raise exc from None


def credentials_url(negotiated: Negotiated) -> str:
    for ep in negotiated.endpoints:
        if ep["identifier"] == "credentials":
            return ep["url"]
    raise RuntimeError("the partner offers no credentials endpoint")
