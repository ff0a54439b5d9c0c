"""The driver API routes, /driver/v1. Errors are JSON `{"error": "...", "detail": ...}` with a
fitting HTTP status: 401 without a valid driver API key, 404 for what does not exist or is not
the driver's, 403 for what the driver may not do, 400/422 for bad input, 503 when remote
commands are not available."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from evroam.driverapi import chargers as geo
from evroam.driverapi.openapi import ERRORS, UNAVAILABLE
from evroam.driverapi.views import cdr_view, location_view, session_view
from evroam.model.common import MAX_PAGING_VALUE, utcnow
from evroam.model.drivers import Driver
from evroam.services.errors import Forbidden, Invalid, NotFound, ServiceError
from evroam.services.invoices import to_csv
from evroam.services.objects import same_id
from evroam.services.throttle import DRIVER, retry_after_header

log = logging.getLogger(__name__)
PREFIX = "/driver/v1"
router = APIRouter(prefix=PREFIX, tags=["driver API"], responses=ERRORS)


class DriverApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _error(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


API_KEY = HTTPBearer(auto_error=False, scheme_name="driver API key",
                     description="the driver's API key (`evroam drivers add` / `evroam drivers key`)")


async def current_driver(request: Request, _: Any = Depends(API_KEY)) -> Driver:
    """The driver whose API key the request carries (`Authorization: Bearer <key>`). Unknown keys
    count against the client's address; too many, and it is answered 429 for a while, before
    any lookup (services/throttle.py)."""
    platform = request.app.state.platform
    client = platform.throttle.http_client(request)
    wait = await platform.throttle.check(DRIVER, client)
    if wait > 0:
        retry_after = retry_after_header(wait)
        raise DriverApiError(429, "too_many_requests", f"too many wrong API keys from your address; retry after "
                             f"{retry_after} s", {"Retry-After": retry_after})
    scheme, _sep, key = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="driver API"'}
    if scheme.lower() != "bearer" or not key.strip():
        raise DriverApiError(401, "unauthorized", "send 'Authorization: Bearer <driver API key>'", challenge)
    driver = await platform.drivers.by_api_key(key.strip())
    if driver is None:
        await platform.throttle.failed(DRIVER, client)
        raise DriverApiError(401, "unauthorized", "unknown driver API key", challenge)
    return driver


def _platform(request: Request):
    return request.app.state.platform


# ------------------------------------------------------------------ the driver


@router.get("/me", summary="The driver: contract, tokens, status, spend this month")
async def me(request: Request, driver: Driver = Depends(current_driver)):
    return await _platform(request).drivers.view(driver)


# ------------------------------------------------------------------ finding chargers


@router.get("/chargers", summary="Chargers near a point (nearest first), with filters")
async def find_chargers(
    request: Request,
    lat: float = Query(ge=-90, le=90, description="latitude of the point"),
    lon: float = Query(ge=-180, le=180, description="longitude of the point"),
    radius_km: float = Query(5.0, gt=0, le=500, description="search radius in km"),
    connector_type: str | None = Query(None, description="OCPI connector standard, e.g. IEC_62196_T2_COMBO"),
    min_power_kw: float | None = Query(None, ge=0, description="only connectors of at least this power"),
    available: bool = Query(False, description="only EVSEs AVAILABLE now"),
    operator: str | None = Query(None, description="CPO party (NL/ABC or ABC) or part of the operator's name"),
    limit: int = Query(50, ge=1, le=200),
    driver: Driver = Depends(current_driver),
):
    platform = _platform(request)
    async with platform.store.connect() as conn:
        locations = await platform.store.locations.all(conn)
    found = geo.search(locations, lat=lat, lon=lon, radius_km=radius_km, connector_type=connector_type,
                       min_power_kw=min_power_kw, available=available, operator=operator, limit=limit)
    return {"chargers": found}


@router.get("/locations/{country_code}/{party_id}/{location_id}",
            summary="A location: live EVSE status, tariff in words and a price estimate per connector")
async def location(
    country_code: str, party_id: str, location_id: str, request: Request,
    energy_kwh: float = Query(30.0, gt=0, le=1000, description="energy of the estimate (kWh)"),
    power_kw: float | None = Query(None, gt=0, le=1000, description="the car's charging power, when lower than "
                                                                    "the connector's"),
    driver: Driver = Depends(current_driver),
):
    platform = _platform(request)
    async with platform.store.connect() as conn:
        loc = await platform.store.locations.get(conn, country_code, party_id, location_id)
        if loc is None or loc.get("publish") is False:
            raise DriverApiError(404, "not_found", f"location {country_code}/{party_id}/{location_id} not found")
        tariffs = {}
        for evse in loc.get("evses") or ():
            for c in evse.get("connectors") or ():
                for tid in c.get("tariff_ids") or ():
                    if tid not in tariffs:
                        tariff = await platform.store.tariffs.get(conn, country_code, party_id, tid)
                        if tariff is not None:
                            tariffs[tid] = tariff
    return location_view(loc, tariffs, energy_kwh=energy_kwh, power_kw=power_kw, now=utcnow())


# ------------------------------------------------------------------ charging


class StartIn(BaseModel):
    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str = Field(min_length=1, max_length=36)
    connector_id: str | None = Field(None, max_length=36)
    token_uid: str | None = Field(None, max_length=36, description="one of your tokens (default: your app token)")


class StopIn(BaseModel):
    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    session_id: str = Field(min_length=1, max_length=36)


def _remote_commands(platform):
    service = getattr(platform, "remote_commands", None)
    if service is None:
        raise DriverApiError(503, "unavailable", "remote commands are not available on this platform")
    return service


async def _driver_token(platform, driver: Driver, token_uid: str | None) -> dict[str, Any]:
    tokens = await platform.drivers.tokens_of(driver)
    if token_uid is not None:
        token = next((t for t in tokens if same_id(t["uid"], token_uid)), None)
        if token is None:
            raise DriverApiError(404, "not_found", f"token {token_uid!r} is not one of your tokens")
        return token
    valid = [t for t in tokens if t.get("valid")]
    token = next((t for t in valid if t["type"] == "APP_USER"), valid[0] if valid else None)
    if token is None:
        raise DriverApiError(403, "blocked", "you have no valid token")
    return token


@router.post("/charging/start", status_code=202, summary="Start charging at an EVSE (OCPI START_SESSION)",
             responses=UNAVAILABLE)
async def start_charging(body: StartIn, request: Request, driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    if not driver.active:
        raise DriverApiError(403, "blocked", "your account is blocked")
    token = await _driver_token(platform, driver, body.token_uid)
    async with platform.store.connect() as conn:
        loc = await platform.store.locations.get(conn, body.country_code, body.party_id, body.location_id)
    where = f"{body.country_code}/{body.party_id}/{body.location_id}"
    if loc is None:
        raise DriverApiError(404, "not_found", f"location {where} not found")
    evse = next((e for e in loc.get("evses") or () if same_id(e["uid"], body.evse_uid)), None)
    if evse is None or evse.get("status") == "REMOVED":
        raise DriverApiError(404, "not_found", f"EVSE {body.evse_uid!r} not found at {where}")
    if body.connector_id is not None and not any(same_id(c["id"], body.connector_id) for c in evse["connectors"]):
        raise DriverApiError(404, "not_found", f"connector {body.connector_id!r} not found at EVSE {body.evse_uid}")
    if not token.get("valid"):
        raise DriverApiError(403, "blocked", f"token {token['uid']} is blocked")
    try:
        await platform.drivers.check_may_start(driver, token, body.country_code, body.party_id)
    except Forbidden as exc:
        raise DriverApiError(403, "not_allowed", exc.message) from None
    service = _remote_commands(platform)
    try:
        record = await service.start_session(token=token, country_code=body.country_code.upper(),
                                             party_id=body.party_id.upper(), location_id=loc["id"],
                                             evse_uid=evse["uid"], connector_id=body.connector_id)
    except ValueError as exc:
        raise DriverApiError(400, "refused", str(exc)) from None
    return JSONResponse(record, status_code=202)


@router.post("/charging/stop", status_code=202, summary="Stop one of your sessions (OCPI STOP_SESSION)",
             responses=UNAVAILABLE)
async def stop_charging(body: StopIn, request: Request, driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    await _own_record(platform, driver, "session", body.country_code, body.party_id, body.session_id)
    service = _remote_commands(platform)
    try:
        record = await service.stop_session(country_code=body.country_code.upper(), party_id=body.party_id.upper(),
                                            session_id=body.session_id)
    except ValueError as exc:
        raise DriverApiError(400, "refused", str(exc)) from None
    return JSONResponse(record, status_code=202)


@router.get("/commands/{command_id}", summary="A start or stop you asked for, and its result", responses=UNAVAILABLE)
async def command(command_id: str, request: Request, driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    record = await _remote_commands(platform).get(command_id)
    mine = {t["uid"].casefold() for t in await platform.drivers.tokens_of(driver)}
    if record is None or str(record.get("token_uid") or "").casefold() not in mine:
        raise DriverApiError(404, "not_found", f"command {command_id!r} not found")
    return record


# ------------------------------------------------------------------ history and invoices


async def _own_record(platform, driver: Driver, kind: str, cc: str, pid: str, object_id: str) -> dict[str, Any]:
    """One of the driver's sessions or CDRs; 404 when it does not exist or is someone else's."""
    await platform.driver_records.catch_up()
    async with platform.store.connect() as conn:
        owner = await platform.store.driver_records.owner_of(conn, kind, cc, pid, object_id)
        repo = platform.store.sessions if kind == "session" else platform.store.cdrs
        data = await repo.get(conn, cc, pid, object_id) if owner == driver.pk else None
    if data is None:
        raise DriverApiError(404, "not_found", f"{kind} {cc}/{pid}/{object_id} not found")
    return data


@router.get("/sessions", summary="Your sessions, newest first (active=true: only those still going on)")
async def sessions(request: Request, active: bool | None = None, limit: int = Query(50, ge=1, le=500),
                   offset: int = Query(0, ge=0, le=MAX_PAGING_VALUE), driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    await platform.driver_records.catch_up()
    async with platform.store.connect() as conn:
        if active is None:
            items = await platform.store.driver_records.of_driver(conn, driver.pk, "session", offset=offset,
                                                                  limit=limit)
        else:
            recent = await platform.store.driver_records.of_driver(conn, driver.pk, "session", limit=1000)
            items = [s for s in recent if (s.get("status") in ("ACTIVE", "PENDING")) == active][offset:offset + limit]
        now = utcnow()
        return {"sessions": [await session_view(platform, conn, s, now=now) for s in items]}


@router.get("/sessions/{country_code}/{party_id}/{session_id}", summary="One of your sessions: kWh, cost so far")
async def session(country_code: str, party_id: str, session_id: str, request: Request,
                  driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    data = await _own_record(platform, driver, "session", country_code, party_id, session_id)
    async with platform.store.connect() as conn:
        return await session_view(platform, conn, data)


@router.get("/cdrs", summary="Your charge detail records with their costs, newest first")
async def cdrs(request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_PAGING_VALUE),
               driver: Driver = Depends(current_driver)):
    platform = _platform(request)
    await platform.driver_records.catch_up()
    async with platform.store.connect() as conn:
        items = await platform.store.driver_records.of_driver(conn, driver.pk, "cdr", offset=offset, limit=limit)
        checks = await platform.store.cdr_checks.of_cdrs(
            conn, [(c["country_code"], c["party_id"], c["id"]) for c in items])
    return {"cdrs": [cdr_view(c, checks.get((c["country_code"].upper(), c["party_id"].upper(), c["id"])))
                     for c in items]}


@router.get("/invoices/{month}.csv", summary="Your invoice of a month (YYYY-MM) as CSV",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def invoice_csv(month: str, request: Request, driver: Driver = Depends(current_driver)):
    invoice = await _invoice(request, driver, month)
    return Response(to_csv(invoice), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="invoice-{month}.csv"'})


@router.get("/invoices/{month}", summary="Your invoice of a month (YYYY-MM): a line per CDR, VAT, totals")
async def invoice(month: str, request: Request, driver: Driver = Depends(current_driver)):
    return await _invoice(request, driver, month)


async def _invoice(request: Request, driver: Driver, month: str) -> dict[str, Any]:
    platform = _platform(request)
    await platform.driver_records.catch_up()
    return await platform.invoices.month(driver, month)


# ------------------------------------------------------------------ mounting


def _for_driver_api(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def install(app: FastAPI) -> None:
    """Mount the driver API on the application, with its own error form on its paths (other
    paths keep the application's error handlers)."""
    app.include_router(router)

    async def driver_api_error(request: Request, exc: DriverApiError):
        return _error(exc.status, exc.error, exc.detail, exc.headers)

    app.add_exception_handler(DriverApiError, driver_api_error)

    def wrap(exc_class, answer):
        previous = app.exception_handlers.get(exc_class)

        async def handler(request: Request, exc):
            if _for_driver_api(request) or previous is None:
                return answer(exc)
            return await previous(request, exc)

        app.add_exception_handler(exc_class, handler)

    def service_error(exc: ServiceError):
        if isinstance(exc, NotFound):
            return _error(404, "not_found", exc.message)
        if isinstance(exc, Forbidden):
            return _error(403, "forbidden", exc.message)
        if isinstance(exc, Invalid):
            return _error(400, "invalid", exc.message)
        return _error(400, "error", exc.message)

    def validation_error(exc: RequestValidationError):
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            lines.append(f"{loc}: {err.get('msg')}")
        return _error(422, "invalid", lines)

    def http_error(exc: StarletteHTTPException):
        name = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, name.get(exc.status_code, "error"), exc.detail, getattr(exc, "headers", None))

    def unexpected(exc: Exception):
        log.error("unhandled error in the driver API", exc_info=exc)
        return _error(500, "internal_error", "internal error; see the server log")

    wrap(ServiceError, service_error)
    wrap(RequestValidationError, validation_error)
    wrap(StarletteHTTPException, http_error)
    wrap(Exception, unexpected)
