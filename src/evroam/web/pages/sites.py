"""Sites (load management): each site's circuit tree with its load against its limit (a chart
that grows live), each session's allocation, and the forms that change a site's capacity and
capacity schedule (the same SiteService as `evroam sites set`)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from evroam.model.common import parse_datetime
from evroam.services.errors import Invalid, NotFound, ServiceError
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.actions import act
from evroam.web.render import PREFIX, error_page, render

router = APIRouter()


def _tree(circuits: list[dict]) -> list[dict]:
    """Circuits nested under their parents (the grid connection first)."""
    by_parent: dict[str | None, list[dict]] = {}
    for c in circuits:
        by_parent.setdefault(c.get("parent_id"), []).append(c)

    def children(parent: str | None, seen: frozenset) -> list[dict]:
        return [{**c, "children": children(c["id"], seen | {c["id"]})} for c in by_parent.get(parent, [])
                if c["id"] not in seen]

    return children(None, frozenset())


def point(status: dict) -> dict:
    """One point of the site's load chart: time, load drawn (or in force) and limit, in A."""
    grid = next((c for c in status["circuits"] if c.get("parent_id") is None), None) or {}
    return {"t": parse_datetime(status["at"]).timestamp(),
            "load": grid.get("drawn_a") if grid.get("drawn_a") is not None else grid.get("in_force_a"),
            "planned": grid.get("planned_a"), "limit": grid.get("limit_a")}


@router.get("/sites")
async def sites(request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    return render(request, "sites.html", sites=await auth.platform(request).sites.views())


async def _status(request: Request, site_id: str) -> dict:
    return (await auth.platform(request).load.status(site_id))[0]


@router.get("/sites/{site_id}")
async def site(site_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    try:
        view = await p.sites.view(site_id)
        status = await _status(request, site_id)
    except NotFound as exc:
        return error_page(request, 404, exc.message)
    return render(request, "site.html", site=view, status=status, tree=_tree(status["circuits"]),
                  chart=[point(status)],
                  schedule=json.dumps(view["schedule"], indent=2) if view["schedule"] else "")


@router.get("/sites/{site_id}/load")
async def site_load(site_id: str, request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    """The site's load now: a chart point and the allocations (as HTML for the page)."""
    try:
        status = await _status(request, site_id)
    except ServiceError as exc:
        return JSONResponse({"detail": exc.message}, status_code=404)
    html = render(request, "_site_load.html", status=status, tree=_tree(status["circuits"])).body.decode()
    return JSONResponse({"point": point(status), "html": html})


def _number(fields: dict, name: str) -> float | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise Invalid(f"{name}: a number") from None


async def _change(request: Request, site_id: str, fields: dict) -> dict:
    schedule_text = fields.get("schedule", "").strip()
    schedule = None
    if schedule_text:
        try:
            schedule = json.loads(schedule_text)
        except json.JSONDecodeError as exc:
            raise Invalid(f"schedule: not JSON ({exc.msg} at line {exc.lineno})") from None
    phases = _number(fields, "phases")
    return await auth.platform(request).sites.set_site(
        site_id, capacity_kw=_number(fields, "capacity_kw"), capacity_a=_number(fields, "capacity_a"),
        schedule=schedule, clear_schedule=not schedule_text, phases=int(phases) if phases else None)


@router.post("/sites/{site_id}")
async def change_site(site_id: str, request: Request, session: WebSession = Depends(auth.acting)) -> Response:
    fields = await auth.form(request)
    detail = {k: fields.get(k) for k in ("capacity_kw", "capacity_a", "phases", "schedule")}
    return await act(request, session, "site.change", site_id, detail, _change(request, site_id, fields),
                     done=f"Site {site_id} changed", back=f"{PREFIX}/sites/{site_id}")
