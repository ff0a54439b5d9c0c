"""CDRs module, receiver interface (we are the eMSP): a CPO POSTs a CDR (in the version of the
path); we answer with the URL it is kept at (Location header), where the CPO can GET it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request

from evroam.model.cdrs import CDR
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import RECEIVER
from evroam.ocpi.server import Caller, authenticated, require_owner, routing_headers
from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.openapi import envelope_responses, json_body
from evroam.ocpi.wire import Wire, single_party, versioned

router = APIRouter(prefix="/ocpi/{version}/emsp/cdrs", tags=["OCPI CDRs (eMSP receiver)"],
                   dependencies=[Depends(versioned("cdrs", RECEIVER))],
                   responses=envelope_responses(200))


@router.post("", summary="A new CDR", responses=envelope_responses(201),
             openapi_extra=json_body("the CDR", CDR))
async def post_cdr(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    wire = Wire.of(request)
    # a 2.1.1 CDR names no owner: the party of the CPO posting it (the routing header's, through a hub)
    body = await wire.body(base.CDR, owner=_sender(request, caller))
    cdr = await platform.received.cdr_post(caller.partner.parties("CPO"), body)
    location = (wire.version.url(platform.settings.base_url, "cdrs", RECEIVER) + "/"
                + "/".join(quote(p, safe="") for p in (cdr["country_code"], cdr["party_id"], cdr["id"])))
    headers = routing_headers(request, caller)
    headers["Location"] = location
    return ocpi_response(http_status=201, headers=headers)


def _sender(request: Request, caller: Caller) -> tuple[str, str] | None:
    cc, pid = request.headers.get(h.FROM_COUNTRY), request.headers.get(h.FROM_PARTY)
    if cc and pid and caller.partner.owns(cc, pid, "CPO"):
        return cc, pid
    return single_party(caller.partner, "CPO")


@router.get("/{country_code}/{party_id}/{cdr_id}", summary="A CDR a CPO posted to us")
async def get_cdr(country_code: str, party_id: str, cdr_id: str, request: Request,
                  caller: Caller = Depends(authenticated)):
    require_owner(caller, country_code, party_id, "CPO")
    cdr = await request.app.state.platform.received.cdr(country_code, party_id, cdr_id)
    data = await Wire.of(request).out(base.CDR, cdr, owner=(country_code, party_id))
    return ocpi_response(data, headers=routing_headers(request, caller))
