"""Log: the OCPP transaction log (every frame to and from chargers), filtered by charger, action,
direction and time, newest first; and the audit log (who did what in the back office)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.model.common import parse_datetime, utcnow
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import error_page, render

router = APIRouter()
PAGE = 100
FRAME_CHARS = 600


@router.get("/log")
async def ocpp_log(request: Request, charger: str = "", action: str = "", direction: str = "", since: str = "",
                   until: str = "", before: int | None = None, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        start = parse_datetime(since) if since else None
        end = parse_datetime(until) if until else None
    except ValueError as exc:
        return error_page(request, 400, f"since/until: {exc}")
    if start is None and not charger.strip():
        start = utcnow() - timedelta(days=1)  # without a charger: the last day unless said otherwise
    async with p.store.connect() as conn:
        rows = await p.store.listings.ocpp_log(conn, charger_id=charger.strip() or None, action=action.strip() or None,
                                               direction=direction or None, since=start, until=end, before=before,
                                               limit=PAGE)
    return render(request, "log.html", rows=rows, charger=charger, action=action, direction=direction,
                  since=since, until=until, frame_chars=FRAME_CHARS,
                  next_before=rows[-1].pk if len(rows) == PAGE else None, default_since=start if not since else None)


@router.get("/audit")
async def audit(request: Request, actor: str = "", action: str = "", before: int | None = None,
                _: WebSession = Depends(auth.signed_in)) -> Response:
    entries = await auth.platform(request).audit.entries(actor=actor.strip() or None, action=action.strip() or None,
                                                         before=before, limit=PAGE)
    return render(request, "audit.html", entries=entries, actor=actor, action=action,
                  next_before=entries[-1].pk if len(entries) == PAGE else None, current="/log")
