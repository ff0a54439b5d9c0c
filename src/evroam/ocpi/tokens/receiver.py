"""Tokens module, receiver interface (we are the CPO): eMSPs push their drivers' tokens here, in
the version of the path. From 2.2 `?type=` tells the token type (RFID when left out); a 2.1.1
URL names the token by its uid alone (the type is the body's, or the stored token's)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.tokens import Token
from evroam.model.types import TokenType
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, read_json, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import invalid
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, TOKEN_TYPE, envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned
from evroam.services.errors import NotFound

router = APIRouter(prefix="/ocpi/{version}/cpo/tokens", tags=["OCPI tokens (CPO receiver)"],
                   dependencies=[Depends(versioned("tokens", RECEIVER))],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{token_uid}"


def token_type(request: Request) -> str:
    value = request.query_params.get("type") or TokenType.RFID.value
    if value not in TokenType.__members__:
        raise invalid(f"type: {value!r} is not one of {', '.join(TokenType.__members__)}")
    return value


async def _stored_type(request: Request, cc: str, pid: str, uid: str, body: dict | None = None) -> str:
    """The token type a request is about: `?type=` (2.2+), or in 2.1.1 the stored token's type
    (a new token's: its body's)."""
    wire = Wire.of(request)
    if wire.version.token_in_url_type:
        return token_type(request)
    platform = request.app.state.platform
    async with platform.store.connect() as conn:
        found = [t for t in await platform.store.tokens.find(conn, uid)
                 if (t["country_code"].upper(), t["party_id"].upper()) == (cc.upper(), pid.upper())]
    if found:
        return found[0]["type"]
    if body is not None and isinstance(body.get("type"), str):
        return body["type"]
    raise NotFound(f"token {uid!r} of {cc}/{pid} not found", kind="token")


@router.get(PATH, summary="A token an eMSP pushed to us", openapi_extra=TOKEN_TYPE)
async def get_token(country_code: str, party_id: str, token_uid: str, request: Request,
                    caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    kind = await _stored_type(request, country_code, party_id, token_uid)
    token = await request.app.state.platform.tokens.get(country_code, party_id, token_uid, kind)
    data = await Wire.of(request).out(base.TOKEN, token, owner=(country_code, party_id))
    return ocpi_response(data, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a token", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Token", Token, extra=TOKEN_TYPE))
async def put_token(country_code: str, party_id: str, token_uid: str, request: Request,
                    caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    wire = Wire.of(request)
    body = await wire.inbound(base.TOKEN, await read_json(request), owner=(country_code, party_id))
    kind = await _stored_type(request, country_code, party_id, token_uid, body if isinstance(body, dict) else None)
    created = await request.app.state.platform.tokens.receive_put(country_code, party_id, token_uid, kind, body)
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(PATH, summary="Update fields of a token (last_updated required)",
              openapi_extra=json_body("fields of the Token", extra=TOKEN_TYPE))
async def patch_token(country_code: str, party_id: str, token_uid: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    body = await Wire.of(request).body(base.TOKEN_PATCH, owner=(country_code, party_id))
    kind = await _stored_type(request, country_code, party_id, token_uid)
    await request.app.state.platform.tokens.receive_patch(country_code, party_id, token_uid, kind, body)
    return ocpi_response(headers=routing_headers(request, caller))
