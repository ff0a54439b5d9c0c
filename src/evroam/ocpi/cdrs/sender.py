"""CDRs module, sender interface (we are the CPO): the CDRs of the caller's drivers, paged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.charging_lists import charging_list
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated
from evroam.ocpi.transport.openapi import LIST, PAGED, envelope_responses
from evroam.ocpi.wire import versioned

router = APIRouter(prefix="/ocpi/{version}/cpo/cdrs", tags=["OCPI CDRs (CPO sender)"],
                   dependencies=[Depends(versioned("cdrs", SENDER))],
                   responses=envelope_responses(200))


@router.get("", summary="CDRs of your drivers, paged (date_from, date_to, offset, limit)",
            responses=LIST, openapi_extra=PAGED)
async def list_cdrs(request: Request, caller: Caller = Depends(authenticated)):
    return await charging_list(request, caller, "cdrs", require_date_from=False)
