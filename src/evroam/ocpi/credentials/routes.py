"""Credentials module (server side): GET, POST (register), PUT (update), DELETE (unregister), in
the version of the path: a partner registers on the version whose credentials endpoint it calls."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.credentials import Credentials
from evroam.ocpi.credentials import handshake
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated_for_registration, read_json
from evroam.ocpi.transport.auth import token_candidates
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import method_not_allowed
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import versioned

router = APIRouter(tags=["OCPI credentials"], dependencies=[Depends(versioned("credentials", SENDER))],
                   responses=envelope_responses(200))
PATH = "/ocpi/{version}/credentials"


def _presented_token(request: Request, caller: Caller) -> str:
    for token, encoding in token_candidates(request.headers.get("authorization")):
        if encoding == caller.encoding:
            return token
    return ""


@router.get(PATH, summary="Our credentials for the calling partner")
async def get_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    platform = request.app.state.platform
    return ocpi_response(await handshake.our_credentials(platform, _presented_token(request, caller), version))


@router.post(PATH, summary="Register: the partner gives us its credentials",
             openapi_extra=json_body("the partner's Credentials", Credentials))
async def post_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "A":
        raise method_not_allowed("already registered: use PUT to update or DELETE to unregister")
    body = await read_json(request)
    data = await handshake.accept(request.app.state.platform, caller.partner, body, version, caller.encoding)
    return ocpi_response(data)


@router.put(PATH, summary="Update the partner's credentials (token rotation, version change)",
            openapi_extra=json_body("the partner's Credentials", Credentials))
async def put_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "C":
        raise method_not_allowed("not registered yet: register with POST first")
    body = await read_json(request)
    data = await handshake.accept(request.app.state.platform, caller.partner, body, version, caller.encoding)
    return ocpi_response(data)


@router.delete(PATH, summary="Unregister: our credentials for the partner stop working")
async def delete_credentials(version: str, request: Request,
                             caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "C":
        raise method_not_allowed("not registered: nothing to unregister")
    await handshake.unregister(request.app.state.platform, caller.partner)
    return ocpi_response()
