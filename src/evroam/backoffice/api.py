"""Admin REST API (JSON, authenticated): partners, our locations and tariffs, chargers, our
drivers' tokens, sessions and CDRs, and the OCPP transaction log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import CHARGER_COMMAND, ERRORS
from evroam.model.locations import Status

router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(require_admin)], responses=ERRORS)


class StatusChange(BaseModel):
    status: Status


class ChargerIn(BaseModel):
    id: str = Field(description="the charge point id (its URL segment and Basic-auth user name)")
    password: str | None = Field(None, description="Basic-auth password (8-64 characters)")
    location_id: str
    evses: dict[int, str] = Field(description='OCPP connector (1.6) / EVSE (2.x) number -> EVSE uid, e.g. {"1": "UID"}')


class ResetIn(BaseModel):
    hard: bool = Field(False, description="1.6 Hard / 2.x Immediate; otherwise Soft / OnIdle")


class AvailabilityIn(BaseModel):
    evse: int = Field(0, ge=0, description="OCPP connector (1.6) / EVSE (2.x) number; 0: the whole charger")
    operative: bool


class TriggerIn(BaseModel):
    message: str = Field(description="e.g. StatusNotification, Heartbeat, BootNotification, MeterValues")
    evse: int | None = Field(None, ge=1)


class ConfigSet(BaseModel):
    key: str = Field(description="1.6 configuration key, or 2.x Component.Variable")
    value: str


class LocalListIn(BaseModel):
    tokens: list[str] = Field(default_factory=list, description="token uids, all Accepted; empty: clear the list")
    version: int | None = Field(None, ge=1, description="list version (default: the charger's current + 1)")


class StartIn(BaseModel):
    evse: int = Field(ge=1)
    token: str = Field(description="token uid (idTag / idToken)")


class StopIn(BaseModel):
    session_id: str


class UnlockIn(BaseModel):
    evse: int = Field(ge=1)
    connector: int = Field(1, ge=1)


class ChargerChange(BaseModel):
    password: str | None = None
    location_id: str | None = None
    evses: dict[int, str] | None = None


def _partner_view(p, outbox: dict[str, int], tariffs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A partner for operators: its OCPI version, parties (a hub's with their status), endpoints,
    pushes waiting, and (a partner we send tariffs to) those of our tariffs its version cannot
    say, which it is not sent, with the reasons."""
    from evroam.ocpi import registry

    view = {
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
    if p.is_hub:
        view["hub_parties"] = [{k: e[k] for k in ("country_code", "party_id", "role", "status", "refused") if k in e}
                               for e in p.hub_parties]
    if tariffs is not None and p.endpoint("tariffs", "RECEIVER"):
        view["tariffs_not_sent"] = registry.refused_tariffs(p.version, tariffs)
    return view


async def partner_views(platform) -> list[dict[str, Any]]:
    s = platform.settings
    async with platform.store.connect() as conn:
        items = await platform.store.partners.list(conn)
        counts = await platform.store.outbox.counts(conn)
        tariffs = await platform.store.tariffs.all(conn, owners=[(s.country_code, s.party_id)])
    return [_partner_view(p, counts.get(p.pk, {}), tariffs) for p in items]


@router.get("/partners", summary="Registered and invited partners (version, parties, tariffs not sent)")
async def partners(request: Request):
    return await partner_views(request.app.state.platform)


@router.get("/locations", summary="Our locations")
async def locations(request: Request):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.locations.all(conn, owners=[(s.country_code, s.party_id)])


@router.post("/locations", summary="Import or replace our locations (OCPI JSON in the model's form, one or a list)")
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


@router.post("/tariffs", summary="Import or replace our tariffs (OCPI JSON in the model's form, one or a list)")
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
    connected = platform.control.connected()
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
async def sessions(request: Request, limit: int = Query(100, ge=1, le=10_000)):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.sessions.all(conn, (s.country_code, s.party_id), limit=limit)


@router.get("/cdrs", summary="Our newest CDRs")
async def cdrs(request: Request, limit: int = Query(100, ge=1, le=10_000)):
    platform = request.app.state.platform
    s = platform.settings
    async with platform.store.connect() as conn:
        return await platform.store.cdrs.all(conn, (s.country_code, s.party_id), limit=limit)


@router.get("/transactions", summary="Our newest OCPP transactions; `flagged`: only those to look at (refused at "
            "their start, orphans, readings refused as implausible, a pricing that failed)")
async def transactions(request: Request, flagged: bool = False, charger: str | None = None,
                       limit: int = Query(100, ge=1, le=1000)):
    from evroam.services.charging import transaction_view

    found = await request.app.state.platform.charging.transactions(charger_id=charger, flagged=flagged, limit=limit)
    return [transaction_view(tx) for tx in found]


@router.get("/ocpp-log", summary="The OCPP transaction log, oldest first (the newest `limit` entries)")
async def ocpp_log(request: Request, charger: str | None = None, since: str | None = None, until: str | None = None,
                   limit: int = Query(1000, ge=1, le=100_000)):
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


# ------------------------------------------------------------------ commands to connected chargers


async def _operate(request: Request, work):
    """Run an operator command; a charger that is offline (409), silent (504) or answers with a
    CALLERROR (502) gets a clear HTTP error."""
    from fastapi import HTTPException

    from evroam.services.ports import ChargerOffline, ChargerRefused, ChargerTimedOut

    try:
        return await work(request.app.state.platform.operations)
    except ChargerOffline as exc:
        raise HTTPException(409, exc.message) from None
    except ChargerTimedOut as exc:
        raise HTTPException(504, exc.message) from None
    except ChargerRefused as exc:
        raise HTTPException(502, exc.message) from None


@router.post("/chargers/{charger_id}/reset", summary="Reset a charger (1.6 Reset Soft/Hard, 2.x OnIdle/Immediate)",
             responses=CHARGER_COMMAND)
async def reset_charger(charger_id: str, body: ResetIn, request: Request):
    return await _operate(request, lambda c: c.reset(charger_id, hard=body.hard))


@router.post("/chargers/{charger_id}/availability", summary="Change availability of a connector/EVSE or the charger",
             responses=CHARGER_COMMAND)
async def change_availability(charger_id: str, body: AvailabilityIn, request: Request):
    return await _operate(request, lambda c: c.availability(charger_id, evse_number=body.evse,
                                                            operative=body.operative))


@router.post("/chargers/{charger_id}/trigger", summary="Ask the charger to send a message (TriggerMessage)",
             responses=CHARGER_COMMAND)
async def trigger_message(charger_id: str, body: TriggerIn, request: Request):
    return await _operate(request, lambda c: c.trigger(charger_id, body.message, evse_number=body.evse))


@router.get("/chargers/{charger_id}/config", summary="Read configuration (1.6 keys / 2.x Component.Variable)",
            responses=CHARGER_COMMAND)
async def get_config(charger_id: str, request: Request, key: list[str] | None = Query(None)):
    return await _operate(request, lambda c: c.get_config(charger_id, key or []))


@router.put("/chargers/{charger_id}/config", summary="Change a configuration key (1.6) / variable (2.x)",
            responses=CHARGER_COMMAND)
async def set_config(charger_id: str, body: ConfigSet, request: Request):
    return await _operate(request, lambda c: c.set_config(charger_id, body.key, body.value))


@router.post("/chargers/{charger_id}/clear-cache", summary="Clear the charger's authorization cache",
             responses=CHARGER_COMMAND)
async def clear_cache(charger_id: str, request: Request):
    return await _operate(request, lambda c: c.clear_cache(charger_id))


@router.get("/chargers/{charger_id}/local-list", summary="The version of the charger's local authorization list",
            responses=CHARGER_COMMAND)
async def local_list_version(charger_id: str, request: Request):
    return await _operate(request, lambda c: c.local_list_version(charger_id))


@router.put("/chargers/{charger_id}/local-list", summary="Send a full local authorization list (empty: clear it)",
            responses=CHARGER_COMMAND)
async def send_local_list(charger_id: str, body: LocalListIn, request: Request):
    return await _operate(request, lambda c: c.send_local_list(charger_id, body.tokens, list_version=body.version))


@router.post("/chargers/{charger_id}/start", summary="Start charging on an EVSE for a token",
             responses=CHARGER_COMMAND)
async def remote_start(charger_id: str, body: StartIn, request: Request):
    return await _operate(request, lambda c: c.start(charger_id, evse_number=body.evse, uid=body.token))


@router.post("/chargers/{charger_id}/stop", summary="Stop a session at this charger",
             responses=CHARGER_COMMAND)
async def remote_stop(charger_id: str, body: StopIn, request: Request):
    return await _operate(request, lambda c: c.stop(charger_id, session_id=body.session_id))


@router.post("/chargers/{charger_id}/unlock", summary="Unlock a connector", responses=CHARGER_COMMAND)
async def unlock_connector(charger_id: str, body: UnlockIn, request: Request):
    return await _operate(request, lambda c: c.unlock(charger_id, evse_number=body.evse,
                                                      connector_number=body.connector))


router.include_router(__import__("evroam.backoffice.drivers").backoffice.drivers.router)  # drivers, disputes
