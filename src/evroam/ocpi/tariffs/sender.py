"""Tariffs module, sender interface (we are the CPO): our tariffs, paged, in the version of the
request (a tariff the version cannot say without a wrong price is left out)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.ocpi.listing import paged_response
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import SENDER
from evroam.ocpi.server import Caller, authenticated
from evroam.ocpi.transport.openapi import LIST, PAGED, envelope_responses
from evroam.ocpi.wire import versioned

router = APIRouter(prefix="/ocpi/{version}/cpo/tariffs", tags=["OCPI tariffs (CPO sender)"],
                   dependencies=[Depends(versioned("tariffs", SENDER))],
                   responses=envelope_responses(200))


@router.get("", summary="Our tariffs, paged (offset, limit, date_from, date_to)",
            responses=LIST, openapi_extra=PAGED)
async def list_tariffs(request: Request, caller: Caller = Depends(authenticated)):
    platform = request.app.state.platform
    ours = [(platform.settings.country_code, platform.settings.party_id)]

    async def fetch(conn, page):
        return await platform.store.tariffs.page(conn, owners=ours, date_from=page.date_from, date_to=page.date_to,
                                                 offset=page.offset, limit=page.limit, raw=True)

    return await paged_response(request, caller, fetch, base.TARIFF)
