"""Credentials module (server side): GET, POST (register), PUT (update), DELETE (unregister)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.credentials import Credentials
from evroam.ocpi.credentials import handshake
from evroam.ocpi.server import Caller, authenticated_for_registration, read_json, validate
from evroam.ocpi.transport.auth import token_candidates
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import method_not_allowed, not_found
from evroam.ocpi.transport.openapi import envelope_responses, json_body


async def offered_version(version: str, request: Request) -> str:
    offered = request.app.state.platform.settings.ocpi_versions
    if version not in offered:
        raise not_found(f"OCPI {version} is not offered here (offered: {', '.join(offered)})")
    return version


router = APIRouter(tags=["OCPI credentials"], dependencies=[Depends(offered_version)], responses=envelope_responses(200))
PATH = "/ocpi/{version}/credentials"


def _presented_token(request: Request, caller: Caller) -> str:
    for token, encoding in token_candidates(request.headers.get("authorization")):
        if encoding == caller.encoding:
            return token
    return ""


async def _credentials_body(request: Request) -> dict:
    body = await read_json(request)
    model = validate(Credentials, body, what="credentials")
    return model.to_dict()


@router.get(PATH, summary="Our credentials for the calling partner")
async def get_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    return ocpi_response(handshake.our_credentials(request.app.state.platform, _presented_token(request, caller)))


@router.post(PATH, summary="Register: the partner gives us its credentials",
             openapi_extra=json_body("the partner's Credentials", Credentials))
async def post_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "A":
        raise method_not_allowed("already registered: use PUT to update or DELETE to unregister")
    credentials = await _credentials_body(request)
    data = await handshake.accept(request.app.state.platform, caller.partner, credentials, caller.encoding)
    return ocpi_response(data)


@router.put(PATH, summary="Update the partner's credentials (token rotation, version change)",
            openapi_extra=json_body("the partner's Credentials", Credentials))
async def put_credentials(version: str, request: Request, caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "C":
        raise method_not_allowed("not registered yet: register with POST first")
    credentials = await _credentials_body(request)
    data = await handshake.accept(request.app.state.platform, caller.partner, credentials, caller.encoding)
    return ocpi_response(data)


@router.delete(PATH, summary="Unregister: our credentials for the partner stop working")
async def delete_credentials(version: str, request: Request,
                             caller: Caller = Depends(authenticated_for_registration)):
    if caller.token_kind != "C":
        raise method_not_allowed("not registered: nothing to unregister")
    await handshake.unregister(request.app.state.platform, caller.partner)
    return ocpi_response()
