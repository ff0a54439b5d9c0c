"""Admin REST API (JSON, authenticated): partners, our locations and tariffs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from evroam.backoffice.auth import require_admin
from evroam.model.locations import Status

router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(require_admin)])


class StatusChange(BaseModel):
    status: Status


def _partner_view(p, outbox: dict[str, int]) -> dict[str, Any]:
    return {
        "name": p.name,
        "status": p.status.value,
        "version": p.version,
        "versions_url": p.versions_url,
        "roles": [{k: r.get(k) for k in ("role", "country_code", "party_id")} for r in p.roles],
        "endpoints": p.endpoints,
        "outbox": outbox,
        "last_error": p.last_error,
        "updated_at": p.updated_at.isoformat(),
    }


@router.get("/partners", summary="Registered and invited partners")
async def partners(request: Request):
    platform = request.app.state.platform
    async with platform.store.connect() as conn:
        items = await platform.store.partners.list(conn)
        counts = await platform.store.outbox.counts(conn)
    return [_partner_view(p, counts.get(p.pk, {})) for p in items]


@router.get("/locations", summary="Our locations")
async def locations(request: Request):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.locations.all(conn, owners=[(s.country_code, s.party_id)])


@router.post("/locations", summary="Import or replace our locations (OCPI 2.2.1 JSON, one or a list)")
async def import_locations(request: Request, body: Any = Body(...), as_own: bool = False):
    result = await request.app.state.platform.locations.import_locations(body, as_own=as_own)
    return {"created": result.created, "updated": result.updated}


@router.put("/locations/{location_id}/evses/{evse_uid}/status", summary="Set an EVSE's status")
async def set_status(location_id: str, evse_uid: str, change: StatusChange, request: Request):
    return await request.app.state.platform.locations.set_evse_status(location_id, evse_uid, change.status)


@router.get("/tariffs", summary="Our tariffs")
async def tariffs(request: Request):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.tariffs.all(conn, owners=[(s.country_code, s.party_id)])


@router.post("/tariffs", summary="Import or replace our tariffs (OCPI 2.2.1 JSON, one or a list)")
async def import_tariffs(request: Request, body: Any = Body(...), as_own: bool = False):
    result = await request.app.state.platform.tariffs.import_tariffs(body, as_own=as_own)
    return {"created": result.created, "updated": result.updated}


@router.delete("/tariffs/{tariff_id}", summary="Delete one of our tariffs")
async def delete_tariff(tariff_id: str, request: Request):
    await request.app.state.platform.tariffs.delete_own(tariff_id)
    return {"deleted": tariff_id}
