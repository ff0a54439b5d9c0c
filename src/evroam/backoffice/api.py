"""Admin REST API (JSON, authenticated): partners, our locations and tariffs, chargers, our
drivers' tokens, sessions and CDRs, and the OCPP transaction log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field

from evroam.backoffice.auth import require_admin
from evroam.model.locations import Status

router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(require_admin)])


class StatusChange(BaseModel):
    status: Status


class ChargerIn(BaseModel):
    id: str = Field(description="the charge point id (its URL segment and Basic-auth user name)")
    password: str | None = Field(None, description="Basic-auth password (8-64 characters)")
    location_id: str
    evses: dict[int, str] = Field(description='OCPP connector (1.6) / EVSE (2.x) number -> EVSE uid, e.g. {"1": "UID"}')


class ChargerChange(BaseModel):
    password: str | None = None
    location_id: str | None = None
    evses: dict[int, str] | None = None


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


# ------------------------------------------------------------------ chargers (OCPP)


@router.get("/chargers", summary="Our chargers, with whether each is connected and its OCPP version")
async def chargers(request: Request):
    from evroam.services.chargers import view

    platform = request.app.state.platform
    connected = platform.gateway.connected()
    return [view(c, connected=c.id in connected) for c in await platform.chargers.list()]


@router.post("/chargers", status_code=201, summary="Register a charger (or map one waiting as Pending)")
async def add_charger(charger: ChargerIn, request: Request):
    return await request.app.state.platform.chargers.add(charger.id, password=charger.password,
                                                         location_id=charger.location_id, evses=charger.evses)


@router.patch("/chargers/{charger_id}", summary="Change a charger's password, location or EVSE mapping")
async def update_charger(charger_id: str, change: ChargerChange, request: Request):
    return await request.app.state.platform.chargers.update(charger_id, password=change.password,
                                                            location_id=change.location_id, evses=change.evses)


@router.post("/chargers/{charger_id}/approve", summary="Accept a charger waiting as Pending")
async def approve_charger(charger_id: str, request: Request):
    return await request.app.state.platform.chargers.approve(charger_id)


@router.delete("/chargers/{charger_id}", summary="Remove a charger from the registry")
async def remove_charger(charger_id: str, request: Request):
    await request.app.state.platform.chargers.remove(charger_id)
    return {"deleted": charger_id}


@router.post("/tokens", status_code=201, summary="Add or replace one of our drivers' tokens (OCPI Token fields)")
async def add_token(request: Request, body: Any = Body(...)):
    return await request.app.state.platform.tokens.add_own(body)


@router.get("/sessions", summary="Our newest sessions")
async def sessions(request: Request, limit: int = 100):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.sessions.all(conn, (s.country_code, s.party_id), limit=limit)


@router.get("/cdrs", summary="Our newest CDRs")
async def cdrs(request: Request, limit: int = 100):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.cdrs.all(conn, (s.country_code, s.party_id), limit=limit)


@router.get("/ocpp-log", summary="The OCPP transaction log, oldest first (the newest `limit` entries)")
async def ocpp_log(request: Request, charger: str | None = None, since: str | None = None, until: str | None = None,
                   limit: int = 1000):
    from evroam.model.common import parse_datetime
    from evroam.services.errors import Invalid

    try:
        start = parse_datetime(since) if since else None
        end = parse_datetime(until) if until else None
    except ValueError as exc:
        raise Invalid(f"since/until: {exc}") from None
    entries = await request.app.state.platform.ocpp_log.query(charger_id=charger, since=start, until=end,
                                                              limit=limit)
    return [{"at": e.at.isoformat(), "charger": e.charger_id, "direction": e.direction, "action": e.action,
             "unique_id": e.unique_id, "frame": e.frame} for e in entries]
