"""Sessions module, receiver interface (we are the eMSP): a CPO's sessions of our drivers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.sessions import Session
from evroam.ocpi.server import Caller, authenticated, read_json, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body

router = APIRouter(prefix="/ocpi/2.2.1/emsp/sessions", tags=["OCPI sessions (eMSP receiver)"],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{session_id}"


@router.get(PATH, summary="A session a CPO pushed to us")
async def get_session(country_code: str, party_id: str, session_id: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    session = await request.app.state.platform.received.session(country_code, party_id, session_id)
    return ocpi_response(session, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a session", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Session", Session))
async def put_session(country_code: str, party_id: str, session_id: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    created = await request.app.state.platform.received.session_put(country_code, party_id, session_id,
                                                                     await read_json(request))
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(PATH, summary="Update fields of a session (charging_periods are appended)",
              openapi_extra=json_body("fields of the Session"))
async def patch_session(country_code: str, party_id: str, session_id: str, request: Request,
                        caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    await request.app.state.platform.received.session_patch(country_code, party_id, session_id,
                                                            await read_json(request))
    return ocpi_response(headers=routing_headers(request, caller))
