"""The credentials handshake, both ways (OCPI 2.2.1 credentials module).

- They register with us: `accept(...)` on POST (token A) and PUT (token C) to our credentials.
- We register with them: `register_with(...)` with the token A they gave us.
- Either side can rotate (`update_with`) or end (`unregister_with`) the registration.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evroam.model.partners import Partner, PartnerStatus, party_of
from evroam.ocpi.transport import status
from evroam.ocpi.transport.errors import OcpiError, PartnerCallError, invalid

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

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


def new_token() -> str:
    """A fresh credentials token: 43 URL-safe characters (OCPI allows up to 64 printable)."""
    return secrets.token_urlsafe(32)


def our_credentials(platform: Platform, token: str) -> dict[str, Any]:
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


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


async def negotiate(platform: Platform, versions_url: str, token: str, encoding: str | None,
                    prefer: str | None = None) -> Negotiated:
    """Read the partner's versions, pick the highest version we both speak, read its endpoints.
    `prefer`: the token encoding to try first when `encoding` is not known yet."""
    client = platform.ocpi
    try:
        reply = await client.call("GET", versions_url, token=token, encoding=encoding, prefer=prefer)
    except PartnerCallError as exc:
        raise HandshakeError(f"could not read the partner's versions at {versions_url}: {exc}",
                             status.UNABLE_TO_USE_CLIENT_API) from exc
    theirs = {}
    for item in reply.data or []:
        if isinstance(item, dict) and "version" in item and "url" in item:
            theirs[str(item["version"])] = item["url"]
    mutual = sorted((v for v in platform.settings.ocpi_versions if v in theirs), key=_version_key, reverse=True)
    if not mutual:
        raise HandshakeError(
            f"no OCPI version in common: the partner offers {sorted(theirs) or 'none'}, "
            f"we offer {platform.settings.ocpi_versions}",
            status.UNSUPPORTED_VERSION,
        )
    version = mutual[0]
    try:
        details = await client.call("GET", theirs[version], token=token, encoding=reply.encoding)
    except PartnerCallError as exc:
        raise HandshakeError(f"could not read the partner's {version} endpoints: {exc}",
                             status.UNABLE_TO_USE_CLIENT_API) from exc
    endpoints = (details.data or {}).get("endpoints") if isinstance(details.data, dict) else None
    if not isinstance(endpoints, list):
        raise HandshakeError("the partner's version details have no endpoints list", status.UNABLE_TO_USE_CLIENT_API)
    endpoints = [
        {k: ep[k] for k in ("identifier", "role", "url") if k in ep}
        for ep in endpoints
        if isinstance(ep, dict) and "identifier" in ep and "url" in ep
    ]
    if not any(ep["identifier"] in USEFUL_MODULES for ep in endpoints):
        raise HandshakeError("the partner offers no module we can work with (only versions/credentials)",
                             status.NO_MATCHING_ENDPOINTS)
    return Negotiated(version, theirs[version], endpoints, reply.encoding)


def _roles_from(credentials: dict[str, Any]) -> list[dict[str, Any]]:
    roles = credentials.get("roles")
    if isinstance(roles, list):
        return [
            {
                "role": r.get("role"),
                "country_code": str(r.get("country_code", "")).upper(),
                "party_id": str(r.get("party_id", "")).upper(),
                "business_details": r.get("business_details") or {},
            }
            for r in roles
            if isinstance(r, dict)
        ]
    return []


async def refused_claim(platform: Platform, partner_pk: int | None, roles: list[dict[str, Any]],
                        conn: Any = None) -> str | None:
    """The first party named by a partner's credentials `roles` that cannot be its own (with the
    reason, in words for the partner and our operator alike), or None when all can: a partner may
    name neither our party nor a party another partner record holds (party ids and country codes
    compare case-insensitively)."""
    s = platform.settings
    ours = (s.country_code.upper(), s.party_id.upper())
    claimed = [party_of(r) for r in roles]
    for cc, pid in claimed:
        if (cc, pid) == ours:
            return f"party {cc}/{pid}, which is our own party ({s.business_name})"
    if conn is None:
        async with platform.store.connect() as conn:
            others = await platform.store.partners.list(conn)
    else:
        others = await platform.store.partners.list(conn)
    held = {party_of(r) for other in others if other.pk != partner_pk for r in other.roles}
    for cc, pid in claimed:
        if (cc, pid) in held:
            return f"party {cc}/{pid}, which another roaming partner registered here already holds"
    return None


# ------------------------------------------------------------------ they register with us


async def accept(platform: Platform, partner: Partner, credentials: dict[str, Any],
                 sent_encoding: str | None = None) -> dict[str, Any]:
    """POST (first registration) or PUT (update) of the partner's credentials to us. Calls the
    partner back with its token (encoded the way the partner encodes the tokens it sends us),
    stores what was negotiated, and returns our credentials with a newly generated token.
    Nothing is changed when the callback fails. Roles naming our party or another partner's are
    refused (2001) before the partner is called back, and nothing is stored."""
    roles = _roles_from(credentials)
    await _refuse_claim(platform, partner, roles)
    try:
        negotiated = await negotiate(platform, credentials["url"], credentials["token"], None, prefer=sent_encoding)
    except HandshakeError as exc:
        await _note_error(platform, partner.pk, exc.message)
        raise OcpiError(exc.message, ocpi_status=exc.ocpi_status, http_status=200) from None
    our_token = new_token()
    async with platform.store.begin() as conn:
        # again in the transaction that stores them: another partner may have registered meanwhile
        await _refuse_claim(platform, partner, roles, conn)
        await platform.store.partners.update(
            conn, partner.pk,
            status=PartnerStatus.REGISTERED, registration_token=None, token=our_token,
            outgoing_token=credentials["token"], outgoing_encoding=negotiated.encoding,
            version=negotiated.version, versions_url=credentials["url"], version_url=negotiated.version_url,
            roles=roles, endpoints=negotiated.endpoints, last_error=None,
        )
    log.info("partner %s registered with us (OCPI %s)", partner.name, negotiated.version)
    platform.bus.publish("partner.registered", partner_pk=partner.pk)
    return our_credentials(platform, our_token)


async def _refuse_claim(platform: Platform, partner: Partner, roles: list[dict[str, Any]], conn: Any = None) -> None:
    reason = await refused_claim(platform, partner.pk, roles, conn)
    if reason is not None:
        log.warning("partner %s: credentials refused: they claim %s", partner.name, reason)
        raise invalid(f"roles: your credentials claim {reason}; list only your own parties (if a party "
                      "changed hands, ask our operator to release it)")


async def unregister(platform: Platform, partner: Partner) -> None:
    """DELETE of our credentials by the partner: both sides' tokens stop working."""
    async with platform.store.begin() as conn:
        await platform.store.partners.update(conn, partner.pk, status=PartnerStatus.UNREGISTERED,
                                             registration_token=None, token=None, outgoing_token=None)
    log.info("partner %s unregistered", partner.name)
    platform.bus.publish("partner.unregistered", partner_pk=partner.pk)


