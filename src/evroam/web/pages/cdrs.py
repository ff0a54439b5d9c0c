"""CDRs: ours (newest first) and the received ones in dispute; a CDR's page explains its price
per charging period as the tariff engine computes it (services/price_views.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.services.errors import NotFound
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import error_page, render

router = APIRouter()
PAGE = 50


@router.get("/cdrs")
async def cdrs(request: Request, before: int | None = None, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    s = p.settings
    async with p.store.connect() as conn:
        rows = await p.store.listings.cdrs(conn, (s.country_code, s.party_id), before=before, limit=PAGE)
    disputes = await p.reconciliation.disputes(limit=50) if before is None else []
    return render(request, "cdrs.html", rows=rows, disputes=disputes,
                  next_before=rows[-1][0] if len(rows) == PAGE else None)


@router.get("/cdrs/{country_code}/{party_id}/{cdr_id}")
async def cdr(country_code: str, party_id: str, cdr_id: str, request: Request,
              _: WebSession = Depends(auth.signed_in)) -> Response:
    try:
        found = await auth.platform(request).price_views.explain_cdr(country_code, party_id, cdr_id)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    return render(request, "cdr.html", **found)
