"""Sessions module, receiver interface (we are the eMSP): a CPO's sessions of our drivers, in
the version of the path. A 2.2+ PATCH appends the charging periods it carries; a 2.1.1 PATCH
replaces them (the Session is then replaced with the patched whole)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.sessions import Session
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned

router = APIRouter(prefix="/ocpi/{version}/emsp/sessions", tags=["OCPI sessions (eMSP receiver)"],
                   dependencies=[Depends(versioned("sessions", RECEIVER))],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{session_id}"


@router.get(PATH, summary="A session a CPO pushed to us")
async def get_session(country_code: str, party_id: str, session_id: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    session = await request.app.state.platform.received.session(country_code, party_id, session_id)
    data = await Wire.of(request).out(base.SESSION, session, owner=(country_code, party_id))
    return ocpi_response(data, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a session", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Session", Session))
async def put_session(country_code: str, party_id: str, session_id: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    body = await Wire.of(request).body(base.SESSION, owner=(country_code, party_id))
    created = await request.app.state.platform.received.session_put(country_code, party_id, session_id, body)
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(PATH, summary="Update fields of a session (charging_periods are appended)",
              openapi_extra=json_body("fields of the Session"))
async def patch_session(country_code: str, party_id: str, session_id: str, request: Request,
                        caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    wire = Wire.of(request)
    patch = await wire.body(base.SESSION_PATCH, owner=(country_code, party_id))
    received = request.app.state.platform.received
    await received.session_patch(country_code, party_id, session_id, patch,
                                 append_periods=wire.version.patch_appends_periods)
    return ocpi_response(headers=routing_headers(request, caller))
