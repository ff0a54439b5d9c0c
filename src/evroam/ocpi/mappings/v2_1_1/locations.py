"""Locations in OCPI 2.1.1.

- A Location names no owner (`country_code`/`party_id` come from the URL or the partner) and has
  no `publish`: an unpublished Location cannot be said (a 2.1.1 partner would show it to all).
- `type` (LocationType, required) is the model's `parking_type`: the values both have pass,
  ALONG_MOTORWAY and ON_DRIVEWAY are OTHER, none is UNKNOWN; OTHER and UNKNOWN read as none.
- `time_zone` is optional in 2.1.1: one missing is read as its country's (see zones.py).
- `postal_code` is required in 2.1.1 (an empty string when the model has none).
- Connector `voltage`/`amperage`/`tariff_id` are the model's `max_voltage`/`max_amperage` and
  `tariff_ids`: out of several tariffs, the first that applies to every session (REGULAR or no
  type) and that 2.1.1 can say is named (none when none can).
- EnvironmentalImpact names its category `source`.
- Values 2.1.1 does not have are left out (capabilities, parking restrictions, facilities), and
  a connector of a standard or power type 2.1.1 does not have is left out with it (an EVSE
  without connectors left with it).
"""

from __future__ import annotations

from typing import Any

from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping, pick
from evroam.ocpi.mappings.v2_1_1 import tariffs
from evroam.ocpi.mappings.v2_1_1.common import energy_mix_in, energy_mix_out, only
from evroam.ocpi.mappings.v2_1_1.zones import zone_of

LOCATION_FIELDS = ("id", "type", "name", "address", "city", "postal_code", "country", "coordinates",
                   "related_locations", "evses", "directions", "operator", "suboperator", "owner", "facilities",
                   "time_zone", "opening_times", "charging_when_closed", "images", "energy_mix", "last_updated")
EVSE_FIELDS = ("uid", "evse_id", "status", "status_schedule", "capabilities", "connectors", "floor_level",
               "coordinates", "physical_reference", "directions", "parking_restrictions", "images", "last_updated")
CONNECTOR_FIELDS = ("id", "standard", "format", "power_type", "voltage", "amperage", "tariff_id",
                    "terms_and_conditions", "last_updated")
LOCATION_TYPES = frozenset({"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"})
CAPABILITIES = frozenset({"CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE",
                          "RESERVABLE", "RFID_READER", "UNLOCK_CAPABLE"})
RESTRICTIONS = frozenset({"EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"})
FACILITIES = frozenset({"HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE",
                        "MUSEUM", "BUS_STOP", "TAXI_STAND", "TRAIN_STATION", "AIRPORT", "CARPOOL_PARKING",
                        "FUEL_STATION", "WIFI"})
