"""Sessions module, sender interface (we are the CPO): the sessions of the caller's drivers,
paged; `date_from` is required (OCPI 2.2.1)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.charging_lists import charging_list
from evroam.ocpi.server import Caller, authenticated

router = APIRouter(prefix="/ocpi/2.2.1/cpo/sessions", tags=["OCPI sessions (CPO sender)"])


@router.get("", summary="Sessions of your drivers, paged (date_from required; date_to, offset, limit)")
async def list_sessions(request: Request, caller: Caller = Depends(authenticated)):
    return await charging_list(request, caller, "sessions", require_date_from=True)
