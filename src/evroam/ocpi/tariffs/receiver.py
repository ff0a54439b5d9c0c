"""Tariffs module, receiver interface (we are the eMSP): GET, PUT and DELETE of a CPO's tariffs,
in the version of the path (2.1.1 has PATCH too)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.tariffs import Tariff
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import method_not_allowed
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned

router = APIRouter(prefix="/ocpi/{version}/emsp/tariffs", tags=["OCPI tariffs (eMSP receiver)"],
                   dependencies=[Depends(versioned("tariffs", RECEIVER))],
                   responses=envelope_responses(200))
PATH = "/{country_code}/{party_id}/{tariff_id}"


@router.get(PATH, summary="A tariff a CPO pushed to us")
async def get_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                     caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    tariff = await request.app.state.platform.tariffs.get(country_code, party_id, tariff_id)
    data = await Wire.of(request).out(base.TARIFF, tariff, owner=(country_code, party_id))
    return ocpi_response(data, headers=routing_headers(request, caller))


@router.put(PATH, summary="Create or replace a tariff", responses=CREATED_OR_REPLACED,
            openapi_extra=json_body("the Tariff", Tariff))
async def put_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                     caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    body = await Wire.of(request).body(base.TARIFF, owner=(country_code, party_id))
    created = await request.app.state.platform.tariffs.receive_put(country_code, party_id, tariff_id, body)
    return ocpi_response(http_status=201 if created else 200, headers=routing_headers(request, caller))


@router.patch(PATH, summary="Update fields of a tariff (in the versions that have tariff PATCH)")
async def patch_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                       caller: Caller = Depends(authenticated)):
    wire = Wire.of(request)
    if "PATCH" not in wire.version.interface("tariffs", RECEIVER).methods:
        raise method_not_allowed(f"OCPI {wire.version.number} tariffs are replaced with PUT, not patched")
    require_owner(caller, country_code, party_id, "CPO")
    body = await wire.body(base.TARIFF_PATCH, owner=(country_code, party_id))
    await request.app.state.platform.tariffs.receive_patch(country_code, party_id, tariff_id, body)
    return ocpi_response(headers=routing_headers(request, caller))


@router.delete(PATH, summary="Delete a tariff")
async def delete_tariff(country_code: str, party_id: str, tariff_id: str, request: Request,
                        caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    await request.app.state.platform.tariffs.receive_delete(country_code, party_id, tariff_id)
    return ocpi_response(headers=routing_headers(request, caller))
