"""Tokens module, sender interface (we are the eMSP): our drivers' tokens, paged, and real-time
authorization a CPO asks for (POST {uid}/authorize?type=, body LocationReferences)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.server import Caller, authenticated, public_url, routing_headers
from evroam.ocpi.tokens.receiver import token_type
from evroam.ocpi.transport import status
from evroam.ocpi.transport.envelope import ocpi_response, raw_list_response
from evroam.ocpi.transport.errors import OcpiError, invalid
from evroam.ocpi.transport.paging import paging_headers, parse_page
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/2.2.1/emsp/tokens", tags=["OCPI tokens (eMSP sender)"])


@router.get("", summary="Our drivers' tokens, paged (date_from, date_to, offset, limit)")
async def list_tokens(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    page = parse_page(request, platform.settings.ocpi_page_limit)
    rows, total = await platform.tokens.page_own(date_from=page.date_from, date_to=page.date_to, offset=page.offset,
                                                 limit=page.limit)
    headers = paging_headers(page, len(rows), total, public_url(request), platform.settings.ocpi_page_limit)
    headers.update(routing_headers(request, caller))
    return raw_list_response(rows, headers=headers)


@router.post("/{token_uid}/authorize", summary="Real-time authorization of one of our tokens")
async def authorize(token_uid: str, request: Request, caller: Caller = Depends(authenticated)):
    raw = await request.body()
    location = None
    if raw.strip():
        import orjson

        try:
            location = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise invalid(f"request body is not valid JSON: {exc}") from None
        if not isinstance(location, dict) or not location.get("location_id"):
            raise invalid("body: LocationReferences with a location_id expected")
    try:
        info = await request.app.state.platform.tokens.authorize_own(token_uid, token_type(request), location)
    except NotFound as exc:
        raise OcpiError(exc.message, ocpi_status=status.UNKNOWN_TOKEN, http_status=404) from None
    return ocpi_response(info, headers=routing_headers(request, caller))
