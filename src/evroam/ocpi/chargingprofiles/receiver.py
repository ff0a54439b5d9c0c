"""ChargingProfiles module, Receiver interface (we are the CPO), for the sessions of the
caller's drivers:

- `PUT {url}/{session_id}` SetChargingProfile (charging_profile, response_url);
- `GET {url}/{session_id}?duration={seconds}&response_url={url}` the ActiveChargingProfile;
- `DELETE {url}/{session_id}?response_url={url}` clear the profile set.

Each is answered at once with a ChargingProfileResponse (result, timeout); the charger's
outcome follows as a ChargingProfileResult / ActiveChargingProfileResult / ClearProfileResult
POSTed to `response_url`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.charging_profiles import SetChargingProfile
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, read_json, routing_headers, validate
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import invalid
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import versioned

MAX_DURATION = 2**31 - 1  # seconds: the largest OCPP integer (GetCompositeSchedule.duration)
router = APIRouter(prefix="/ocpi/{version}/cpo/chargingprofiles", tags=["OCPI chargingprofiles (CPO receiver)"],
                   dependencies=[Depends(versioned("chargingprofiles", RECEIVER))],
                   responses=envelope_responses(200))


def _required(value: str | None, name: str) -> str:
    if value is None or value == "":
        raise invalid(f"{name}: required query parameter")
    return value


@router.put("/{session_id}", summary="Set (or replace) the ChargingProfile of a session (SetChargingProfile)",
            openapi_extra=json_body("the SetChargingProfile", SetChargingProfile))
async def put_profile(session_id: str, request: Request, caller: Caller = Depends(authenticated)):
    body = validate(SetChargingProfile, await read_json(request), what="SetChargingProfile")
    response = await request.app.state.platform.charging_profiles.set_profile(caller.partner, session_id, body)
    return ocpi_response(response, headers=routing_headers(request, caller))


@router.get("/{session_id}", summary="Ask for a session's ActiveChargingProfile (posted to response_url)")
async def get_active(session_id: str, request: Request, duration: str | None = None, response_url: str | None = None,
                     caller: Caller = Depends(authenticated)):
    raw = _required(duration, "duration")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_DURATION:
        raise invalid(f"duration: whole seconds from 0 to {MAX_DURATION} expected, got {raw[:40]!r}")
    seconds = int(raw)
    response = await request.app.state.platform.charging_profiles.get_active(
        caller.partner, session_id, seconds, _required(response_url, "response_url"))
    return ocpi_response(response, headers=routing_headers(request, caller))


@router.delete("/{session_id}", summary="Clear the ChargingProfile set on a session")
async def delete_profile(session_id: str, request: Request, response_url: str | None = None,
                         caller: Caller = Depends(authenticated)):
    response = await request.app.state.platform.charging_profiles.clear_profile(
        caller.partner, session_id, _required(response_url, "response_url"))
    return ocpi_response(response, headers=routing_headers(request, caller))