async def _note_error(platform: Platform, pk: int, message: str) -> None:
    async with platform.store.begin() as conn:
        await platform.store.partners.update(conn, pk, last_error=message)


# ------------------------------------------------------------------ we register with them


async def invite(platform: Platform, name: str, token: str | None = None) -> tuple[Partner, str]:
    """Create (or renew) a registration token A for a partner who will register with us."""
    token = token or new_token()
    if not 1 <= len(token) <= 64 or not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise ValueError("token: 1 to 64 printable ASCII characters without spaces")
    async with platform.store.begin() as conn:
        partner = await platform.store.partners.by_name(conn, name)
        if partner is None:
            partner = await platform.store.partners.create(conn, name, status=PartnerStatus.INVITED,
                                                           registration_token=token)
        elif partner.registered:
            raise ValueError(f"partner {name!r} is registered; unregister it first to invite it again")
        else:
            await platform.store.partners.update(conn, partner.pk, status=PartnerStatus.INVITED,
                                                 registration_token=token, token=None)
            partner = await platform.store.partners.get(conn, partner.pk)
    platform.bus.publish("partner.changed", partner_pk=partner.pk)
    return partner, token


async def register_with(platform: Platform, name: str, versions_url: str, token_a: str) -> Partner:
    """We start the handshake with the token A a partner gave us: read its versions, POST our
    credentials with a fresh token B, keep its token C."""
    async with platform.store.connect() as conn:
        existing = await platform.store.partners.by_name(conn, name)
    if existing is not None and existing.registered:
        raise ValueError(f"partner {name!r} is already registered")
    negotiated = await _negotiate_or_raise(platform, versions_url, token_a, None)
    credentials_url = _credentials_url(negotiated)
    token_b = new_token()
    async with platform.store.begin() as conn:
        # Token B must work on our versions/credentials before we POST: the partner calls back.
        if existing is None:
            partner = await platform.store.partners.create(conn, name, status=PartnerStatus.UNREGISTERED,
                                                           registration_token=token_b, versions_url=versions_url)
        else:
            await platform.store.partners.update(conn, existing.pk, registration_token=token_b, token=None,
                                                 versions_url=versions_url)
            partner = existing
    try:
        reply = await platform.ocpi.call("POST", credentials_url, token=token_a, encoding=negotiated.encoding,
                                         json=our_credentials(platform, token_b))
    except PartnerCallError as exc:
        async with platform.store.begin() as conn:
            await platform.store.partners.update(conn, partner.pk, registration_token=None,
                                                 last_error=f"registration failed: {exc}")
        raise RuntimeError(f"the partner refused our credentials: {exc}") from exc
    theirs = reply.data if isinstance(reply.data, dict) else {}
    if not theirs.get("token"):
        raise RuntimeError("the partner's credentials answer carries no token")
    await _store_registration(platform, partner.pk, theirs, token_b, negotiated, first=True)
    async with platform.store.connect() as conn:
        partner = await platform.store.partners.get(conn, partner.pk)
    log.info("registered with partner %s (OCPI %s)", name, negotiated.version)
    platform.bus.publish("partner.registered", partner_pk=partner.pk)
    return partner


