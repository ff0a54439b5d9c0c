"""Sessions and CDRs in OCPI 2.1.1.

- No owner fields; `start_datetime`/`end_datetime` (Session) and `stop_date_time` (CDR) where the
  model says `start_date_time`/`end_date_time` (a CDR carries `end_date_time` too: several 2.1.1
  implementations read that name; inbound either is read).
- The token is named by its `auth_id` (the model's `cdr_token.contract_id`); inbound, the
  model's `cdr_token` is that of our token with this contract id (one we do not know keeps the
  auth_id as its uid and contract id, type OTHER, under our party).
- The whole Location is embedded (only the EVSE and connector of the session) where the model
  names `location_id`/`evse_uid`/`connector_id` (Session) or carries `cdr_location` (CDR).
- Costs are plain numbers, excluding VAT (the model's `excl_vat`); 2.1.1 has no per-dimension
  costs, no `signed_data`, no Credit CDRs (one cannot be said) and CDR ids of at most 36.
- Dimensions: 2.1.1 has FLAT and not RESERVATION_TIME or the power, current (besides min/max),
  export/import and state-of-charge ones; a CDR with a fixed cost says FLAT once in its first
  period, and an inbound FLAT (the model has none: the cost is in the totals) is dropped.
- AuthMethod COMMAND and SessionStatus RESERVATION do not exist: AUTH_REQUEST and PENDING.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from evroam.model.types import NOT_AVAILABLE
from evroam.ocpi.mappings.base import CannotSay, Context, ObjectMapping
from evroam.ocpi.mappings.v2_1_1 import locations, tariffs

DIMENSIONS = frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"})
SESSION_FIELDS = ("id", "start_datetime", "end_datetime", "kwh", "auth_id", "auth_method", "location", "meter_id",
                  "currency", "charging_periods", "total_cost", "status", "last_updated")
CDR_FIELDS = ("id", "start_date_time", "stop_date_time", "end_date_time", "auth_id", "auth_method", "location", "meter_id",
              "currency", "tariffs", "charging_periods", "total_cost", "total_energy", "total_time",
              "total_parking_time", "remark", "last_updated")


# ------------------------------------------------------------------ shared


def periods_out(periods: Any, *, flat: bool = False) -> Any:
    if not isinstance(periods, list):
        return periods
    out = []
    for period in periods:
        dims = [d for d in period.get("dimensions") or () if d.get("type") in DIMENSIONS and d["type"] != "FLAT"]
        if flat and not out:
            dims = [{"type": "FLAT", "volume": 1}, *dims]
        if dims:
            out.append({"start_date_time": period["start_date_time"], "dimensions": dims})
    return out


def periods_in(periods: Any) -> Any:
    if not isinstance(periods, list):
        return periods
    out = []
    for period in periods:
        if not isinstance(period, dict):
            out.append(period)
            continue
        dims = [d for d in period.get("dimensions") or () if not (isinstance(d, dict) and d.get("type") == "FLAT")]
        if dims or not period.get("dimensions"):
            out.append({**period, "dimensions": dims})
    return out


def _cost_out(price: Any) -> Any:
    return price.get("excl_vat") if isinstance(price, dict) else price


def _cost_in(value: Any) -> Any:
    return {"excl_vat": value} if isinstance(value, int | float) and not isinstance(value, bool) else value


async def cdr_token_in(auth_id: Any, ctx: Context) -> dict[str, Any]:
    """The model's CdrToken of a 2.1.1 auth_id: our token with that contract id."""
    if isinstance(auth_id, str) and ctx.lookups is not None:
        token = await ctx.lookups.token_by_contract(auth_id)
        if token is not None:
            return {k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
    cc, pid = ctx.us or ctx.owner or ("", "")
    return {"country_code": cc, "party_id": pid, "uid": auth_id, "type": "OTHER", "contract_id": auth_id}


def _auth_method_out(value: Any) -> Any:
    return "AUTH_REQUEST" if value == "COMMAND" else value


def _place_in(location: Any) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(location id, its first EVSE, that EVSE's first connector) of an embedded 2.1.1 Location."""
    if not isinstance(location, dict):
        return None, {}, {}
    evses = [e for e in location.get("evses") or () if isinstance(e, dict)]
    evse = evses[0] if evses else {}
    connectors = [c for c in evse.get("connectors") or () if isinstance(c, dict)]
    return location.get("id"), evse, connectors[0] if connectors else {}


async def _embedded(owner: tuple[str, str], location_id: str, evse_uid: str, connector_id: str, ctx: Context,
                    snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """The 2.1.1 Location a Session or CDR embeds: ours as stored (with only the session's EVSE
    and connector), the CDR's snapshot of it taking precedence."""
    stored = None
    if ctx.lookups is not None:
        stored = await ctx.cached(("location", *owner, location_id.casefold()),
                                  lambda: ctx.lookups.location(owner[0], owner[1], location_id))
    if stored is None and snapshot is None:
        raise CannotSay(f"location {location_id!r} is unknown: a 2.1.1 session embeds its location")
    loc = dict(stored or {"id": location_id, "publish": True, "last_updated": (snapshot or {}).get("last_updated")})
    evse = next((e for e in loc.get("evses") or () if str(e.get("uid", "")).casefold() == evse_uid.casefold()),
                None)
    connector = None
    if evse is not None:
        connector = next((c for c in evse.get("connectors") or ()
                          if str(c.get("id", "")).casefold() == connector_id.casefold()), None)
    if snapshot is not None:
        for key in ("name", "address", "city", "postal_code", "country", "coordinates"):
            if key in snapshot:
                loc[key] = snapshot[key]
        stamp = loc.get("last_updated") or snapshot.get("last_updated")
        evse = {**(evse or {"status": "UNKNOWN", "last_updated": stamp}), "uid": snapshot["evse_uid"],
                "evse_id": snapshot["evse_id"]}
        connector = {**(connector or {"max_voltage": 0, "max_amperage": 0, "last_updated": stamp}),
                     "id": snapshot["connector_id"], "standard": snapshot["connector_standard"],
                     "format": snapshot["connector_format"], "power_type": snapshot["connector_power_type"]}
    if evse is not None:
        loc["evses"] = [{**evse, "connectors": [connector] if connector is not None else []}]
    else:
        loc.pop("evses", None)
    loc["publish"] = True  # sent to the eMSP of the session whatever its publication
    return await locations.location_out(loc, replace(ctx, owner=owner))


def _owner(doc: dict[str, Any], ctx: Context) -> tuple[str, str]:
    if doc.get("country_code") and doc.get("party_id"):
        return doc["country_code"], doc["party_id"]
    if ctx.owner is None:
        raise CannotSay("the owner of the object is unknown")
    return ctx.owner


# ------------------------------------------------------------------ sessions


async def session_out(session: dict[str, Any], ctx: Context) -> dict[str, Any]:
    owner = _owner(session, ctx)
    out: dict[str, Any] = {
        "id": session["id"], "start_datetime": session["start_date_time"], "kwh": session.get("kwh"),
        "auth_id": (session.get("cdr_token") or {}).get("contract_id"),
        "auth_method": _auth_method_out(session.get("auth_method")),
        "location": await _embedded(owner, session["location_id"], session["evse_uid"], session["connector_id"],
                                    ctx),
        "currency": session.get("currency"),
        "status": "PENDING" if session.get("status") == "RESERVATION" else session.get("status"),
        "last_updated": session.get("last_updated"),
    }
    if session.get("end_date_time") is not None:
        out["end_datetime"] = session["end_date_time"]
    if session.get("meter_id") is not None:
        out["meter_id"] = session["meter_id"]
    if "charging_periods" in session:
        out["charging_periods"] = periods_out(session["charging_periods"])
    if session.get("total_cost") is not None:
        out["total_cost"] = _cost_out(session["total_cost"])
    return {k: out[k] for k in SESSION_FIELDS if k in out}


async def session_in(session: dict[str, Any], ctx: Context) -> dict[str, Any]:
    location_id, evse, connector = _place_in(session.get("location"))
    out: dict[str, Any] = {}
    if ctx.owner is not None:
        out["country_code"], out["party_id"] = ctx.owner
    for key, value in session.items():
        if key == "start_datetime":
            out["start_date_time"] = value
        elif key == "end_datetime":
            out["end_date_time"] = value
        elif key == "auth_id":
            out["cdr_token"] = await cdr_token_in(value, ctx)
        elif key == "location":
            out["location_id"] = location_id
            out["evse_uid"] = evse.get("uid", NOT_AVAILABLE)
            out["connector_id"] = connector.get("id", NOT_AVAILABLE)
        elif key == "charging_periods":
            out[key] = periods_in(value)
        elif key == "total_cost":
            out[key] = _cost_in(value)
        elif key not in ("country_code", "party_id"):
            out[key] = value
    return out


async def session_patch_in(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = await session_in(patch, Context(us=ctx.us, lookups=ctx.lookups))
    if "last_updated" not in out and ctx.now:
        out["last_updated"] = ctx.now
    return out


def session_patch_out(patch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The fields of a Session PATCH 2.1.1 has (a 2.1.1 PATCH replaces charging_periods rather
    than appending to them: the outbox sends the whole Session instead of a PATCH that has some)."""
    renames = {"start_date_time": "start_datetime", "end_date_time": "end_datetime"}
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "total_cost":
            out[key] = _cost_out(value)
        elif key == "status":
            out[key] = "PENDING" if value == "RESERVATION" else value
        elif key in renames:
            out[renames[key]] = value
        elif key in ("kwh", "currency", "meter_id", "last_updated"):
            out[key] = value
    return out


# ------------------------------------------------------------------ CDRs


async def cdr_out(cdr: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if cdr.get("credit"):
        raise CannotSay(f"CDR {cdr.get('id')!r} is a Credit CDR: OCPI 2.1.1 has none")
    if len(str(cdr.get("id", ""))) > 36:
        raise CannotSay(f"CDR id {cdr.get('id')!r} is longer than the 36 characters OCPI 2.1.1 allows")
    owner = _owner(cdr, ctx)
    snapshot = cdr["cdr_location"]
    out: dict[str, Any] = {
        "id": cdr["id"], "start_date_time": cdr["start_date_time"], "stop_date_time": cdr["end_date_time"],
        # also under its 2.2 name, which 2.1.1 implementations that mixed the two read (docs/interop.md)
        "end_date_time": cdr["end_date_time"],
        "auth_id": cdr["cdr_token"]["contract_id"], "auth_method": _auth_method_out(cdr.get("auth_method")),
        "location": await _embedded(owner, snapshot["id"], snapshot["evse_uid"], snapshot["connector_id"], ctx,
                                    snapshot={**snapshot, "last_updated": cdr.get("last_updated")}),
        "currency": cdr["currency"],
        "charging_periods": periods_out(cdr.get("charging_periods"), flat=cdr.get("total_fixed_cost") is not None),
        "total_cost": _cost_out(cdr["total_cost"]),
        "total_energy": cdr.get("total_energy"), "total_time": cdr.get("total_time"),
        "last_updated": cdr.get("last_updated"),
    }
    for key in ("meter_id", "total_parking_time", "remark"):
        if cdr.get(key) is not None:
            out[key] = cdr[key]
    if cdr.get("tariffs"):
        said = []
        for tariff in cdr["tariffs"]:
            try:
                said.append(tariffs.tariff_out(tariff))
            except CannotSay:
                continue  # the CDR's costs are what was billed; a tariff 2.1.1 cannot say is left out
        if said:
            out["tariffs"] = said
    return {k: out[k] for k in CDR_FIELDS if k in out}


async def cdr_in(cdr: dict[str, Any], ctx: Context) -> dict[str, Any]:
    location_id, evse, connector = _place_in(cdr.get("location"))
    out: dict[str, Any] = {}
    if ctx.owner is not None:
        out["country_code"], out["party_id"] = ctx.owner
    for key, value in cdr.items():
        if key == "stop_date_time" or (key == "end_date_time" and "stop_date_time" not in cdr):
            out["end_date_time"] = value
        elif key == "auth_id":
            out["cdr_token"] = await cdr_token_in(value, ctx)
        elif key == "location" and isinstance(value, dict):
            place = {k: value[k] for k in ("name", "address", "city", "postal_code", "country", "coordinates")
                     if k in value}
            out["cdr_location"] = {
                "id": location_id, **place, "evse_uid": evse.get("uid", NOT_AVAILABLE),
                "evse_id": evse.get("evse_id") or evse.get("uid", NOT_AVAILABLE),
                "connector_id": connector.get("id", NOT_AVAILABLE), "connector_standard": connector.get("standard"),
                "connector_format": connector.get("format"), "connector_power_type": connector.get("power_type"),
            }
        elif key == "charging_periods":
            out[key] = periods_in(value)
        elif key == "total_cost":
            out[key] = _cost_in(value)
        elif key == "tariffs" and isinstance(value, list):
            out[key] = [tariffs.tariff_in(t, ctx) if isinstance(t, dict) else t for t in value]
        elif key not in ("country_code", "party_id"):
            out[key] = value
    return out


SESSION = ObjectMapping(session_in, session_out)
SESSION_PATCH = ObjectMapping(session_patch_in, session_patch_out)
CDR = ObjectMapping(cdr_in, cdr_out)
