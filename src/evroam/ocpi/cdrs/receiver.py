"""CDRs module, receiver interface (we are the eMSP): a CPO POSTs a CDR; we answer with the URL
it is kept at (Location header), where the CPO can GET it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request

from evroam.model.cdrs import CDR
from evroam.ocpi.server import Caller, authenticated, read_json, require_owner, routing_headers
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import envelope_responses, json_body

router = APIRouter(prefix="/ocpi/2.2.1/emsp/cdrs", tags=["OCPI CDRs (eMSP receiver)"],
                   responses=envelope_responses(200))


@router.post("", summary="A new CDR", responses=envelope_responses(201),
             openapi_extra=json_body("the CDR", CDR))
async def post_cdr(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    cdr = await platform.received.cdr_post(caller.partner.parties("CPO"), await read_json(request))
    location = (f"{platform.settings.base_url}/ocpi/2.2.1/emsp/cdrs/"
                + "/".join(quote(p, safe="") for p in (cdr["country_code"], cdr["party_id"], cdr["id"])))
    headers = routing_headers(request, caller)
    headers["Location"] = location
    return ocpi_response(http_status=201, headers=headers)


@router.get("/{country_code}/{party_id}/{cdr_id}", summary="A CDR a CPO posted to us")
async def get_cdr(country_code: str, party_id: str, cdr_id: str, request: Request,
                  caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    cdr = await request.app.state.platform.received.cdr(country_code, party_id, cdr_id)
    return ocpi_response(cdr, headers=routing_headers(request, caller))
