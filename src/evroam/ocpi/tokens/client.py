"""Tokens module, our side as the CPO: real-time authorization at the eMSP that issued a token
(`POST {tokens sender}/{uid}/authorize?type=`), answered with an AuthorizationInfo; both in the
eMSP's version (a 2.1.1 AuthorizationInfo carries no token: the one asked about is kept)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from evroam.model.partners import Partner
from evroam.ocpi import registry
from evroam.ocpi.mappings import Context, base
from evroam.ocpi.transport.client import OcpiClient
from evroam.ocpi.transport.errors import PartnerCallError


async def authorize(client: OcpiClient, partner: Partner | None, token: dict[str, Any], *,
                    location_id: str | None, evse_uids: list[str] | None) -> dict[str, Any]:
    url = partner.endpoint("tokens", "SENDER") if partner is not None else None
    if not url or partner is None or not partner.outgoing_token:
        raise PartnerCallError(f"no tokens sender endpoint for {token['country_code']}/{token['party_id']}")
    version = registry.get(partner.version)
    body: dict[str, Any] | None = None
    if location_id:
        body = {"location_id": location_id}
        if evse_uids:
            body["evse_uids"] = evse_uids
        body = await version.mapping.outbound(base.LOCATION_REFERENCES, body)
    said = await version.mapping.outbound(base.TOKEN, token)
    reply = await client.call(
        "POST", f"{url.rstrip('/')}/{quote(token['uid'], safe='')}/authorize", token=partner.outgoing_token,
        encoding=partner.outgoing_encoding, json=body, params={"type": said.get("type", "RFID")},
        module="tokens" if version.routing_headers else None, to_party=(token["country_code"], token["party_id"]),
    )
    data = reply.data
    if isinstance(data, list) and len(data) == 1:  # some peers wrap single objects in a list (docs/interop.md)
        data = data[0]
    info = data if isinstance(data, dict) else {}
    return await version.mapping.inbound(base.AUTHORIZATION_INFO, info, Context(hints={"token": token}))
