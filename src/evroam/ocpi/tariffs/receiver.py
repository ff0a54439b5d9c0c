"""Tariffs module, receiver interface (we are the eMSP): GET, PUT and DELETE of a CPO's tariffs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.tariffs import Tariff
from evroam.ocpi.server import Caller, authenticated, read_json, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body

router = APIRouter(prefix="/ocpi/2.2.1/emsp/tariffs", tags=["OCPI tariffs (eMSP receiver)"],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{tariff_id}"


@router.get(PATH, summary="A tariff a CPO pushed to us")
async def get_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                     caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    tariff = await request.app.state.platform.tariffs.get(country_code, party_id, tariff_id)
    return ocpi_response(tariff, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a tariff", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Tariff", Tariff))
async def put_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                     caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    body = await read_json(request)
    created = await request.app.state.platform.tariffs.receive_put(country_code, party_id, tariff_id, body)
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.delete(PATH, summary="Delete a tariff")
async def delete_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                        caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    await request.app.state.platform.tariffs.receive_delete(country_code, party_id, tariff_id)
    return ocpi_response(headers=routing_headers(request, caller))
