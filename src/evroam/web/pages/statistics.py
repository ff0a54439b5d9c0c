"""Statistics over a period up to today (7 days, this month, 3 or 12 months): energy per day, sessions by hour
of week, utilisation and uptime per charger, revenue per partner; each downloadable as CSV."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.services.errors import Invalid
from evroam.services.statistics import DAYS, PERIODS
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.render import error_page, render

router = APIRouter()
PAGE = 50


def _bars(rows: list[dict], key: str) -> dict:
    """A horizontal bar chart's geometry (SVG units) of `rows` by `key`."""
    top = max((float(r[key] or 0) for r in rows), default=0.0) or 1.0
    return {"rows": [(r, round(float(r[key] or 0) / top * 100, 2)) for r in rows], "height": 24 * len(rows) + 4}


@router.get("/statistics")
async def statistics(request: Request, period: str = "3m", offset: int = 0,
                     _: WebSession = Depends(auth.signed_in)) -> Response:
    stats = auth.platform(request).statistics
    name = period
    try:
        period = stats.period(name)
    except Invalid as exc:
        return error_page(request, 400, exc.message)
    per_day = await stats.energy_per_day(period)
    grid = await stats.hour_of_week(period)
    chargers = await stats.chargers(period, offset=max(0, offset), limit=PAGE)
    revenue = await stats.revenue(period)
    most = max((n for row in grid for n in row), default=0) or 1
    chart = {"t": [d["day"] for d in per_day], "kwh": [d["kwh"] for d in per_day],
             "sessions": [d["sessions"] for d in per_day]}
    return render(request, "statistics.html", period=period, periods=PERIODS, per_day=per_day,
                  chart=chart, grid=grid, most=most, day_names=DAYS, chargers=chargers,
                  page=PAGE, revenue=_bars(revenue, "revenue_excl_vat"),
                  total_kwh=round(sum(d["kwh"] for d in per_day), 1),
                  total_sessions=sum(d["sessions"] for d in per_day))


@router.get("/statistics/{kind}.csv")
async def statistics_csv(kind: str, request: Request, period: str = "3m",
                         _: WebSession = Depends(auth.signed_in)) -> Response:
    stats = auth.platform(request).statistics
    name = period
    try:
        period = stats.period(name)
        text = await stats.csv(kind, period)
    except Invalid as exc:
        return error_page(request, 400, exc.message)
    name = f"{kind}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
