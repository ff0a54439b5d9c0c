"""Tokens module, our side as the CPO: real-time authorization at the eMSP that issued a token
(`POST {tokens sender}/{uid}/authorize?type=`), answered with an AuthorizationInfo."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from evroam.model.partners import Partner
from evroam.ocpi.transport.client import OcpiClient
from evroam.ocpi.transport.errors import PartnerCallError


async def authorize(client: OcpiClient, partner: Partner | None, token: dict[str, Any], *,
                    location_id: str | None, evse_uids: list[str] | None) -> dict[str, Any]:
    url = partner.endpoint("tokens", "SENDER") if partner is not None else None
    if not url or partner is None or not partner.outgoing_token:
        raise PartnerCallError(f"no tokens sender endpoint for {token['country_code']}/{token['party_id']}")
    body: dict[str, Any] | None = None
    if location_id:
        body = {"location_id": location_id}
        if evse_uids:
            body["evse_uids"] = evse_uids
    reply = await client.call(
        "POST", f"{url.rstrip('/')}/{quote(token['uid'], safe='')}/authorize", token=partner.outgoing_token,
        encoding=partner.outgoing_encoding, json=body, params={"type": token.get("type", "RFID")},
        module="tokens", to_party=(token["country_code"], token["party_id"]),
    )
    return reply.data if isinstance(reply.data, dict) else {}
