"""Overview (the network now) and Map (our locations with their EVSEs' live status)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.mapview import FRAME_H, FRAME_W, frame, location_status
from evroam.web.render import render

router = APIRouter()


async def _overview(request: Request) -> dict:
    p = auth.platform(request)
    return await p.statistics.overview(p.control.connected())


@router.get("/")
async def overview(request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    return render(request, "overview.html", overview=await _overview(request))


@router.get("/overview/figures")
async def figures(request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    """The overview's figures alone (refreshed by the page on live events)."""
    return render(request, "_overview_figures.html", overview=await _overview(request))


@router.get("/map")
async def map_page(request: Request, offset: int = 0, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    s = p.settings
    async with p.store.connect() as conn:
        locations = await p.store.locations.all(conn, owners=[(s.country_code, s.party_id)])
    placed = []
    for loc in locations:
        try:
            lat, lon = float(loc["coordinates"]["latitude"]), float(loc["coordinates"]["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        placed.append((loc, lat, lon))
    view = frame([(lat, lon) for _, lat, lon in placed], s.web_map_tiles)
    points = []
    for loc, lat, lon in placed:
        x, y = view.place(lat, lon)
        evses = [[e["uid"], e.get("status", "UNKNOWN")] for e in loc.get("evses") or []]
        points.append([loc["id"], loc.get("name") or loc["id"], x, y, evses])
    offset = max(0, offset)
    listed = [{"id": loc["id"], "name": loc.get("name"), "city": loc.get("city"),
               "status": location_status([e.get("status", "UNKNOWN") for e in loc.get("evses") or []]),
               "evses": loc.get("evses") or []} for loc, _, _ in placed[offset:offset + 50]]
    return render(request, "map.html", points=points, tiles=view.tiles,
                  width=FRAME_W, height=FRAME_H, attribution=s.web_map_attribution if s.web_map_tiles else "",
                  listed=listed, total=len(placed), offset=offset)
