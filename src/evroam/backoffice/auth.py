"""Admin API authentication: `Authorization: Bearer <admin token>`.

The token comes from EVROAM_ADMIN_TOKEN, or is generated once and kept in `admin-token` next to
the SQLite database (or in the working folder), readable only by its owner. Wrong tokens count
against the client's address: too many, and it is answered 429 for a while (services/throttle.py)."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, Request
from sqlalchemy.engine import make_url

from evroam.services.throttle import ADMIN, retry_after_header
from evroam.settings import Settings


def admin_token_file(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().with_name("admin-token")
    return Path("admin-token").resolve()


def ensure_admin_token(settings: Settings) -> str:
    if settings.admin_token:
        return settings.admin_token
    path = admin_token_file(settings)
    if path.is_file():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


async def require_admin(request: Request) -> None:
    throttle = request.app.state.platform.throttle
    client = throttle.http_client(request)
    wait = await throttle.check(ADMIN, client)
    if wait > 0:
        retry_after = retry_after_header(wait)
        raise HTTPException(429, f"admin API: too many wrong tokens from your address; retry after {retry_after} s",
                            headers={"Retry-After": retry_after})
    expected = request.app.state.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected.encode()):
        if header:  # a token was tried (asking without one is not guessing)
            await throttle.failed(ADMIN, client)
        raise HTTPException(401, "admin API: send 'Authorization: Bearer <token>' (see `evroam admin-token`)",
                            headers={"WWW-Authenticate": "Bearer"})
