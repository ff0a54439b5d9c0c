"""The paged list shared by the sessions and cdrs sender interfaces: our objects whose token
belongs to one of the caller's eMSP parties."""

from __future__ import annotations

from fastapi import Request

from evroam.ocpi.server import Caller, public_url, routing_headers
from evroam.ocpi.transport.envelope import raw_list_response
from evroam.ocpi.transport.paging import paging_headers, parse_page


async def charging_list(request: Request, caller: Caller, kind: str, *, require_date_from: bool):
    platform = request.app.state.platform
    settings = platform.settings
    page = parse_page(request, settings.ocpi_page_limit, require_date_from=require_date_from)
    repo = platform.store.sessions if kind == "sessions" else platform.store.cdrs
    async with platform.store.connect() as conn:
        rows, total = await repo.page(conn, (settings.country_code, settings.party_id),
                                      emsps=caller.partner.parties("EMSP"), date_from=page.date_from,
                                      date_to=page.date_to, offset=page.offset, limit=page.limit)
    headers = paging_headers(page, len(rows), total, public_url(request), settings.ocpi_page_limit)
    headers.update(routing_headers(request, caller))
    return raw_list_response(rows, headers=headers)
