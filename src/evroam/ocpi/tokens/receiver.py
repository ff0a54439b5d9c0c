"""Tokens module, receiver interface (we are the CPO): eMSPs push their drivers' tokens here;
`?type=` tells the token type (RFID when left out)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.tokens import Token
from evroam.model.types import TokenType
from evroam.ocpi.server import Caller, authenticated, read_json, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import invalid
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, TOKEN_TYPE, envelope_responses, json_body

router = APIRouter(prefix="/ocpi/2.2.1/cpo/tokens", tags=["OCPI tokens (CPO receiver)"],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{token_uid}"


def token_type(request: Request) -> str:
    value = request.query_params.get("type") or TokenType.RFID.value
    if value not in TokenType.__members__:
        raise invalid(f"type: {value!r} is not one of {', '.join(TokenType.__members__)}")
    return value


@router.get(PATH, summary="A token an eMSP pushed to us", openapi_extra=TOKEN_TYPE)
async def get_token(country_code: str, party_id: str, token_uid: str, request: Request,
                    caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    token = await request.app.state.platform.tokens.get(country_code, party_id, token_uid, token_type(request))
    return ocpi_response(token, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a token", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Token", Token, extra=TOKEN_TYPE))
async def put_token(country_code: str, party_id: str, token_uid: str, request: Request,
                    caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    created = await request.app.state.platform.tokens.receive_put(country_code, party_id, token_uid,
                                                                  token_type(request), await read_json(request))
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(PATH, summary="Update fields of a token (last_updated required)",
              openapi_extra=json_body("fields of the Token", extra=TOKEN_TYPE))
async def patch_token(country_code: str, party_id: str, token_uid: str, request: Request,
                      caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "EMSP")
    await request.app.state.platform.tokens.receive_patch(country_code, party_id, token_uid, token_type(request),
                                                          await read_json(request))
    return ocpi_response(headers=routing_headers(request, caller))
