"""Hubclientinfo module, receiver interface (every party connected to a hub): the hub PUTs the
ClientInfo of each party it routes for (`{url}/{country_code}/{party_id}`) and may GET it back.
A configuration module: no routing headers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, read_json
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses
from evroam.ocpi.wire import versioned

router = APIRouter(prefix="/ocpi/{version}/hubclientinfo", tags=["OCPI hubclientinfo (receiver)"],
                   dependencies=[Depends(versioned("hubclientinfo", RECEIVER))],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}"


@router.get(PATH, summary="The ClientInfo the hub reported of one party")
async def get_client_info(country_code: str, party_id: str, request: Request,
                          caller: Caller = Depends(authenticated)):
    info = await request.app.state.platform.hub_parties.get(caller.partner, country_code, party_id)
    return ocpi_response(info)


@router.put(PATH, summary="The hub reports a party's connection status (ClientInfo)",
            responses=CREATED_OR_REPLACED)
async def put_client_info(country_code: str, party_id: str, request: Request,
                          caller: Caller = Depends(authenticated)):
    created = await request.app.state.platform.hub_parties.receive(caller.partner, country_code, party_id,
                                                                   await read_json(request))
    return ocpi_response(http_status=201 if created else 200)
