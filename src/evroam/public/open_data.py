"""Open data endpoints, /open-data: our published locations (with their EVSEs' live status) and
the tariffs they name, as OCPI 2.2.1 objects paged as the OCPI sender interfaces page them
(offset, limit, date_from, date_to; Link, X-Total-Count, X-Limit), and as DATEX II v3 AFIR
energy infrastructure publications (table and status).

No token is needed unless `open_data_tokens` is set; then a consumer sends `Authorization:
Token <its token>` (wrong tokens are throttled per address, like every other door). A NAP that
takes OCPI without the credentials module starts at /open-data/ocpi/versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from evroam.model.common import utcnow
from evroam.ocpi import registry
from evroam.ocpi.listing import paged_response
from evroam.ocpi.mappings import base
from evroam.ocpi.transport import errors as ocpi_errors
from evroam.ocpi.transport.auth import token_candidates
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import not_found, unauthorized
from evroam.public import datex2
from evroam.services.errors import NotFound
from evroam.services.throttle import OPEN_DATA, retry_after_header

PREFIX = "/open-data"
router = APIRouter(prefix=PREFIX, tags=["open data"])
XML = "application/xml"


async def consumer(request: Request) -> str | None:
    """Dependency: the consumer's name when tokens are required (None: open)."""
    platform = request.app.state.platform
    if not platform.settings.open_data_tokens:
        return None
    client = platform.throttle.http_client(request)
    wait = await platform.throttle.check(OPEN_DATA, client)
    if wait > 0:
        raise ocpi_errors.too_many_failures(retry_after_header(wait))
    candidates = token_candidates(request.headers.get("authorization"))
    if not candidates:
        raise unauthorized("open data needs a consumer token here: send 'Authorization: Token <token>'")
    for token, _encoding in candidates:
        found = await platform.open_data.consumer(token)
        if found is not None:
            return found.name
    await platform.throttle.failed(OPEN_DATA, client)
    raise unauthorized("unknown open data token")


def _ours(request: Request) -> list[tuple[str, str]]:
    settings = request.app.state.platform.settings
    return [(settings.country_code, settings.party_id)]


# ------------------------------------------------------------------ OCPI


#: the OCPI version of the open data (what the Dutch NAP takes)
OPEN = registry.get(registry.MODEL_VERSION)
V = OPEN.number


def in_open_version(request: Request) -> None:
    """Dependency: the open data's OCPI routes speak OPEN's version (its mapping writes the bodies)."""
    request.state.ocpi_version = OPEN


@router.get("/ocpi/versions", summary="The OCPI versions of the open data")
async def versions(request: Request, _: str | None = Depends(consumer)):
    base = request.app.state.platform.settings.base_url
    return ocpi_response([{"version": V, "url": f"{base}{PREFIX}/ocpi/{V}"}])


@router.get(f"/ocpi/{V}", summary="The open data OCPI modules: locations and tariffs (sender)")
async def details(request: Request, _: str | None = Depends(consumer)):
    base = request.app.state.platform.settings.base_url
    return ocpi_response({"version": V, "endpoints": [
        {"identifier": module, "role": "SENDER", "url": f"{base}{PREFIX}/ocpi/{V}/{module}"}
        for module in ("locations", "tariffs")]})


@router.get(f"/ocpi/{V}/locations", summary="Our published locations, paged (offset, limit, date_from, date_to)",
            dependencies=[Depends(in_open_version)])
async def list_locations(request: Request, _: str | None = Depends(consumer)):
    platform = request.app.state.platform
    ours = _ours(request)

    async def fetch(conn, page):
        return await platform.store.locations.page(conn, owners=ours, date_from=page.date_from, date_to=page.date_to,
                                                   offset=page.offset, limit=page.limit, raw=True, published=True)

    return await paged_response(request, None, fetch, base.LOCATION)


@router.get(f"/ocpi/{V}/locations/{{location_id}}", summary="One published location")
@router.get(f"/ocpi/{V}/locations/{{location_id}}/{{evse_uid}}", summary="One EVSE of a published location")
async def get_location(location_id: str, request: Request, evse_uid: str | None = None,
                       _: str | None = Depends(consumer)):
    platform = request.app.state.platform
    try:
        if evse_uid is None:
            return ocpi_response(await platform.open_data.location(location_id))
        return ocpi_response((await platform.open_data.evse(location_id, evse_uid))[1])
    except NotFound as exc:
        err = not_found(exc.message)
        if exc.kind == "location":
            from evroam.ocpi.transport import status

            err.ocpi_status = status.UNKNOWN_LOCATION
        raise err from None


@router.get(f"/ocpi/{V}/tariffs", summary="The tariffs of our published locations, paged",
            dependencies=[Depends(in_open_version)])
async def list_tariffs(request: Request, _: str | None = Depends(consumer)):
    platform = request.app.state.platform
    ours = _ours(request)
    ids = await platform.open_data.published_tariff_ids()

    async def fetch(conn, page):
        return await platform.store.tariffs.page(conn, owners=ours, date_from=page.date_from, date_to=page.date_to,
                                                 offset=page.offset, limit=page.limit, raw=True, ids=ids)

    return await paged_response(request, None, fetch, base.TARIFF)


# ------------------------------------------------------------------ DATEX II


async def datex_documents(platform, *, only: set[tuple[str, str]] | None = None, table: bool = True):
    """(table publication or None, status publication, snapshot) of what is published now."""
    snap = await platform.open_data.snapshot()
    settings = platform.settings
    now = utcnow()
    version = datex2.publications.table_version(snap.locations, snap.tariffs.values())
    table_doc = None
    if table and snap.locations:
        table_doc = datex2.table_publication(
            snap.locations, snap.tariffs, country_code=settings.country_code, party_id=settings.party_id,
            operator=settings.business_name, tariff_for=lambda evse: platform.open_data.ad_hoc_tariff(snap, evse),
            now=now)
    status_doc = datex2.status_publication(snap.locations, country_code=settings.country_code,
                                           party_id=settings.party_id, table_version=version, now=now, only=only)
    return table_doc, status_doc, snap


@router.get("/datex2/energy-infrastructure-table", summary="DATEX II v3 AFIR EnergyInfrastructureTablePublication",
            response_class=Response)
async def datex_table(request: Request, _: str | None = Depends(consumer)):
    table_doc, _status, _snap = await datex_documents(request.app.state.platform)
    if table_doc is None:
        return Response(b"no published location", status_code=404, media_type="text/plain")
    return Response(datex2.to_bytes(table_doc), media_type=XML)


@router.get("/datex2/energy-infrastructure-status", summary="DATEX II v3 AFIR EnergyInfrastructureStatusPublication",
            response_class=Response)
async def datex_status(request: Request, _: str | None = Depends(consumer)):
    _table, status_doc, _snap = await datex_documents(request.app.state.platform, table=False)
    return Response(datex2.to_bytes(status_doc), media_type=XML)
