"""Finding chargers for a driver: distance (haversine), connector power, filters, and the views
of a location the driver API shows. Pure functions over OCPI Location dicts."""

from __future__ import annotations

import math
from typing import Any

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def connector_power_kw(connector: dict[str, Any]) -> float:
    """max_electric_power when given; else voltage x amperage (x 3 phases for AC_3_PHASE, whose
    max_voltage is line to neutral; x sqrt 3 when a line-to-line voltage is given)."""
    if connector.get("max_electric_power"):
        return connector["max_electric_power"] / 1000
    volts, amps = connector.get("max_voltage") or 0, connector.get("max_amperage") or 0
    if connector.get("power_type") == "AC_3_PHASE":
        factor = 3 if volts < 300 else math.sqrt(3)
    else:
        factor = 1
    return round(volts * amps * factor / 1000, 1)


def coordinates(location: dict[str, Any]) -> tuple[float, float] | None:
    try:
        c = location["coordinates"]
        return float(c["latitude"]), float(c["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def operator_name(location: dict[str, Any]) -> str | None:
    return (location.get("operator") or {}).get("name")


def matches_operator(location: dict[str, Any], wanted: str) -> bool:
    """`wanted` is a party (CC/PID or PID) or a part of the operator's name."""
    w = wanted.strip().casefold()
    party = f"{location['country_code']}/{location['party_id']}".casefold()
    name = (operator_name(location) or "").casefold()
    return w in (party, location["party_id"].casefold()) or (bool(w) and w in name)


def connector_view(connector: dict[str, Any]) -> dict[str, Any]:
    return {"id": connector["id"], "standard": connector["standard"], "format": connector.get("format"),
            "power_type": connector.get("power_type"), "power_kw": connector_power_kw(connector),
            "tariff_ids": connector.get("tariff_ids") or []}


def evse_view(evse: dict[str, Any], connectors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"uid": evse["uid"], "evse_id": evse.get("evse_id"), "status": evse["status"],
            "capabilities": evse.get("capabilities") or [],
            "connectors": connectors if connectors is not None else [connector_view(c) for c in evse["connectors"]]}


def location_head(location: dict[str, Any]) -> dict[str, Any]:
    return {
        "country_code": location["country_code"], "party_id": location["party_id"], "location_id": location["id"],
        "name": location.get("name"),
        "address": {k: location.get(k) for k in ("address", "postal_code", "city", "country")},
        "coordinates": location.get("coordinates"), "operator": operator_name(location),
        "time_zone": location.get("time_zone"),
    }


def search(locations: list[dict[str, Any]], *, lat: float, lon: float, radius_km: float,
           connector_type: str | None = None, min_power_kw: float | None = None, available: bool = False,
           operator: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Published locations within `radius_km` of (lat, lon), nearest first, with the EVSEs that
    pass the filters (a location without such an EVSE is left out); EVSEs REMOVED are never
    shown."""
    found = []
    for loc in locations:
        if loc.get("publish") is False:
            continue
        point = coordinates(loc)
        if point is None:
            continue
        distance = haversine_km(lat, lon, *point)
        if distance > radius_km:
            continue
        if operator and not matches_operator(loc, operator):
            continue
        evses = []
        for evse in loc.get("evses") or ():
            if evse.get("status") == "REMOVED" or (available and evse.get("status") != "AVAILABLE"):
                continue
            connectors = [connector_view(c) for c in evse.get("connectors") or ()
                          if (not connector_type or c.get("standard", "").casefold() == connector_type.casefold())
                          and (min_power_kw is None or connector_power_kw(c) >= min_power_kw)]
            if connectors:
                evses.append(evse_view(evse, connectors))
        if evses:
            found.append({**location_head(loc), "distance_km": round(distance, 3), "evses": evses})
    found.sort(key=lambda c: c["distance_km"])
    return found[:limit]
