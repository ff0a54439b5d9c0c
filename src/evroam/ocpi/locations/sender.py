"""Locations module, sender interface (we are the CPO): our locations, paged, and single
locations, EVSEs and connectors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.server import Caller, authenticated, public_url, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response, raw_list_response
from evroam.ocpi.transport.paging import paging_headers, parse_page
from evroam.services.locations import select_part

router = APIRouter(prefix="/ocpi/2.2.1/cpo/locations", tags=["OCPI locations (CPO sender)"])


@router.get("", summary="Our locations, paged (offset, limit, date_from, date_to)")
async def list_locations(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    settings = platform.settings
    page = parse_page(request, settings.ocpi_page_limit)
    async with platform.store.connect() as conn:
        rows, total = await platform.store.locations.page(
            conn, owners=[(settings.country_code, settings.party_id)], date_from=page.date_from,
            date_to=page.date_to, offset=page.offset, limit=page.limit, raw=True,
        )
    headers = paging_headers(page, len(rows), total, public_url(request), settings.ocpi_page_limit)
    headers.update(routing_headers(request, caller))
    return raw_list_response(rows, headers=headers)


@router.get("/{location_id}", summary="One of our locations")
@router.get("/{location_id}/{evse_uid}", summary="One EVSE of our locations")
@router.get("/{location_id}/{evse_uid}/{connector_id}", summary="One connector of our locations")
async def get_location(location_id: str, request: Request, evse_uid: str | None = None,
                       connector_id: str | None = None, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    loc = await platform.locations.get_own(location_id)
    return ocpi_response(select_part(loc, location_id, evse_uid, connector_id),
                         headers=routing_headers(request, caller))
