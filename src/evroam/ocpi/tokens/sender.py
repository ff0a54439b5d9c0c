"""Tokens module, sender interface (we are the eMSP): our drivers' tokens, paged, and real-time
authorization a CPO asks for (POST {uid}/authorize?type=, body LocationReferences), in the
version of the path.

Only CPO partners use it, and each sees only the tokens it may know: tokens of drivers limited to
other CPOs are not listed (and answer NOT_ALLOWED when authorized there)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request

from evroam.model.tokens import LocationReferences
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated, public_url, routing_headers, validate
from evroam.ocpi.tokens.receiver import token_type
from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport import status
from evroam.ocpi.transport.envelope import ocpi_response, raw_list_response
from evroam.ocpi.transport.errors import OcpiError, forbidden, invalid
from evroam.ocpi.transport.openapi import LIST, PAGED, TOKEN_TYPE, envelope_responses, json_body
from evroam.ocpi.transport.paging import paging_headers, parse_page
from evroam.ocpi.wire import Wire, versioned
from evroam.services.drivers import NotEnoughInformation
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/{version}/emsp/tokens", tags=["OCPI tokens (eMSP sender)"],
                   dependencies=[Depends(versioned("tokens", SENDER))],
                   responses=envelope_responses(200))


def cpo_parties(caller: Caller) -> list[tuple[str, str]]:
    parties = caller.partner.parties("CPO")
    if not parties:
        raise forbidden("our tokens are for CPO partners; you play no CPO role with us")
    return parties


@router.get("", summary="Our drivers' tokens, paged (date_from, date_to, offset, limit)",
            responses=LIST, openapi_extra=PAGED)
async def list_tokens(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    parties = cpo_parties(caller)
    page = parse_page(request, platform.settings.ocpi_page_limit)
    rows, total = await platform.tokens.page_own(parties=parties, date_from=page.date_from, date_to=page.date_to,
                                                 offset=page.offset, limit=page.limit)
    wire = Wire.of(request)
    said = await wire.version.mapping.outbound_page(base.TOKEN, rows, wire.ctx())
    headers = paging_headers(page, len(rows), total, public_url(request), platform.settings.ocpi_page_limit)
    headers.update(routing_headers(request, caller))
    return raw_list_response(said, headers=headers)


@router.post("/{token_uid}/authorize", summary="Real-time authorization of one of our tokens",
             openapi_extra=json_body("where the token is to be used", LocationReferences, required=False,
                                     extra=TOKEN_TYPE))
async def authorize(token_uid: str, request: Request, caller: Caller = Depends(authenticated)):
    parties = cpo_parties(caller)
    wire = Wire.of(request)
    raw = await request.body()
    location = None
    if raw.strip():
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise invalid(f"request body is not valid JSON: {exc}") from None
        body = await wire.inbound(base.LOCATION_REFERENCES, body)
        location = validate(LocationReferences, body, what="LocationReferences").to_dict()
    from_cc, from_pid = request.headers.get(h.FROM_COUNTRY), request.headers.get(h.FROM_PARTY)
    drivers = request.app.state.platform.drivers
    info, missing = None, None
    for kind in wire.version.mapping.token_types_of(token_type(request)):
        try:
            info = await drivers.authorize(token_uid, kind, location, parties=parties,
                                           from_party=(from_cc, from_pid) if from_cc and from_pid else None)
            break
        except NotFound as exc:
            missing = exc
        except NotEnoughInformation as exc:
            raise OcpiError(exc.message, ocpi_status=status.NOT_ENOUGH_INFORMATION, http_status=400) from None
    if info is None:
        raise OcpiError(missing.message if missing else f"token {token_uid!r} is unknown", ocpi_status=status.UNKNOWN_TOKEN, http_status=404) from None
    return ocpi_response(await wire.out(base.AUTHORIZATION_INFO, info), headers=routing_headers(request, caller))
