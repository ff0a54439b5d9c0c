"""The public pages for drivers (phone-sized, no account): find our stations (a map and a list,
nearest first when the browser gives its position), each EVSE's live status and the price an
ad-hoc driver pays (AFIR: per kWh, per minute, per session, VAT included), and "Pay and charge":
the card payment, the live session with its stop button, the receipt.

/charge                          the stations
/charge/{location}               a location's EVSEs
/charge/{location}/{evse}        an EVSE (the target of its QR code); POST .../pay pays
/pay/{payment}                   the session paid for (POST .../stop, .../confirm); .json: live
/pay/{payment}/receipt           the receipt (POST .../email sends it)
/terminal-invoices/{reference}   the invoice of a payment at a payment terminal (OCPI payments module)

Only published locations and EVSEs appear. The payment's id (128 random bits) in its URL is
what lets the driver follow and stop it: nobody else knows it."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from evroam.public.rendering import render
from evroam.services.errors import Invalid, NotFound, ServiceError
from evroam.services.terminals import INVOICES_PATH as INVOICES
from evroam.services.throttle import PAYMENT as PAYMENT_DOOR
from evroam.services.throttle import retry_after_header

CHARGE = "/charge"
PAY = "/pay"
router = APIRouter(tags=["public pages"], include_in_schema=False)

_STATUS_TEXT = {"AVAILABLE": "Available", "CHARGING": "In use", "RESERVED": "Reserved", "BLOCKED": "Blocked",
                "INOPERATIVE": "Out of service", "OUTOFORDER": "Out of order", "UNKNOWN": "Offline",
                "PLANNED": "Planned", "REMOVED": "Removed"}
_PAYMENT_TEXT = {"NEW": "Paying", "ACTION_REQUIRED": "Confirm payment", "HELD": "Starting", "STARTING": "Starting",
                 "CHARGING": "Charging", "CAPTURING": "Finishing", "RELEASING": "Releasing", "CAPTURED": "Paid",
                 "RELEASED": "Not charged", "DECLINED": "Declined"}


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    platform = request.app.state.platform
    html = render(name, operator=platform.settings.business_name, prefix=CHARGE, prefix_pay=PAY, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _not_found(request: Request, what: str) -> HTMLResponse:
    return HTMLResponse(f"<p>{what} not found. <a href='{CHARGE}'>All stations</a></p>", status_code=404)


def _kw(connectors: list[dict[str, Any]]) -> float:
    best = 0.0
    for c in connectors:
        if c.get("max_electric_power"):
            watts = c["max_electric_power"]
        else:
            volts, amps = c.get("max_voltage") or 0, c.get("max_amperage") or 0
            watts = volts * amps * ((3 if volts < 300 else math.sqrt(3)) if c.get("power_type") == "AC_3_PHASE" else 1)
        best = max(best, watts / 1000)
    return round(best, 1)


def _connectors(evse: dict[str, Any]) -> str:
    return ", ".join(c["standard"].replace("IEC_62196_", "").replace("_", " ") for c in evse.get("connectors") or [])


def _distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def _map(stations: list[dict[str, Any]], width: int = 600, height: int = 320, pad: int = 40) -> dict[str, Any] | None:
    """Stations placed by their coordinates (equirectangular, fitted to the box)."""
    if not stations:
        return None
    lats = [s["lat"] for s in stations]
    lons = [s["lon"] for s in stations]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * k, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((width - 2 * pad - 120) / span_x, (height - 2 * pad) / span_y)
    points = [{"id": s["id"], "name": s["name"] or s["id"], "available": s["available"] > 0,
               "x": round(pad + (s["lon"] - min(lons)) * k * scale, 1),
               "y": round(height - pad - (s["lat"] - min(lats)) * scale, 1)} for s in stations]
    return {"width": width, "height": height, "points": points}


@router.get(CHARGE, response_class=HTMLResponse)
async def find(request: Request, lat: float | None = None, lon: float | None = None):
    snap = await request.app.state.platform.open_data.snapshot()
    stations = []
    for loc in snap.locations:
        evses = [e for e in loc.get("evses") or [] if e.get("status") != "REMOVED"]
        c = loc["coordinates"]
        station = {"id": loc["id"], "name": loc.get("name"), "address": loc["address"], "city": loc["city"],
                   "lat": float(c["latitude"]), "lon": float(c["longitude"]), "total": len(evses),
                   "available": sum(e.get("status") == "AVAILABLE" for e in evses),
                   "max_kw": max((_kw(e.get("connectors") or []) for e in evses), default=0), "distance_km": None}
        if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
            station["distance_km"] = round(_distance(lat, lon, station["lat"], station["lon"]), 1)
        stations.append(station)
    if any(s["distance_km"] is not None for s in stations):
        stations.sort(key=lambda s: s["distance_km"])
    return _page(request, "find.html", stations=stations, map=_map(stations))


@router.get(CHARGE + "/{location_id}", response_class=HTMLResponse)
async def location_page(location_id: str, request: Request):
    platform = request.app.state.platform
    try:
        loc = await platform.open_data.location(location_id)
    except NotFound:
        return _not_found(request, "Location")
    snap = await platform.open_data.snapshot()
    from evroam.tariffs.price_board import price_board

    evses = [{"uid": e["uid"], "evse_id": e.get("evse_id"), "status": e.get("status", "UNKNOWN"),
              "status_text": _STATUS_TEXT.get(e.get("status", "UNKNOWN"), e.get("status")),
              "connectors": _connectors(e), "max_kw": _kw(e.get("connectors") or []),
              "price": price_board(platform.open_data.ad_hoc_tariff(snap, e))}
             for e in loc.get("evses") or [] if e.get("status") != "REMOVED"]
    return _page(request, "location.html", location=loc, evses=evses)


async def _evse_context(request: Request, location_id: str, evse_uid: str) -> dict[str, Any]:
    platform = request.app.state.platform
    loc, evse = await platform.open_data.evse(location_id, evse_uid)
    status = evse.get("status", "UNKNOWN")
    adhoc = platform.adhoc
    return {"location": loc, "evse": evse, "status_text": _STATUS_TEXT.get(status, status),
            "connectors": _connectors(evse), "max_kw": _kw(evse.get("connectors") or []),
            "price": await platform.open_data.ad_hoc_price(loc["id"], evse["uid"]),
            "pay": adhoc.provider.public_config() if adhoc.provider else {}, "hold": platform.settings.payment_hold,
            "currency": platform.settings.currency, "startable": status in ("AVAILABLE", "CHARGING")}


@router.get(CHARGE + "/{location_id}/{evse_uid}", response_class=HTMLResponse)
async def evse_page(location_id: str, evse_uid: str, request: Request):
    try:
        return _page(request, "evse.html", **await _evse_context(request, location_id, evse_uid))
    except NotFound:
        return _not_found(request, "Charging point")


@router.get(CHARGE + "/{location_id}/{evse_uid}/status.json")
async def evse_status(location_id: str, evse_uid: str, request: Request):
    try:
        _, evse = await request.app.state.platform.open_data.evse(location_id, evse_uid)
    except NotFound as exc:
        return JSONResponse({"error": "not_found", "detail": exc.message}, status_code=404)
    status = evse.get("status", "UNKNOWN")
    return JSONResponse({"status": status, "text": _STATUS_TEXT.get(status, status),
                         "startable": status in ("AVAILABLE", "CHARGING"), "last_updated": evse.get("last_updated")},
                        headers={"Cache-Control": "no-store"})


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the pages' forms), bounded like every body."""
    raw = await request.body()
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        return {}