async def update_with(platform: Platform, partner: Partner) -> Partner:
    """Rotate tokens (and re-negotiate the version) with a registered partner: PUT our
    credentials with a new token; the partner answers with a new token for us."""
    if not partner.registered or not partner.outgoing_token:
        raise ValueError(f"partner {partner.name!r} is not registered")
    negotiated = await _negotiate_or_raise(platform, partner.versions_url, partner.outgoing_token,
                                           partner.outgoing_encoding)
    new_b = new_token()
    async with platform.store.begin() as conn:  # the partner may call back with the new token
        await platform.store.partners.update(conn, partner.pk, registration_token=new_b)
    try:
        reply = await platform.ocpi.call("PUT", _credentials_url(negotiated), token=partner.outgoing_token,
                                         encoding=negotiated.encoding, json=our_credentials(platform, new_b))
    except PartnerCallError as exc:
        async with platform.store.begin() as conn:
            await platform.store.partners.update(conn, partner.pk, registration_token=None,
                                                 last_error=f"credentials update failed: {exc}")
        raise RuntimeError(f"the partner refused the credentials update: {exc}") from exc
    theirs = reply.data if isinstance(reply.data, dict) else {}
    if not theirs.get("token"):
        raise RuntimeError("the partner's credentials answer carries no token")
    await _store_registration(platform, partner.pk, theirs, new_b, negotiated, first=False)
    platform.bus.publish("partner.changed", partner_pk=partner.pk)  # its tokens changed
    async with platform.store.connect() as conn:
        return await platform.store.partners.get(conn, partner.pk)


async def unregister_with(platform: Platform, partner: Partner) -> None:
    """DELETE our credentials at the partner, then forget its tokens here."""
    if partner.registered and partner.outgoing_token:
        url = partner.endpoint("credentials")
        if url:
            try:
                await platform.ocpi.call("DELETE", url, token=partner.outgoing_token,
                                         encoding=partner.outgoing_encoding)
            except PartnerCallError as exc:
                log.warning("partner %s did not accept the unregistration: %s", partner.name, exc)
    await unregister(platform, partner)


async def _negotiate_or_raise(platform, versions_url, token, encoding) -> Negotiated:
    try:
        return await negotiate(platform, versions_url, token, encoding)
    except HandshakeError as exc:
        raise RuntimeError(exc.message) from None


def _credentials_url(negotiated: Negotiated) -> str:
    for ep in negotiated.endpoints:
        if ep["identifier"] == "credentials":
            return ep["url"]
    raise RuntimeError("the partner offers no credentials endpoint")


async def _store_registration(platform, pk: int, theirs: dict, our_token: str, negotiated: Negotiated, *,
                              first: bool) -> None:
    """Keep what the partner answered, unless its roles claim our party or another partner's:
    then its answer is not stored, the token we offered it stops working, a first registration
    is withdrawn at the partner (DELETE of its credentials, best effort), and RuntimeError says
    why."""
    roles = _roles_from(theirs)
    values: dict[str, Any] = dict(
        status=PartnerStatus.REGISTERED, registration_token=None, token=our_token,
        outgoing_token=theirs["token"], outgoing_encoding=negotiated.encoding,
        version=negotiated.version, version_url=negotiated.version_url, roles=roles,
        endpoints=negotiated.endpoints, last_error=None,
    )
    if theirs.get("url"):
        values["versions_url"] = theirs["url"]
    async with platform.store.begin() as conn:
        reason = await refused_claim(platform, pk, roles, conn)
        if reason is None:
            await platform.store.partners.update(conn, pk, **values)
            return
        message = f"the partner's credentials claim {reason}; nothing of its answer was stored"
        await platform.store.partners.update(conn, pk, registration_token=None, last_error=message)
    log.warning("partner #%s: %s", pk, message)
    if first:
        try:
            await platform.ocpi.call("DELETE", _credentials_url(negotiated), token=theirs["token"],
                                     encoding=negotiated.encoding)
        except PartnerCallError as exc:
            log.info("withdrawing the refused registration at the partner failed: %s", exc)
    raise RuntimeError(message)
