"""Locations module, receiver interface (we are the eMSP): CPOs push their locations, EVSEs and
connectors here, in the version of the path; each partner can only touch its own parties' objects."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.locations import EVSE, Connector, Location
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned

router = APIRouter(prefix="/ocpi/{version}/emsp/locations", tags=["OCPI locations (eMSP receiver)"],
                   dependencies=[Depends(versioned("locations", RECEIVER))],
                   responses=envelope_responses(200))
P1 = "/{country_code}/{party_id}/{location_id}"
P2 = P1 + "/{evse_uid}"
P3 = P2 + "/{connector_id}"


def _kind(evse_uid: str | None, connector_id: str | None, patch: bool = False) -> str:
    if evse_uid is None:
        return base.LOCATION_PATCH if patch else base.LOCATION
    if connector_id is None:
        return base.EVSE_PATCH if patch else base.EVSE
    return base.CONNECTOR_PATCH if patch else base.CONNECTOR


@router.get(P1, summary="A location a CPO pushed to us")
@router.get(P2, summary="An EVSE a CPO pushed to us")
@router.get(P3, summary="A connector a CPO pushed to us")
async def get_received(country_code: str, party_id: str, location_id: str, request: Request,
                       evse_uid: str | None = None, connector_id: str | None = None,
                       caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    obj = await request.app.state.platform.locations.get_received(country_code, party_id, location_id, evse_uid,
                                                                  connector_id)
    data = await Wire.of(request).out(_kind(evse_uid, connector_id), obj, owner=(country_code, party_id))
    return ocpi_response(data, headers=routing_headers(request, caller))


@router.put(P1, summary="Create or replace a location", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Location", Location))
@router.put(P2, summary="Create or replace an EVSE", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the EVSE", EVSE))
@router.put(P3, summary="Create or replace a connector", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Connector", Connector))
async def put_received(country_code: str, party_id: str, location_id: str, request: Request,
                       evse_uid: str | None = None, connector_id: str | None = None,
                       caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    body = await Wire.of(request).body(_kind(evse_uid, connector_id), owner=(country_code, party_id))
    created = await request.app.state.platform.locations.receive_put(country_code, party_id, location_id, evse_uid,
                                                                     connector_id, body)
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(P1, summary="Update fields of a location", openapi_extra=json_body("fields of the Location"))
@router.patch(P2, summary="Update fields of an EVSE (e.g. its status)",
              openapi_extra=json_body("fields of the EVSE"))
@router.patch(P3, summary="Update fields of a connector", openapi_extra=json_body("fields of the Connector"))
async def patch_received(country_code: str, party_id: str, location_id: str, request: Request,
                         evse_uid: str | None = None, connector_id: str | None = None,
                         caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    body = await Wire.of(request).body(_kind(evse_uid, connector_id, patch=True), owner=(country_code, party_id))
    await request.app.state.platform.locations.receive_patch(country_code, party_id, location_id, evse_uid,
                                                             connector_id, body)
    return ocpi_response(headers=routing_headers(request, caller))
