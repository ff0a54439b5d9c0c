"""Tariffs: each of ours in words, and a price preview (energy, duration, start) that shows the
total the tariff engine computes, the same as `evroam tariff estimate`."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.model.common import utcnow
from evroam.services.errors import Invalid, NotFound
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import error_page, render

router = APIRouter()


@router.get("/tariffs")
async def tariffs(request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    s = p.settings
    async with p.store.connect() as conn:
        items = await p.store.tariffs.all(conn, owners=[(s.country_code, s.party_id)])
    return render(request, "tariffs.html", tariffs=[(t, p.price_views.words(t)) for t in items])


@router.get("/tariffs/{tariff_id}")
async def tariff(tariff_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        found = await p.price_views.tariff(tariff_id)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    start = (utcnow() + timedelta(hours=1)).astimezone(p.statistics.zone).strftime("%Y-%m-%dT%H:00")
    return render(request, "tariff.html", tariff=found, words=p.price_views.words(found), start=start,
                  time_zone=p.settings.billing_time_zone)


@router.get("/tariffs/{tariff_id}/preview")
async def preview(tariff_id: str, request: Request, kwh: str = "", minutes: str = "", start: str = "",
                  time_zone: str = "", _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        found = await p.price_views.tariff(tariff_id)
        try:
            energy, duration = float(kwh), float(minutes)
        except ValueError:
            raise Invalid("energy and duration: numbers, e.g. 20 kWh in 60 minutes") from None
        priced = p.price_views.preview(found, kwh=energy, minutes=duration, start=start,
                                       time_zone=time_zone or p.settings.billing_time_zone)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    except Invalid as exc:
        return render(request, "_preview.html", status_code=400, problem=exc.message, priced=None)
    template = "_preview.html" if request.headers.get("hx-request") else "preview.html"
    return render(request, template, priced=priced, problem=None, tariff=found)