@router.post(CHARGE + "/{location_id}/{evse_uid}/pay")
async def pay(location_id: str, evse_uid: str, request: Request):
    form = await _form(request)
    payment_method, email = form.get("payment_method", ""), form.get("email", "")
    platform = request.app.state.platform
    client = platform.throttle.http_client(request)
    wait = await platform.throttle.check(PAYMENT_DOOR, client)
    if wait > 0:
        return HTMLResponse("Too many declined payments from your address: try again later.", status_code=429,
                            headers={"Retry-After": retry_after_header(wait)})
    try:
        payment = await platform.adhoc.start(location_id, evse_uid, payment_method=payment_method.strip(),
                                             email=email.strip() or None)
    except NotFound:
        return _not_found(request, "Charging point")
    except Invalid as exc:
        try:
            context = await _evse_context(request, location_id, evse_uid)
        except NotFound:
            return _not_found(request, "Charging point")
        return _page(request, "evse.html", 400, error=exc.message[:300], **context)
    if payment.status == "DECLINED":
        await platform.throttle.failed(PAYMENT_DOOR, client)
    return RedirectResponse(f"{PAY}/{payment.id}", status_code=303)


@router.get(PAY + "/{payment_id}.json")
async def payment_json(payment_id: str, request: Request):
    try:
        view = await request.app.state.platform.adhoc.view(payment_id)
    except NotFound as exc:
        return JSONResponse({"error": "not_found", "detail": exc.message}, status_code=404)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


