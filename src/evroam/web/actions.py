"""Doing something from the back office: the service call, its entry in the audit log, and the
answer the browser shows (a fragment for htmx, a page otherwise). Errors of the use cases and of
chargers become clear messages with their HTTP status."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from evroam.services.errors import Forbidden, NotFound, ServiceError
from evroam.services.ports import ChargerOffline, ChargerRefused, ChargerTimedOut
from evroam.store.users import WebSession
from evroam.web.auth import client_address, platform
from evroam.web.render import render


def status_of(exc: ServiceError) -> int:
    if isinstance(exc, ChargerOffline):
        return 409
    if isinstance(exc, ChargerTimedOut):
        return 504
    if isinstance(exc, ChargerRefused):
        return 502
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    return 400


async def act(request: Request, session: WebSession, action: str, target: str | None, detail: dict[str, Any],
              work: Awaitable[Any], *, done: str, back: str) -> Response:
    """Run `work`, audit it, and answer with what happened (`done`: the message on success;
    `back`: the page to return to)."""
    audit = platform(request).audit
    user = session.user
    try:
        result = await work
    except ServiceError as exc:
        await audit.record(user.name, user.role, action, target, detail, ok=False, outcome=exc.message,
                           address=client_address(request))
        return answer(request, status_of(exc), False, exc.message, None, back)
    await audit.record(user.name, user.role, action, target, detail, outcome=_outcome(result),
                       address=client_address(request))
    return answer(request, 200, True, done, result, back)


def _outcome(result: Any) -> str | None:
    if isinstance(result, dict) and isinstance(result.get("answer"), dict):
        status = result["answer"].get("status")
        return f"answer: {status}" if status else "answered"
    return None


def answer(request: Request, status_code: int, ok: bool, message: str, result: Any, back: str) -> Response:
    template = "_result.html" if request.headers.get("hx-request") else "result.html"
    return render(request, template, status_code=status_code, ok=ok, message=message, result=result, back=back)
