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
    s = auth.platform(request).settings
    placed = await request.app.state.map_cache.locations()
    view = frame([(lat, lon) for _, _, _, lat, lon, _ in placed], s.web_map_tiles)
    points = [[lid, name, *view.place(lat, lon), evses] for lid, name, _, lat, lon, evses in placed]
    offset = max(0, offset)
    listed = [{"id": lid, "name": name, "city": city, "status": location_status([e[1] for e in evses]),
               "evses": [{"uid": uid, "status": status} for uid, status in evses]}
              for lid, name, city, _, _, evses in placed[offset:offset + 50]]
    return render(request, "map.html", points=points, tiles=view.tiles, width=FRAME_W, height=FRAME_H,
                  attribution=s.web_map_attribution if s.web_map_tiles else "", listed=listed, total=len(placed),
                  offset=offset)
