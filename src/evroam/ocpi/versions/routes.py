"""Versions module: the list of versions and each version's endpoints (from the registry)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi import registry
from evroam.ocpi.server import Caller, authenticated_for_registration
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import not_found
from evroam.ocpi.transport.openapi import envelope_responses

router = APIRouter(tags=["OCPI versions"], responses=envelope_responses(200))


@router.get("/ocpi/versions", summary="OCPI versions this platform speaks")
async def versions(request: Request, caller: Caller = Depends(authenticated_for_registration)):
    settings = request.app.state.platform.settings
    data = [{"version": v, "url": f"{settings.base_url}/ocpi/{v}"} for v in registry.offered(settings)]
    return ocpi_response(data)


@router.get("/ocpi/{version}", summary="Endpoints of one OCPI version")
async def version_details(version: str, request: Request,
                          caller: Caller = Depends(authenticated_for_registration)):
    settings = request.app.state.platform.settings
    offered = registry.offered(settings)
    if version not in offered:
        raise not_found(f"version {version} is not offered here (offered: {', '.join(offered)})")
    endpoints = registry.get(version).endpoints(settings.base_url, list(settings.roles))
    return ocpi_response({"version": version, "endpoints": endpoints})
