"""Who is asking: the signed-in operator of a request (the session cookie), the CSRF token every
state-changing request must carry, and the roles that may act.

- A page without a session redirects to the sign-in page (an htmx or event-stream request gets
  401 instead).
- A POST (every change and command) must carry the session's CSRF token, in the form field
  `csrf` or the `X-CSRF-Token` header (htmx sends it from the page); without it: 403, nothing
  done. The sign-in form carries one too (a cookie of its own, compared with the field).
- Viewers see no action buttons, and their POSTs are answered 403.
- Cookies are HttpOnly and SameSite=Strict (Secure over HTTPS)."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from evroam.services.users import may_act
from evroam.store.users import WebSession
from evroam.web.render import PREFIX

SESSION_COOKIE = "evroam_session"
LOGIN_CSRF_COOKIE = "evroam_signin"
MAX_FORM_BYTES = 256 * 1024


class NotSignedIn(Exception):
    """The request has no live session."""


class Refused(Exception):
    """The request may not be done: `status` (401, 403) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def platform(request: Request):
    return request.app.state.platform


def client_address(request: Request) -> str | None:
    return platform(request).throttle.http_client(request)


def secure_cookies(request: Request) -> bool:
    settings = platform(request).settings
    if settings.web_secure_cookies is not None:
        return settings.web_secure_cookies
    return (settings.public_url or "").startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=secure_cookies(request))


async def form(request: Request) -> dict[str, str]:
    """The request's form fields (application/x-www-form-urlencoded), read once."""
    cached = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "form too large")
    fields: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            fields.setdefault(key, value)
    request.state.form = fields
    return fields


async def signed_in(request: Request) -> WebSession:
    """The request's session (dependency of every page); NotSignedIn without one."""
    found = getattr(request.state, "web", None)
    if found is not None:
        return found
    session = await platform(request).users.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotSignedIn()
    request.state.web = session
    return session


async def acting(request: Request) -> WebSession:
    """A signed-in operator or admin sending a state-changing request with its CSRF token
    (dependency of every POST)."""
    session = await signed_in(request)
    await check_csrf(request, session.csrf)
    if not may_act(session.user.role):
        raise Refused(403, f"{session.user.name} is a viewer: viewers cannot change anything")
    return session


async def admin(request: Request) -> WebSession:
    session = await acting(request)
    if session.user.role != "admin":
        raise Refused(403, "only admins may do this")
    return session


async def check_csrf(request: Request, expected: str) -> None:
    given = request.headers.get("x-csrf-token") or (await form(request)).get("csrf") or ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "missing or wrong CSRF token: reload the page and try again")


def sign_in_redirect(request: Request) -> Response:
    if request.headers.get("hx-request") or request.url.path.endswith("/live"):
        return Response("sign in first", status_code=401, headers={"HX-Redirect": f"{PREFIX}/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303)
