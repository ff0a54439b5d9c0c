"""Sessions: running and past (newest first, paged by key), and a session's page: energy, cost so
far, and its power and energy chart, which grows live with the charger's meter values."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.services.pricing import ENERGY_REGISTER, POWER
from evroam.store.charging import Reading
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import error_page, render

router = APIRouter()
PAGE = 50
STATES = {"active": True, "past": False, "all": None}


def series(readings: list[Reading], meter_start_wh: float | None) -> dict[str, list]:
    """The chart's columns: times (Unix seconds), power (kW) and energy since the start (kWh)."""
    power: dict[float, float] = {}
    phases: dict[float, float] = {}
    energy: dict[float, float] = {}
    for r in readings:
        t = r.timestamp.timestamp()
        if r.measurand == POWER:
            if r.phase in ("", "N"):
                power[t] = r.value / 1000.0
            else:
                phases[t] = phases.get(t, 0.0) + r.value / 1000.0
        elif r.measurand == ENERGY_REGISTER and r.phase == "":
            energy[t] = r.value
    for t, kw in phases.items():
        power.setdefault(t, kw)
    times = sorted(set(power) | set(energy))
    base = meter_start_wh if meter_start_wh is not None else (min(energy.values()) if energy else 0.0)
    return {"t": times, "kw": [round(power[t], 3) if t in power else None for t in times],
            "kwh": [round((energy[t] - base) / 1000.0, 3) if t in energy else None for t in times]}


@router.get("/sessions")
async def sessions(request: Request, state: str = "active", before: int | None = None, charger: str = "",
                   _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    s = p.settings
    state = state if state in STATES else "active"
    async with p.store.connect() as conn:
        rows = await p.store.listings.transactions(conn, (s.country_code, s.party_id), active=STATES[state],
                                                   charger_id=charger.strip() or None, before=before, limit=PAGE)
        running = await p.store.listings.count_active(conn)
    template = "_session_rows.html" if request.headers.get("hx-target") == "session-rows" else "sessions.html"
    return render(request, template, rows=rows, state=state, running=running, charger=charger,
                  next_before=rows[-1].pk if len(rows) == PAGE else None)


@router.get("/sessions/{session_id}")
async def session_page(session_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    s = p.settings
    async with p.store.connect() as conn:
        record = await p.store.sessions.get(conn, s.country_code, s.party_id, session_id)
        tx = await p.store.transactions.by_session(conn, session_id)
        readings = await p.store.transactions.readings(conn, tx.pk) if tx else []
        cdr = await p.store.cdrs.get(conn, s.country_code, s.party_id, session_id)
    if record is None:
        return error_page(request, 404, f"session {session_id!r} not found")
    data = series(readings, tx.meter_start_wh if tx else None)
    return render(request, "session.html", session=record, tx=tx, cdr=cdr, chart=data,
                  meter_start_wh=tx.meter_start_wh if tx else None, points=len(data["t"]))


@router.get("/sessions/{session_id}/summary")
async def session_summary(session_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    """The session's figures alone (energy, cost so far, status), refreshed on live events."""
    p = auth.platform(request)
    s = p.settings
    async with p.store.connect() as conn:
        record = await p.store.sessions.get(conn, s.country_code, s.party_id, session_id)
    if record is None:
        return error_page(request, 404, f"session {session_id!r} not found")
    return render(request, "_session_summary.html", session=record)
