"""Locations module, sender interface (we are the CPO): our locations, paged, and single
locations, EVSEs and connectors, in the version of the request."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.extended_locations import tracker
from evroam.ocpi.listing import paged_response
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import LIST, PAGED, envelope_responses
from evroam.ocpi.wire import Wire, versioned
from evroam.services.locations import select_part

router = APIRouter(prefix="/ocpi/{version}/cpo/locations", tags=["OCPI locations (CPO sender)"],
                   dependencies=[Depends(versioned("locations", SENDER))],
                   responses=envelope_responses(200))


@router.get("", summary="Our locations, paged (offset, limit, date_from, date_to)", responses=LIST, openapi_extra=PAGED)
async def list_locations(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    ours = [(platform.settings.country_code, platform.settings.party_id)]

    async def fetch(conn, page):
        return await platform.store.locations.page(conn, owners=ours, date_from=page.date_from, date_to=page.date_to,
                                                offset=page.offset, limit=page.limit, raw=True)

    # the version's mapping changes only documents that hold what it leaves out: none of ours may
    markers = Wire.of(request).version.mapping.markers.get(base.LOCATION)
    as_stored = markers is not None and not await tracker(platform, markers).any()
    return await paged_response(request, caller, fetch, base.LOCATION, as_stored=as_stored)


@router.get("/{location_id}", summary="One of our locations")
@router.get("/{location_id}/{evse_uid}", summary="One EVSE of our locations")
@router.get("/{location_id}/{evse_uid}/{connector_id}", summary="One connector of our locations")
async def get_location(location_id: str, request: Request, evse_uid: str | None = None,
                       connector_id: str | None = None, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    loc = await platform.locations.get_own(location_id)
    kind = base.LOCATION if evse_uid is None else base.EVSE if connector_id is None else base.CONNECTOR
    wire = Wire.of(request)
    data = await wire.out(kind, select_part(loc, location_id, evse_uid, connector_id),
                          owner=(loc["country_code"], loc["party_id"]))
    return ocpi_response(data, headers=routing_headers(request, caller))
