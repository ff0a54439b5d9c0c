"""Sessions module, sender interface (we are the CPO): the sessions of the caller's drivers,
paged; `date_from` is required. And (2.2+) the drivers' charging preferences of a running
session (`PUT {sessions_url}/{session_id}/charging_preferences`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.charging_lists import charging_list
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated, read_json, routing_headers
from evroam.ocpi.transport import status
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import OcpiError, not_found
from evroam.ocpi.transport.openapi import LIST, envelope_responses, json_body, paged
from evroam.ocpi.wire import Wire, versioned
from evroam.services.charging_profiles import NotCapable

router = APIRouter(prefix="/ocpi/{version}/cpo/sessions", tags=["OCPI sessions (CPO sender)"],
                   dependencies=[Depends(versioned("sessions", SENDER))],
                   responses=envelope_responses(200))


@router.get("", summary="Sessions of your drivers, paged (date_from required; date_to, offset, limit)",
            responses=LIST, openapi_extra=paged(date_from_required=True))
async def list_sessions(request: Request, caller: Caller = Depends(authenticated)):
    return await charging_list(request, caller, "sessions", require_date_from=True)


@router.put("/{session_id}/charging_preferences",
            summary="Set the driver's charging preferences of a running session (answer: ChargingPreferencesResponse)",
            openapi_extra=json_body("the ChargingPreferences"))
async def put_charging_preferences(session_id: str, request: Request, caller: Caller = Depends(authenticated)):
    version = Wire.of(request).version
    if not version.charging_preferences:
        raise not_found(f"OCPI {version.number} has no charging preferences")
    try:
        answer = await request.app.state.platform.charging_profiles.set_preferences(
            caller.partner, session_id, await read_json(request))
    except NotCapable as exc:  # the spec's answer for an EVSE without CHARGING_PREFERENCES_CAPABLE
        raise OcpiError(exc.message, ocpi_status=status.INVALID_PARAMETERS, http_status=404) from None
    return ocpi_response(answer, headers=routing_headers(request, caller))
