"""CDRs module, sender interface (we are the CPO): the CDRs of the caller's drivers, paged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.charging_lists import charging_list
from evroam.ocpi.server import Caller, authenticated
from evroam.ocpi.transport.openapi import LIST, PAGED, envelope_responses

router = APIRouter(prefix="/ocpi/2.2.1/cpo/cdrs", tags=["OCPI CDRs (CPO sender)"],
                   responses=envelope_responses(200))


@router.get("", summary="CDRs of your drivers, paged (date_from, date_to, offset, limit)",
            responses=LIST, openapi_extra=PAGED)
async def list_cdrs(request: Request, caller: Caller = Depends(authenticated)):
    return await charging_list(request, caller, "cdrs", require_date_from=False)