STANDARDS = frozenset({"CHADEMO", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E",
                       "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K",
                       "DOMESTIC_L", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
                       "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
                       "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "TESLA_R", "TESLA_S"})
POWER_TYPES = frozenset({"AC_1_PHASE", "AC_3_PHASE", "DC"})


# ------------------------------------------------------------------ inbound


def connector_in(connector: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in connector.items():
        if key == "voltage":
            out["max_voltage"] = value
        elif key == "amperage":
            out["max_amperage"] = value
        elif key == "tariff_id":
            if value is not None:
                out["tariff_ids"] = [value]
        else:
            out[key] = value
    return out


def evse_in(evse: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    out = dict(evse)
    if isinstance(out.get("connectors"), list):
        out["connectors"] = [connector_in(c) if isinstance(c, dict) else c for c in out["connectors"]]
    return out


def location_in(location: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ctx.owner is not None:
        out["country_code"], out["party_id"] = ctx.owner
    for key, value in location.items():
        if key == "type":
            if value not in ("OTHER", "UNKNOWN"):
                out["parking_type"] = value
        elif key == "evses" and isinstance(value, list):
            out["evses"] = [evse_in(e) if isinstance(e, dict) else e for e in value]
        elif key == "energy_mix":
            out[key] = energy_mix_in(value)
        elif key in ("country_code", "party_id"):
            continue  # 2.1.1 has none: the owner is the URL's or the partner's
        else:
            out[key] = value
    out.setdefault("publish", True)
    if not out.get("time_zone"):
        zone = zone_of(location.get("country"))
        if zone:
            out["time_zone"] = zone
    return out


def location_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = {k: v for k, v in location_in(patch, Context(now=ctx.now)).items() if k != "publish"}
    if "time_zone" in out and "time_zone" not in patch:
        del out["time_zone"]
    return _stamped(out, ctx)


def _stamped(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """2.1.1 PATCHes need no last_updated; the model's do (the time of receipt)."""
    if "last_updated" not in patch and ctx.now:
        return {**patch, "last_updated": ctx.now}
    return patch


# ------------------------------------------------------------------ outbound


async def _tariff_id(connector: dict[str, Any], owner: tuple[str, str] | None, ctx: Context) -> str | None:
    """The one tariff a 2.1.1 partner can be told a connector has."""
    ids = [t for t in connector.get("tariff_ids") or () if isinstance(t, str)]
    if not ids:
        return None
    if ctx.lookups is None or owner is None:
        return ids[0]
    for tariff_id in ids:
        tariff = await ctx.cached(("tariff", *owner, tariff_id.casefold()),
                                  lambda t=tariff_id: ctx.lookups.tariff(owner[0], owner[1], t))
        if tariff is None or (tariff.get("type") in (None, "REGULAR") and not tariffs.refusals(tariff)):
            return tariff_id  # (a tariff not known yet is named as the connector names it)
    return None


async def connector_out(connector: dict[str, Any], ctx: Context, owner: tuple[str, str] | None = None,
                        *, partial: bool = False) -> dict[str, Any] | None:
    if not partial and (connector.get("standard") not in STANDARDS or connector.get("power_type") not in POWER_TYPES):
        return None
    out: dict[str, Any] = {}
    for key, value in connector.items():
        if key == "max_voltage":
            out["voltage"] = value
        elif key == "max_amperage":
            out["amperage"] = value
        elif key == "tariff_ids":
            tariff_id = await _tariff_id(connector, owner, ctx)
            if tariff_id is not None:
                out["tariff_id"] = tariff_id
        elif key in CONNECTOR_FIELDS:
            out[key] = value
    return {k: out[k] for k in CONNECTOR_FIELDS if k in out}


async def evse_out(evse: dict[str, Any], ctx: Context, owner: tuple[str, str] | None = None, *,
                   partial: bool = False) -> dict[str, Any] | None:
    out = pick(evse, EVSE_FIELDS)
    if "capabilities" in out:
        out["capabilities"] = only(out["capabilities"], CAPABILITIES)
    if "parking_restrictions" in out:
        out["parking_restrictions"] = only(out["parking_restrictions"], RESTRICTIONS)
    if "connectors" in out:
        connectors = [await connector_out(c, ctx, owner) for c in out["connectors"]]
        out["connectors"] = [c for c in connectors if c is not None]
        if not out["connectors"] and not partial:
            return None
    return out


def _owner(doc: dict[str, Any], ctx: Context) -> tuple[str, str] | None:
    if doc.get("country_code") and doc.get("party_id"):
        return doc["country_code"], doc["party_id"]
    return ctx.owner


async def location_out(location: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if location.get("publish") is False:
        raise CannotSay(f"location {location.get('id')!r} is not published: OCPI 2.1.1 cannot limit who sees it")
    return await _location_out(location, ctx)


async def _location_out(location: dict[str, Any], ctx: Context, *, partial: bool = False) -> dict[str, Any]:
    owner = _owner(location, ctx)
    out = pick(location, LOCATION_FIELDS)
    if not partial or "parking_type" in location:
        parking = location.get("parking_type")
        out["type"] = parking if parking in LOCATION_TYPES else ("OTHER" if parking else "UNKNOWN")
    if not partial:
        out.setdefault("postal_code", "")
    if "evses" in out:
        evses = [await evse_out(e, ctx, owner) for e in out["evses"]]
        out["evses"] = [e for e in evses if e is not None]
    if "facilities" in out:
        out["facilities"] = only(out["facilities"], FACILITIES)
    if "energy_mix" in out:
        out["energy_mix"] = energy_mix_out(out["energy_mix"])
    return {k: out[k] for k in LOCATION_FIELDS if k in out}


async def _evse_single(evse: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = await evse_out(evse, ctx, ctx.owner)
    if out is None:
        raise CannotSay(f"EVSE {evse.get('uid')!r}: none of its connectors is of a type OCPI 2.1.1 has")
    return out


async def _connector_single(connector: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = await connector_out(connector, ctx, ctx.owner)
    if out is None:
        raise CannotSay(f"connector {connector.get('id')!r} is of a standard or power type OCPI 2.1.1 lacks")
    return out


async def location_patch_out(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return await _location_out(patch, ctx, partial=True)


async def evse_patch_out(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return await evse_out(patch, ctx, ctx.owner, partial=True) or {}


async def connector_patch_out(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return await connector_out(patch, ctx, ctx.owner, partial=True) or {}


def evse_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return _stamped(evse_in(patch), ctx)


def connector_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return _stamped(connector_in(patch), ctx)


LOCATION = ObjectMapping(location_in, location_out)
EVSE = ObjectMapping(evse_in, _evse_single)
CONNECTOR = ObjectMapping(connector_in, _connector_single)
LOCATION_PATCH = ObjectMapping(location_patch_in, location_patch_out)
EVSE_PATCH = ObjectMapping(evse_patch_in, evse_patch_out)
CONNECTOR_PATCH = ObjectMapping(connector_patch_in, connector_patch_out)
