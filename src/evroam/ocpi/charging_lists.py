"""The paged list shared by the sessions and cdrs sender interfaces: our objects whose token
belongs to one of the caller's eMSP parties (or, for a Payment Terminal Provider, its own party:
the sessions paid at its terminals)."""

from __future__ import annotations

from fastapi import Request

from evroam.ocpi.listing import paged_response
from evroam.ocpi.mappings import base
from evroam.ocpi.server import Caller


async def charging_list(request: Request, caller: Caller, kind: str, *, require_date_from: bool):
    platform = request.app.state.platform
    ours = (platform.settings.country_code, platform.settings.party_id)
    repo = platform.store.sessions if kind == "sessions" else platform.store.cdrs

    async def fetch(conn, page):
        parties = list(dict.fromkeys(caller.partner.parties("EMSP") + caller.partner.ptp_parties()))
        return await repo.page(conn, ours, emsps=parties, date_from=page.date_from,
                               date_to=page.date_to, offset=page.offset, limit=page.limit)

    return await paged_response(request, caller, fetch, base.SESSION if kind == "sessions" else base.CDR,
                                require_date_from=require_date_from)
