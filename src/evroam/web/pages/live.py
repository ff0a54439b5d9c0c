"""`GET /live`: the server-sent events of a page (see web/live.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import StreamingResponse

from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.live import KINDS, Listener

router = APIRouter()


@router.get("/live")
async def live(request: Request, kinds: str = "evse,charger,session", session: str | None = None,
               chargers: str | None = None, _: WebSession = Depends(auth.signed_in)) -> StreamingResponse:
    wanted = frozenset(k for k in kinds.split(",") if k in KINDS)
    followed = frozenset(c for c in (chargers or "").split(",")[:500] if c)
    listener = Listener(kinds=wanted, session=session or None, chargers=followed)
    server = getattr(request.app.state, "http_server", None)  # its should_exit: shutting down
    stream = request.app.state.live.stream(listener, lambda: bool(server is not None and server.should_exit))
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
