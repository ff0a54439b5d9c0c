"""What the driver API shows of sessions, CDRs, tariffs and price estimates (money as Decimal
strings to the cent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from evroam.driverapi.chargers import connector_power_kw, connector_view, evse_view, location_head
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.services.invoices import money
from evroam.services.reconciliation import MONEY, Unpriceable, price_periods
from evroam.tariffs import PricingError, Rounding, estimate
from evroam.tariffs.case import InputError
from evroam.tariffs.describe import describe_tariff
from evroam.tariffs.types import Money


def price_view(price: dict[str, Any] | None) -> dict[str, str] | None:
    """An OCPI Price as strings to the cent, with the VAT in between (None when not given)."""
    if not price:
        return None
    excl = money(price.get("excl_vat", 0))
    out = {"excl_vat": str(excl)}
    if price.get("incl_vat") is not None:
        incl = money(price["incl_vat"])
        out.update(vat=str(incl - excl), incl_vat=str(incl))
    return out


def money_view(m: Money) -> dict[str, str]:
    excl = MONEY.money(m.excl_vat)
    out = {"excl_vat": str(excl)}
    if m.incl_vat is not None:
        incl = MONEY.money(m.incl_vat)
        out.update(vat=str(incl - excl), incl_vat=str(incl))
    return out


async def session_view(platform, conn, session: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """A session with its energy and its cost so far: the CPO's `total_cost` when it sends one,
    otherwise our own pricing of its charging periods with its tariff (`cost_source`). Reads its
    location and tariff on the caller's connection."""
    cc, pid = session["country_code"], session["party_id"]
    cost, source = price_view(session.get("total_cost")), "cpo" if session.get("total_cost") else None
    location = await platform.store.locations.get(conn, cc, pid, session["location_id"])
    if cost is None and session.get("charging_periods"):
        tariff, _ = await platform.reconciliation.tariff_for(conn, cc, pid, session)
        if tariff is not None:
            zone = (location or {}).get("time_zone") or "UTC"
            end = parse_datetime(session["end_date_time"]) if session.get("end_date_time") else (now or utcnow())
            try:
                result = price_periods(session["charging_periods"], parse_datetime(session["start_date_time"]),
                                       end, tariff, zone)
                cost, source = money_view(result.total_cost), "estimated"
            except Unpriceable:
                pass
    return {
        "country_code": cc, "party_id": pid, "session_id": session["id"], "status": session["status"],
        "start_date_time": session["start_date_time"], "end_date_time": session.get("end_date_time"),
        "kwh": session.get("kwh", 0), "currency": session["currency"], "cost": cost, "cost_source": source,
        "token_uid": (session.get("cdr_token") or {}).get("uid"),
        "authorization_reference": session.get("authorization_reference"),
        "location": {"location_id": session["location_id"], "evse_uid": session["evse_uid"],
                     "connector_id": session["connector_id"], "name": (location or {}).get("name"),
                     "address": (location or {}).get("address"), "city": (location or {}).get("city")},
        "last_updated": session["last_updated"],
    }


def cdr_view(cdr: dict[str, Any], check: dict[str, Any] | None = None) -> dict[str, Any]:
    loc = cdr.get("cdr_location") or {}
    out = {
        "country_code": cdr["country_code"], "party_id": cdr["party_id"], "cdr_id": cdr["id"],
        "session_id": cdr.get("session_id"), "start_date_time": cdr["start_date_time"],
        "end_date_time": cdr["end_date_time"], "energy_kwh": cdr.get("total_energy"),
        "time_h": cdr.get("total_time"), "parking_time_h": cdr.get("total_parking_time"),
        "currency": cdr["currency"], "total_cost": price_view(cdr.get("total_cost")),
        "location": {k: loc.get(k) for k in ("id", "name", "address", "city", "evse_id", "connector_standard")},
        "token_uid": (cdr.get("cdr_token") or {}).get("uid"),
        "credit": bool(cdr.get("credit")),
        "price_check": check["status"] if check else None,
    }
    if cdr.get("credit_reference_id"):
        out["credit_reference_id"] = cdr["credit_reference_id"]
    return out


def estimate_view(tariff: dict[str, Any], *, kwh: float, power_kw: float, time_zone: str,
                  now: datetime) -> dict[str, Any]:
    """What charging `kwh` at `power_kw` from now would cost (the tariff engine's estimate)."""
    try:
        est = estimate(tariff, kwh=kwh, power_kw=power_kw, start=now, time_zone=time_zone, rounding=Rounding(2))
    except (PricingError, InputError, ValueError) as exc:
        return {"error": f"no estimate: {exc}"}
    by_dim = est.result.cost_by_dimension()
    return {
        "energy_kwh": kwh, "power_kw": power_kw, "currency": est.result.currency,
        "start_date_time": format_datetime(est.session.start_date_time),
        "charging_ends": format_datetime(est.session.meter_samples[1].timestamp),
        "total_cost": money_view(est.result.total_cost),
        "by_dimension": {dim: money_view(m) for dim, m in by_dim.items() if m.excl_vat != 0},
    }


def location_view(location: dict[str, Any], tariffs: dict[str, dict[str, Any]], *, energy_kwh: float,
                  power_kw: float | None, now: datetime) -> dict[str, Any]:
    """A location with live EVSE statuses and, per connector, its tariff in words and an
    estimate for charging `energy_kwh` now (at the connector's power, or `power_kw` when lower)."""
    zone = location.get("time_zone") or "UTC"
    estimates: dict[tuple[str, float], dict[str, Any]] = {}
    evses = []
    for evse in location.get("evses") or ():
        if evse.get("status") == "REMOVED":
            continue
        connectors = []
        for c in evse.get("connectors") or ():
            view = connector_view(c)
            tariff = next((tariffs[t] for t in c.get("tariff_ids") or () if t in tariffs), None)
            view["tariff"] = describe_tariff(tariff) if tariff else None
            if tariff is not None:
                kw = min(connector_power_kw(c), power_kw) if power_kw else connector_power_kw(c)
                key = (tariff["id"], kw)
                if key not in estimates:
                    estimates[key] = estimate_view(tariff, kwh=energy_kwh, power_kw=kw or 1.0, time_zone=zone,
                                                   now=now)
                view["estimate"] = estimates[key]
            else:
                view["estimate"] = None
            connectors.append(view)
        evses.append(evse_view(evse, connectors))
    return {**location_head(location), "opening_times": location.get("opening_times"),
            "facilities": location.get("facilities") or [], "parking_type": location.get("parking_type"),
            "evses": evses, "last_updated": location.get("last_updated")}

