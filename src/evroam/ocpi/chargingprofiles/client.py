"""Chargingprofiles module, our side as the eMSP: ask a CPO to set (PUT), report (GET) or clear
(DELETE) the charging profile of one of our drivers' sessions, at its Receiver interface
(`{url}/{session_id}`). The CPO answers at once with a ChargingProfileResponse; the result
comes later to the `response_url` we gave (see `sender.py`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from evroam.model.partners import Partner
from evroam.ocpi.transport.client import OcpiClient
from evroam.ocpi.transport.errors import PartnerCallError

MODULE = "chargingprofiles"


async def request(client: OcpiClient, partner: Partner, method: str, session_id: str, *,
                  body: dict[str, Any] | None, params: dict[str, Any] | None) -> dict[str, Any]:
    base = partner.endpoint(MODULE, "RECEIVER")
    if not base:
        raise PartnerCallError(f"partner {partner.name} offers no chargingprofiles Receiver endpoint",
                               retryable=False)
    parties = partner.parties("CPO")
    reply = await client.call(method, f"{base.rstrip('/')}/{quote(session_id, safe='')}",
                              token=partner.outgoing_token or "", encoding=partner.outgoing_encoding, json=body,
                              params=params or None, module=MODULE, to_party=parties[0] if parties else None)
    return reply.data if isinstance(reply.data, dict) else {"result": None}
