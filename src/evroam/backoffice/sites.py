"""Admin REST API of load management: sites and circuits, the live status (each circuit's load
against its limit, each session's allocation), the charging profiles sent, and (as eMSP) our
OCPI chargingprofiles requests to CPO partners."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import ERRORS

router = APIRouter(prefix="/admin/api", tags=["admin: load management"], dependencies=[Depends(require_admin)],
                   responses=ERRORS)


class SiteIn(BaseModel):
    capacity_kw: float | None = Field(None, description="grid capacity in kW")
    capacity_a: float | None = Field(None, description="grid capacity in A per phase")
    schedule: dict[str, Any] | None = Field(None, description="capacity schedule (the schedule file's JSON)")
    clear_schedule: bool = Field(False, description="remove the capacity schedule")
    phases: int | None = Field(None, description="1 or 3 (default 3)")
    voltage_v: float | None = Field(None, description="phase-to-neutral voltage (default 230)")
    fallback_a: float | None = Field(None, description="what a charger refusing profiles is counted at (A)")
    start_a: float | None = Field(None, description="a new session's limit until it has its own (A; sent to the "
                                  "site's chargers as TxDefaultProfile)")
    clear_start_a: bool = Field(False, description="send no start limit (new sessions count at full power)")
    chargers: list[str] | None = Field(None, description="charger ids of a group of chargers (beside a location's)")


class CircuitIn(BaseModel):
    parent: str | None = Field(None, description="the circuit feeding this one (default: the grid connection)")
    limit_a: float | None = Field(None, description="limit in A per phase")
    limit_kw: float | None = Field(None, description="limit in kW")
    phases: int | None = Field(None, description="1 or 3 (default: the site's)")
    chargers: list[str] | None = Field(None, description="the chargers this circuit feeds")


@router.get("/sites", summary="Load-managed sites with their circuits and chargers")
async def list_sites(request: Request):
    return await request.app.state.platform.sites.views()


@router.get("/sites/{site_id}", summary="One site")
async def get_site(site_id: str, request: Request):
    return await request.app.state.platform.sites.view(site_id)


@router.put("/sites/{site_id}", summary="Create or change a site (a location id, or a name for a group of chargers)")
async def put_site(site_id: str, body: SiteIn, request: Request):
    return await request.app.state.platform.sites.set_site(
        site_id, capacity_kw=body.capacity_kw, capacity_a=body.capacity_a, schedule=body.schedule,
        clear_schedule=body.clear_schedule, phases=body.phases, voltage_v=body.voltage_v,
        fallback_a=body.fallback_a, start_a=body.start_a, clear_start_a=body.clear_start_a, chargers=body.chargers)


@router.delete("/sites/{site_id}", summary="Stop managing a site (its profiles are cleared)")
async def delete_site(site_id: str, request: Request):
    await request.app.state.platform.sites.remove(site_id)
    return {"deleted": site_id}


@router.put("/sites/{site_id}/circuits/{circuit_id}", summary="Create or change a circuit of a site")
async def put_circuit(site_id: str, circuit_id: str, body: CircuitIn, request: Request):
    return await request.app.state.platform.sites.set_circuit(
        site_id, circuit_id, parent=body.parent, limit_a=body.limit_a, limit_kw=body.limit_kw, phases=body.phases,
        chargers=body.chargers)


@router.delete("/sites/{site_id}/circuits/{circuit_id}", summary="Remove a circuit (its chargers hang on the site)")
async def delete_circuit(site_id: str, circuit_id: str, request: Request):
    await request.app.state.platform.sites.remove_circuit(site_id, circuit_id)
    return {"deleted": circuit_id}


@router.get("/load/status", summary="Every site: circuits' load against their limit, sessions' allocations")
async def load_status(request: Request):
    return await request.app.state.platform.load.status()


@router.get("/sites/{site_id}/status", summary="One site's circuits and sessions")
async def site_status(site_id: str, request: Request):
    return (await request.app.state.platform.load.status(site_id))[0]


@router.get("/load/profiles", summary="Charging profiles sent to chargers, newest first, with their answers")
async def profiles_sent(request: Request, charger: str | None = None, limit: int = Query(100, ge=1, le=10_000)):
    return await request.app.state.platform.load.profiles_sent(charger_id=charger, limit=limit)


# ------------------------------------------------------------------ eMSP: chargingprofiles at CPO partners


@router.put("/chargingprofiles/{session_id}", summary="(eMSP) Set a ChargingProfile on a session at its CPO")
async def set_profile(session_id: str, request: Request, partner: str | None = None, body: Any = Body(...)):
    return await request.app.state.platform.charging_profiles.request_set(session_id, body, partner=partner)


@router.post("/chargingprofiles/{session_id}/active", summary="(eMSP) Ask a CPO for a session's ActiveChargingProfile")
async def ask_active(session_id: str, request: Request, duration: int = 3600, partner: str | None = None):
    return await request.app.state.platform.charging_profiles.request_active(session_id, duration, partner=partner)


@router.delete("/chargingprofiles/{session_id}", summary="(eMSP) Clear the ChargingProfile we set on a session")
async def clear_profile(session_id: str, request: Request, partner: str | None = None):
    return await request.app.state.platform.charging_profiles.request_clear(session_id, partner=partner)


@router.get("/chargingprofiles/{session_id}", summary="(eMSP) Our requests about a session, their results, and "
            "the ActiveChargingProfiles the CPO sent")
async def profile_history(session_id: str, request: Request):
    return await request.app.state.platform.charging_profiles.history(session_id)
