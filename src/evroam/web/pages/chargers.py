"""Chargers: the searchable table, a charger's page (connectors with their live status, recent
OCPP messages) and the operator's commands, sent through the same operations as the admin API
(services/operations.py), so they reach the charger on whichever node holds its connection."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.services.errors import NotFound
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.actions import act
from evroam.web.render import PREFIX, error_page, render

router = APIRouter()
PAGE = 50
TRIGGERS = ("StatusNotification", "Heartbeat", "BootNotification", "MeterValues")


def _evse_rows(charger, location: dict | None) -> list[dict]:
    """Each mapped EVSE: its OCPP number, OCPI uid, status now (the location's) and connectors."""
    statuses = {e["uid"]: e.get("status", "UNKNOWN") for e in (location or {}).get("evses") or []}
    connectors = charger.state.get("connectors") or {}
    rows = []
    for number, uid in sorted(((int(k), v) for k, v in charger.evses.items())):
        reported = sorted((k.split("/")[1], v) for k, v in connectors.items() if k.split("/")[0] == str(number))
        rows.append({"number": number, "uid": uid, "status": statuses.get(uid, "UNKNOWN"), "connectors": reported})
    return rows


@router.get("/chargers")
async def chargers(request: Request, q: str = "", offset: int = 0,
                   _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    offset = max(0, offset)
    async with p.store.connect() as conn:
        rows, total = await p.store.listings.chargers(conn, search=q.strip() or None, offset=offset, limit=PAGE)
    connected = p.control.connected()
    context = {"rows": rows, "total": total, "offset": offset, "page": PAGE, "q": q, "connected": connected}
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "charger-rows":
        return render(request, "_charger_rows.html", **context)
    return render(request, "chargers.html", **context)


@router.get("/chargers/{charger_id}")
async def charger(charger_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        record = await p.chargers.get_record(charger_id)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    s = p.settings
    async with p.store.connect() as conn:
        location = (await p.store.locations.get(conn, s.country_code, s.party_id, record.location_id)
                    if record.location_id else None)
        messages = await p.store.listings.ocpp_log(conn, charger_id=charger_id, limit=20)
        active = await p.store.listings.transactions(conn, (s.country_code, s.party_id), active=True,
                                                     charger_id=charger_id, limit=20)
    version = p.control.version(charger_id)
    return render(request, "charger.html", charger=record, location=location, evses=_evse_rows(record, location),
                  messages=messages, active=active, online=version is not None, version=version,
                  triggers=TRIGGERS)


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


@router.post("/chargers/{charger_id}/{command}")
async def command(charger_id: str, command: str, request: Request,
                  session: WebSession = Depends(auth.acting)) -> Response:
    fields = await auth.form(request)
    ops = auth.platform(request).operations
    back = f"{PREFIX}/chargers/{charger_id}"
    evse = _int(fields.get("evse"))
    if command == "reset":
        hard = fields.get("kind") == "hard"
        return await act(request, session, "charger.reset", charger_id, {"hard": hard},
                         ops.reset(charger_id, hard=hard), done=f"Reset ({'hard' if hard else 'soft'}) sent", back=back)
    if command == "unlock":
        connector = _int(fields.get("connector"), 1)
        return await act(request, session, "charger.unlock", charger_id, {"evse": evse, "connector": connector},
                         ops.unlock(charger_id, evse_number=evse or 1, connector_number=connector or 1),
                         done="Unlock sent", back=back)
    if command == "availability":
        operative = fields.get("operative") == "true"
        return await act(request, session, "charger.availability", charger_id,
                         {"evse": evse or 0, "operative": operative},
                         ops.availability(charger_id, evse_number=evse or 0, operative=operative),
                         done="Change of availability sent", back=back)
    if command == "trigger":
        message = fields.get("message", "")
        return await act(request, session, "charger.trigger", charger_id, {"message": message, "evse": evse},
                         ops.trigger(charger_id, message, evse_number=evse), done=f"{message} requested", back=back)
    if command == "get-config":
        keys = [k.strip() for k in fields.get("keys", "").split(",") if k.strip()]
        return await act(request, session, "charger.get-config", charger_id, {"keys": keys},
                         ops.get_config(charger_id, keys), done="Configuration read", back=back)
    if command == "set-config":
        key, value = fields.get("key", "").strip(), fields.get("value", "")
        return await act(request, session, "charger.set-config", charger_id, {"key": key, "value": value},
                         ops.set_config(charger_id, key, value), done=f"{key} change sent", back=back)
    if command == "start":
        token = fields.get("token", "").strip()
        return await act(request, session, "charger.start", charger_id, {"evse": evse, "token": token},
                         ops.start(charger_id, evse_number=evse or 1, uid=token), done="Start sent", back=back)
    if command == "stop":
        session_id = fields.get("session_id", "").strip()
        return await act(request, session, "charger.stop", charger_id, {"session_id": session_id},
                         ops.stop(charger_id, session_id=session_id), done="Stop sent", back=back)
    return error_page(request, 404, f"no command {command!r}")
