"""Signing in and out."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from evroam.services.throttle import retry_after_header
from evroam.services.users import SignInRefused
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import PREFIX, render

router = APIRouter()


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of ours only (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", login_csrf=token, next=_next(next), message=None)
    auth.set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await auth.form(request)
    expected = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(fields.get("csrf", "").encode(), expected.encode()):
        raise auth.Refused(403, "missing or wrong CSRF token: reload the sign-in page and try again")
    users = auth.platform(request).users
    try:
        signed = await users.sign_in(fields.get("username", "").strip(), fields.get("password", ""),
                                     address=auth.client_address(request))
    except SignInRefused as exc:
        headers = {"Retry-After": retry_after_header(exc.retry_after)} if exc.retry_after else {}
        response = render(request, "login.html", status_code=429 if exc.retry_after else 200,
                          login_csrf=expected, next=_next(fields.get("next")), message=exc.message,
                          username=fields.get("username", ""))
        response.headers.update(headers)
        return response
    response = RedirectResponse(_next(fields.get("next")), status_code=303)
    auth.set_cookie(request, response, auth.SESSION_COOKIE, signed.token,
                    max_age=int(users.lifetime.total_seconds()))
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, session: WebSession = Depends(auth.signed_in)) -> Response:
    await auth.check_csrf(request, session.csrf)
    await auth.platform(request).users.sign_out(request.cookies.get(auth.SESSION_COOKIE, ""), session,
                                                address=auth.client_address(request))
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
