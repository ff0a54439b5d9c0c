"""Server-side plumbing shared by the OCPI routes: the error handlers that answer in OCPI form,
the caller's authentication, body parsing with per-field errors, and routing headers."""

from __future__ import annotations

import functools
import logging
import time
import weakref
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import event
from starlette.exceptions import HTTPException as StarletteHTTPException

from evroam.model.common import field_errors
from evroam.model.partners import Partner
from evroam.ocpi.transport import errors as ocpi_errors
from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport import status
from evroam.ocpi.transport.auth import token_candidates
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import OcpiError, forbidden, invalid, not_found, unauthorized
from evroam.services.errors import Forbidden, Invalid, NotFound, ServiceError
from evroam.services.throttle import OCPI, retry_after_header
from evroam.store.partners import hash_token

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


@dataclass
class Caller:
    """The authenticated partner of a request, and which of our tokens it presented."""

    partner: Partner
    token_kind: str  # "A" (registration only) or "C"
    encoding: str  # how it sent the token: "base64" | "plain"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OcpiError)
    async def _ocpi_error(request: Request, exc: OcpiError):
        return ocpi_response(exc.data, status_code=exc.ocpi_status, message=exc.message,
                             http_status=exc.http_status, headers=exc.headers)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        if not request.url.path.startswith("/ocpi"):
            from fastapi.responses import JSONResponse

            code = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden) else 400
            return JSONResponse({"detail": exc.message}, status_code=code)
        err = ocpi_error_for(exc)
        return ocpi_response(status_code=err.ocpi_status, message=err.message, http_status=err.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            lines.append(f"{loc}: {err.get('msg')}")
        if request.url.path.startswith("/ocpi"):
            return ocpi_response(status_code=status.INVALID_PARAMETERS, message="; ".join(lines), http_status=400)
        from fastapi.responses import JSONResponse

        return JSONResponse({"detail": lines}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/ocpi"):
            message = "no such OCPI endpoint" if exc.status_code == 404 else str(exc.detail)
            return ocpi_response(status_code=status.CLIENT_ERROR, message=message, http_status=exc.status_code)
        from fastapi.responses import JSONResponse

        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return ocpi_response(status_code=status.SERVER_ERROR, message="internal error; see the server log",
                             http_status=500)


def ocpi_error_for(exc: ServiceError) -> OcpiError:
    """The OCPI answer to a use-case error."""
    if isinstance(exc, Invalid):
        return invalid(exc.message)
    if isinstance(exc, NotFound):
        err = not_found(exc.message)
        if exc.kind == "location":
            err.ocpi_status = status.UNKNOWN_LOCATION
        return err
    if isinstance(exc, Forbidden):
        return forbidden(exc.message)
    return OcpiError(exc.message)


def require_owner(caller: Caller, country_code: str, party_id: str, role: str) -> None:
    """Receiver interfaces: a partner reads and writes only its own parties' objects, and never
    ours (even when its stored roles name our party)."""
    if (country_code.upper(), party_id.upper()) in caller.partner.reserved:
        raise forbidden(f"{country_code}/{party_id} is our own party: no partner may read or write its objects")
    if not caller.partner.owns(country_code, party_id, role):
        mine = ", ".join(f"{cc}/{pid}" for cc, pid in caller.partner.parties(role)) or "none"
        raise forbidden(f"{country_code}/{party_id} is not one of your {role} parties (yours: {mine})")


async def authenticate(request: Request, *, allow_token_a: bool = False) -> Caller:
    """The partner whose token the request carries. Unknown tokens count against the client's
    address; an address with too many is answered 429 before any lookup, whatever it sends."""
    platform = request.app.state.platform
    client = platform.throttle.http_client(request)
    wait = await platform.throttle.check(OCPI, client)
    if wait > 0:
        raise ocpi_errors.too_many_failures(retry_after_header(wait))
    candidates = _hashed_candidates(request.headers.get("authorization"))
    if not candidates:
        raise unauthorized("missing Authorization header: expected 'Token <credentials token>'")
    cache = _token_cache(platform.store)
    async with AsyncExitStack() as stack:
        conn = None  # opened only when a token is not in the cache
        for token, encoding, digest in candidates:
            found = cache.get(digest)
            if found is None:
                if conn is None:
                    conn = await stack.enter_async_context(platform.store.connect())
                generation = cache.generation
                found = await platform.store.partners.by_token(conn, token)
                if found is None:
                    continue
                cache.put(digest, found, generation)
            partner, kind = found
            if kind == "A" and not allow_token_a:
                raise unauthorized("the registration token (token A) only opens versions and credentials")
            if kind == "C" and not partner.registered:
                continue
            return Caller(_own_copy(partner), kind, encoding)
    await platform.throttle.failed(OCPI, client)
    raise unauthorized("unknown credentials token")


@functools.lru_cache(maxsize=1024)
def _hashed_candidates(header: str | None) -> tuple[tuple[str, str, str], ...]:
    """token_candidates of an Authorization header, each with its token's hash (a pure function
    of the header, so kept for the headers seen recently)."""
    return tuple((token, encoding, hash_token(token)) for token, encoding in token_candidates(header))


def _own_copy(partner: Partner) -> Partner:
    """A copy for one request, so that nothing a route does to its caller reaches the cache (a
    deep copy would cost more than the database lookup it saves)."""
    mine = object.__new__(Partner)
    mine.__dict__.update(partner.__dict__)
    mine.roles = [dict(r) for r in partner.roles]
    mine.endpoints = [dict(e) for e in partner.endpoints]
    mine.sync_state = dict(partner.sync_state)
    mine.hub_parties = [dict(p) for p in partner.hub_parties]
    return mine


class TokenCache:
    """Partners found by the hash of the token they presented, kept for a few seconds so that a
    request does not wait for the database to authenticate its caller.

    Every write to the partners table through this process's store (registration, token
    rotation, unregistration, invitation) empties the cache when it is executed and again when
    its transaction ends, so a rotated or withdrawn token stops working at once in this process.
    A change made by another process (a CLI command beside the server, another node) empties it
    when the change feed brings the news (`invalidate_on_changes`), and is seen within `TTL` anyway.
    A lookup that overlapped a write is not kept."""

    TTL = 0.5
    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self.generation = 0
        self.entries: dict[str, tuple[float, tuple[Partner, str]]] = {}

    def get(self, digest: str) -> tuple[Partner, str] | None:
        entry = self.entries.get(digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self.entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: str, found: tuple[Partner, str], generation: int) -> None:
        if generation != self.generation:
            return
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[digest] = (time.monotonic() + self.TTL, found)

    def invalidate(self) -> None:
        self.generation += 1
        self.entries.clear()


_token_caches: weakref.WeakKeyDictionary[Any, TokenCache] = weakref.WeakKeyDictionary()
_WROTE_PARTNERS = "evroam.wrote_partners"


def _token_cache(store: Any) -> TokenCache:
    """The token cache of a store, watching every statement of the store's engine that writes
    to the partners table."""
    cache = _token_caches.get(store)
    if cache is not None:
        return cache
    cache = _token_caches[store] = TokenCache()
    engine = store.engine.sync_engine

    def before_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if "partners" in statement and not statement.lstrip()[:6].upper() == "SELECT":
            conn.info[_WROTE_PARTNERS] = True
            cache.invalidate()

    def transaction_end(conn) -> None:
        try:
            wrote = conn.info.pop(_WROTE_PARTNERS, False)
        except Exception:  # an invalidated connection has no info any more: forget everything
            wrote = True
        if wrote:
            cache.invalidate()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", transaction_end)
    event.listen(engine, "rollback", transaction_end)
    return cache


def invalidate_on_changes(store: Any, bus: Any) -> None:
    """Empty the token cache of `store` whenever a partner changes anywhere on the platform."""
    for topic in ("partner.changed", "partner.registered", "partner.unregistered"):
        bus.subscribe(topic, lambda _event: _token_cache(store).invalidate(), everywhere=True)


async def authenticated(request: Request) -> Caller:
    """Dependency: a registered partner (token C)."""
    return await authenticate(request)


async def authenticated_for_registration(request: Request) -> Caller:
    """Dependency for versions and credentials: token A is accepted too."""
    return await authenticate(request, allow_token_a=True)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise invalid("request body is empty: expected a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"request body is not valid JSON: {exc}") from None


def validate(model: type[M], data: Any, *, what: str | None = None) -> M:
    if not isinstance(data, dict):
        raise invalid(f"{what or model.__name__}: expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = field_errors(exc)
        raise invalid("; ".join(lines[:10]) + (f" (and {len(lines) - 10} more)" if len(lines) > 10 else "")) from None


def routing_headers(request: Request, caller: Caller) -> dict[str, str]:
    """Response routing headers of a functional module: from us, to the requesting party."""
    settings = request.app.state.platform.settings
    to_cc = request.headers.get(h.FROM_COUNTRY)
    to_pid = request.headers.get(h.FROM_PARTY)
    if not (to_cc and to_pid):
        parties = caller.partner.parties()
        to_cc, to_pid = parties[0] if parties else ("", "")
    out = {h.FROM_COUNTRY: settings.country_code, h.FROM_PARTY: settings.party_id}
    if to_cc and to_pid:
        out[h.TO_COUNTRY], out[h.TO_PARTY] = to_cc, to_pid
    return out


def public_url(request: Request) -> str:
    """The public URL of the requested endpoint, without query (for Link headers)."""
    return request.app.state.platform.settings.base_url + request.url.path