@router.get(PAY + "/{payment_id}", response_class=HTMLResponse)
async def payment_page(payment_id: str, request: Request):
    platform = request.app.state.platform
    try:
        view = await platform.adhoc.view(payment_id)
    except NotFound:
        return _not_found(request, "Payment")
    pay_config = platform.adhoc.provider.public_config() if platform.adhoc.provider else {}
    return _page(request, "payment.html", p=view, pay=pay_config, state_text=_PAYMENT_TEXT.get(view["status"]))


@router.post(PAY + "/{payment_id}/stop")
async def stop(payment_id: str, request: Request):
    try:
        await request.app.state.platform.adhoc.stop(payment_id)
    except NotFound:
        return _not_found(request, "Payment")
    except ServiceError as exc:
        return HTMLResponse(f"<p>{_escape(exc.message)}</p><p><a href='{PAY}/{payment_id}'>Back</a></p>",
                            status_code=409)
    return RedirectResponse(f"{PAY}/{payment_id}", status_code=303)


@router.post(PAY + "/{payment_id}/confirm")
async def confirm(payment_id: str, request: Request):
    try:
        await request.app.state.platform.adhoc.confirm(payment_id)
    except NotFound:
        return _not_found(request, "Payment")
    return RedirectResponse(f"{PAY}/{payment_id}", status_code=303)


@router.get(PAY + "/{payment_id}/receipt", response_class=HTMLResponse)
async def receipt_page(payment_id: str, request: Request, sent: str | None = None):
    try:
        data = await request.app.state.platform.adhoc.receipt(payment_id)
    except NotFound:
        return _not_found(request, "Receipt")
    return _page(request, "receipt.html", r=data, email_form=True, sent=sent)


@router.post(PAY + "/{payment_id}/receipt/email")
async def receipt_email(payment_id: str, request: Request):
    email = (await _form(request)).get("email", "")
    try:
        await request.app.state.platform.adhoc.email_receipt(payment_id, email.strip())
    except NotFound:
        return _not_found(request, "Receipt")
    except ServiceError as exc:
        return HTMLResponse(f"<p>{_escape(exc.message)}</p>", status_code=400)
    from urllib.parse import quote

    return RedirectResponse(f"{PAY}/{payment_id}/receipt?sent={quote(email.strip())}", status_code=303)


@router.get(INVOICES + "/{authorization_reference}", response_class=HTMLResponse)
async def terminal_invoice(authorization_reference: str, request: Request):
    """Our invoice for a payment at a Payment Terminal Provider's terminal (the Terminal's
    invoice_base_url, then the payment's authorization_reference; OCPI 2.3.0 payments module)."""
    try:
        data = await request.app.state.platform.terminal_payments.invoice(authorization_reference)
    except NotFound:
        return _not_found(request, "Invoice")
    return _page(request, "receipt.html", r={**data, "title": "Invoice"}, email_form=False)


def _escape(text: str) -> str:
    import html

    return html.escape(text)

