"""Admin REST API of the failed-authentication throttle: who is refused now (door, address,
seconds left), and letting an address in again (e.g. a site whose chargers share one address
with a misconfigured one)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import ERRORS

router = APIRouter(prefix="/admin/api", tags=["admin: throttling"], dependencies=[Depends(require_admin)],
                   responses=ERRORS)


@router.get("/throttled", summary="Addresses refused now for too many wrong credentials, longest wait first")
async def throttled(request: Request):
    return {"throttled": await request.app.state.platform.throttle.throttled()}


@router.delete("/throttled", summary="Let an address in again (its failure count is forgotten)")
async def release(request: Request, address: str = Query(min_length=1, max_length=64, description="as listed"),
                  door: str | None = Query(None, description="ocpp, ocpi, admin, driver, metrics or web (default: all)")):
    released = await request.app.state.platform.throttle.release(address, door)
    return {"released": released}
