"""The credentials handshake, both ways, in each OCPI version (see negotiation.py).

- They register with us: `accept(...)` on POST (token A) and PUT (token C) to our credentials.
- We register with them: `register_with(...)` with the token A they gave us.
- Either side can rotate (`update_with`) or end (`unregister_with`) the registration.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from evroam.model.credentials import Credentials
from evroam.model.partners import Partner, PartnerStatus, party_of
from evroam.ocpi.credentials.negotiation import (
    HandshakeError,
    Negotiated,
    credentials_url,
    negotiate,
    new_token,
    our_credentials,
    their_credentials,
)
from evroam.ocpi.server import validate
from evroam.ocpi.transport.errors import OcpiError, PartnerCallError, invalid

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)
__all__ = ["accept", "invite", "new_token", "our_credentials", "refused_claim", "register_with", "unregister",
           "unregister_with", "update_with"]


def _roles_from(credentials: dict[str, Any]) -> list[dict[str, Any]]:
    roles = credentials.get("roles")
    if isinstance(roles, list):
        return [
            {
                "role": r.get("role"),
                "country_code": str(r.get("country_code", "")),  # the partner's spelling (compared
                "party_id": str(r.get("party_id", "")),  # case-insensitively, as CiStrings)
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


async def accept(platform: Platform, partner: Partner, body: Any, version: str,
                 sent_encoding: str | None = None) -> dict[str, Any]:
    """POST (first registration) or PUT (update) of the partner's credentials to our credentials
    endpoint of `version`: the partner registers on that version (a PUT to another version's
    endpoint moves it there). Calls the partner back with its token (encoded the way the partner
    encodes the tokens it sends us), stores what was negotiated, and returns our credentials with
    a newly generated token, in `version`'s form. Nothing is changed when the callback fails.
    Roles naming our party or another partner's are refused (2001) before the partner is called
    back, and nothing is stored."""
    credentials = await _valid_credentials(body, version, None)
    await _refuse_claim(platform, partner, _roles_from(credentials))
    try:
        negotiated = await negotiate(platform, credentials["url"], credentials["token"], None, prefer=sent_encoding,
                                     version=version)
    except HandshakeError as exc:
        await _note_error(platform, partner.pk, exc.message)
        raise OcpiError(exc.message, ocpi_status=exc.ocpi_status, http_status=200) from None
    if negotiated.party_roles:  # 2.1.1: the roles follow from the endpoints
        credentials = await _valid_credentials(body, version, negotiated.party_roles)
    roles = _roles_from(credentials)
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
    return await our_credentials(platform, our_token, negotiated.version)


async def _valid_credentials(body: Any, version: str, party_roles: list[str] | None) -> dict[str, Any]:
    """A partner's Credentials of `version`, read into the model and validated (2001 otherwise)."""
    if not isinstance(body, dict):
        raise invalid("credentials: expected a JSON object")
    return validate(Credentials, await their_credentials(body, version, party_roles), what="credentials").to_dict()


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


async def register_with(platform: Platform, name: str, versions_url: str, token_a: str,
                        version: str | None = None) -> Partner:
    """We start the handshake with the token A a partner gave us: read its versions, POST our
    credentials with a fresh token B, keep its token C. The version is the highest both speak,
    or `version` (which both must speak)."""
    async with platform.store.connect() as conn:
        existing = await platform.store.partners.by_name(conn, name)
    if existing is not None and existing.registered:
        raise ValueError(f"partner {name!r} is already registered")
    negotiated = await _negotiate_or_raise(platform, versions_url, token_a, None, version)
    url = credentials_url(negotiated)
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
        reply = await platform.ocpi.call("POST", url, token=token_a, encoding=negotiated.encoding,
                                         json=await our_credentials(platform, token_b, negotiated.version))
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


async def update_with(platform: Platform, partner: Partner, version: str | None = None) -> Partner:
    """Rotate tokens and re-negotiate the version with a registered partner (the highest both
    speak now, or `version`): PUT our credentials with a new token to the partner's credentials
    endpoint of that version; the partner answers with a new token for us."""
    if not partner.registered or not partner.outgoing_token:
        raise ValueError(f"partner {partner.name!r} is not registered")
    negotiated = await _negotiate_or_raise(platform, partner.versions_url, partner.outgoing_token,
                                           partner.outgoing_encoding, version)
    new_b = new_token()
    async with platform.store.begin() as conn:  # the partner may call back with the new token
        await platform.store.partners.update(conn, partner.pk, registration_token=new_b)
    try:
        reply = await platform.ocpi.call("PUT", credentials_url(negotiated), token=partner.outgoing_token,
                                         encoding=negotiated.encoding,
                                         json=await our_credentials(platform, new_b, negotiated.version))
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


async def _negotiate_or_raise(platform, versions_url, token, encoding, version=None) -> Negotiated:
    try:
        return await negotiate(platform, versions_url, token, encoding, version=version)
    except HandshakeError as exc:
        raise RuntimeError(exc.message) from None


async def _store_registration(platform, pk: int, theirs: dict, our_token: str, negotiated: Negotiated, *,
                              first: bool) -> None:
    """Keep what the partner answered, unless its roles claim our party or another partner's:
    then its answer is not stored, the token we offered it stops working, a first registration
    is withdrawn at the partner (DELETE of its credentials, best effort), and RuntimeError says
    why."""
    try:
        theirs = await _valid_credentials(theirs, negotiated.version, negotiated.party_roles)
    except OcpiError as exc:
        raise RuntimeError(f"the partner's credentials answer is not valid: {exc.message}") from None
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
            await platform.ocpi.call("DELETE", credentials_url(negotiated), token=theirs["token"],
                                     encoding=negotiated.encoding)
        except PartnerCallError as exc:
            log.info("withdrawing the refused registration at the partner failed: %s", exc)
    raise RuntimeError(message)
