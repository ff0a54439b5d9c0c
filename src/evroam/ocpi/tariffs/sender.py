"""Tariffs module, sender interface (we are the CPO): our tariffs, paged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.server import Caller, authenticated, public_url, routing_headers
from evroam.ocpi.transport.envelope import raw_list_response
from evroam.ocpi.transport.paging import paging_headers, parse_page

router = APIRouter(prefix="/ocpi/2.2.1/cpo/tariffs", tags=["OCPI tariffs (CPO sender)"])


@router.get("", summary="Our tariffs, paged (offset, limit, date_from, date_to)")
async def list_tariffs(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    settings = platform.settings
    page = parse_page(request, settings.ocpi_page_limit)
    async with platform.store.connect() as conn:
        rows, total = await platform.store.tariffs.page(
            conn, owners=[(settings.country_code, settings.party_id)], date_from=page.date_from,
            date_to=page.date_to, offset=page.offset, limit=page.limit, raw=True,
        )
    headers = paging_headers(page, len(rows), total, public_url(request), settings.ocpi_page_limit)
    headers.update(routing_headers(request, caller))
    return raw_list_response(rows, headers=headers)
