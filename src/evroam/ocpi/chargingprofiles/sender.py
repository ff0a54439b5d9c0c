"""ChargingProfiles module, Sender interface (we are the eMSP):

- `POST {url}/results/{request_id}`: the response_url we give in our requests, where the CPO
  posts the ChargingProfileResult / ActiveChargingProfileResult / ClearProfileResult;
- `PUT {url}/{session_id}`: an ActiveChargingProfile the CPO sends when it changed.

Both answer with the response format without data."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.charging_profiles import ActiveChargingProfile
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated, read_json, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import forbidden
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import versioned

router = APIRouter(prefix="/ocpi/{version}/emsp/chargingprofiles", tags=["OCPI chargingprofiles (eMSP sender)"],
                   dependencies=[Depends(versioned("chargingprofiles", SENDER))],
                   responses=envelope_responses(200))


@router.post("/results/{request_id}", summary="The asynchronous result of one of our chargingprofiles requests",
             openapi_extra=json_body("the ActiveChargingProfileResult, ChargingProfileResult or ClearProfileResult"))
async def post_result(request_id: str, request: Request, caller: Caller = Depends(authenticated)):
    await request.app.state.platform.charging_profiles.receive_result(caller.partner, request_id,
                                                                      await read_json(request))
    return ocpi_response(headers=routing_headers(request, caller))


@router.put("/{session_id}", summary="A session's changed ActiveChargingProfile, from its CPO",
            openapi_extra=json_body("the ActiveChargingProfile", ActiveChargingProfile))
async def put_active(session_id: str, request: Request, caller: Caller = Depends(authenticated)):
    if not caller.partner.has_role("CPO"):
        raise forbidden("ActiveChargingProfiles are accepted from CPO partners only")
    await request.app.state.platform.charging_profiles.receive_active(caller.partner, session_id,
                                                                      await read_json(request))
    return ocpi_response(headers=routing_headers(request, caller))
