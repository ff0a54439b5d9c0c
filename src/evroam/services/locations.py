"""Locations: our own (as CPO: imported, edited, status changes pushed to partners) and those
partners push to us (as eMSP: stored per owning party)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.locations import EVSE, Connector, Location, Status
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import OwnObjectsService, merge_patch, same_id, validated


@dataclass
class ImportResult:
    created: list[str]
    updated: list[str]


class LocationService(OwnObjectsService):
    # ------------------------------------------------------------------ our locations (CPO)

    async def import_locations(self, data: Any, *, as_own: bool = False) -> ImportResult:
        """Validate every location first (nothing is stored if one is wrong), then store them as
        ours and push them to partners. Tariff ids may name tariffs imported later."""
        cc, pid = self.owner
        locations = self.validate_own(Location, data, as_own=as_own, kind="location")
        result = ImportResult([], [])
        now = format_datetime(utcnow())
        async with self.store.begin() as conn:
            for loc in locations:
                loc["last_updated"] = now
                before = await self.store.locations.get(conn, cc, pid, loc["id"])
                await self._log_statuses(conn, before, loc, parse_datetime(now))
                created = await self.store.locations.put(conn, cc, pid, loc["id"], loc, parse_datetime(now))
                (result.created if created else result.updated).append(loc["id"])
                await self.pushes.location_put(conn, loc)
        self._changed(locations)
        return result

    async def save(self, location: dict[str, Any]) -> bool:
        """Create or replace one of our locations (admin API). True when new."""
        result = await self.import_locations(location)
        return bool(result.created)

    async def get_own(self, location_id: str) -> dict[str, Any]:
        cc, pid = self.owner
        async with self.store.connect() as conn:
            loc = await self.store.locations.get(conn, cc, pid, location_id)
        if loc is None:
            raise NotFound(f"location {location_id!r} not found", kind="location")
        return loc

    async def set_evse_status(self, location_id: str, evse_uid: str, status: str | Status, *,
                              charger_id: str | None = None) -> dict[str, Any]:
        """Change an EVSE's status (charger reports, operator actions); pushed as an EVSE PATCH.
        `evse.status` says it on the bus (`charger_id`: the charger that reported it)."""
        try:
            status = Status(status)
        except ValueError:
            raise Invalid(f"status: {status!r} is not one of {', '.join(s.value for s in Status)}") from None
        cc, pid = self.owner
        async with self.store.begin() as conn:
            loc = await self.store.locations.get(conn, cc, pid, location_id)
            if loc is None:
                raise NotFound(f"location {location_id!r} not found", kind="location")
            evse = _find(loc.get("evses") or [], "uid", evse_uid)
            if evse is None:
                raise NotFound(f"EVSE {evse_uid!r} not found in location {location_id!r}", kind="evse")
            now = utcnow()
            stamp = format_datetime(now)
            if evse.get("status") == status.value:
                return evse
            evse["status"] = status.value
            evse["last_updated"] = stamp
            loc["last_updated"] = stamp
            await self.store.locations.put(conn, cc, pid, loc["id"], loc, now)
            await self.store.status_log.add(conn, loc["id"], evse["uid"], status.value, now)
            await self.pushes.evse_patch(conn, loc["id"], evse["uid"], {"status": status.value, "last_updated": stamp})
        self._changed([loc])
        self.bus.publish("evse.status", location_id=loc["id"], evse_uid=evse["uid"], status=status.value,
                         charger_id=charger_id, at=stamp)
        return evse

    async def _log_statuses(self, conn, before: dict[str, Any] | None, loc: dict[str, Any], at: datetime) -> None:
        """The status history (AFIR uptime) of an imported location: each EVSE that is new or
        whose status the import changes."""
        old = {e["uid"]: e.get("status") for e in (before or {}).get("evses") or []}
        for evse in loc.get("evses") or []:
            if old.get(evse["uid"]) != evse.get("status"):
                await self.store.status_log.add(conn, loc["id"], evse["uid"], evse["status"], at)

    def _changed(self, locations: list[dict[str, Any]]) -> None:
        for loc in locations:
            self.bus.publish("location.changed", country_code=loc["country_code"], party_id=loc["party_id"],
                             location_id=loc["id"])
        self.bus.publish("outbox.enqueued")

    # ------------------------------------------------------------------ partners' locations (eMSP)

    async def get_received(self, cc: str, pid: str, location_id: str, evse_uid: str | None = None,
                           connector_id: str | None = None) -> dict[str, Any]:
        async with self.store.connect() as conn:
            loc = await self.store.locations.get(conn, cc, pid, location_id)
        return _select(loc, location_id, evse_uid, connector_id)

    async def receive_put(self, cc: str, pid: str, location_id: str, evse_uid: str | None,
                          connector_id: str | None, body: Any) -> bool:
        """A CPO's PUT of a whole Location, EVSE or Connector. True when the object is new."""
        async with self.store.begin() as conn:
            current = await self.store.locations.get(conn, cc, pid, location_id)
            if evse_uid is None:
                loc = validated(Location, body).to_dict()
                if not (same_id(loc["country_code"], cc) and same_id(loc["party_id"], pid)):
                    raise Invalid(f"country_code/party_id: body says {loc['country_code']}/{loc['party_id']}, "
                                  f"URL says {cc}/{pid}")
                if not same_id(loc["id"], location_id):
                    raise Invalid(f"id: body says {loc['id']!r}, URL says {location_id!r}")
                created = current is None
                stamp = loc["last_updated"]
            else:
                if current is None:
                    raise NotFound(f"location {location_id!r} of {cc}/{pid} is unknown: PUT the location first",
                                   kind="location")
                loc = current
                evses = loc.setdefault("evses", [])
                if connector_id is None:
                    evse = validated(EVSE, body).to_dict()
                    if not same_id(evse["uid"], evse_uid):
                        raise Invalid(f"uid: body says {evse['uid']!r}, URL says {evse_uid!r}")
                    created = _replace(evses, "uid", evse_uid, evse)
                    stamp = evse["last_updated"]
                else:
                    evse = _find(evses, "uid", evse_uid)
                    if evse is None:
                        raise NotFound(f"EVSE {evse_uid!r} is unknown: PUT the EVSE first", kind="evse")
                    connector = validated(Connector, body).to_dict()
                    if not same_id(connector["id"], connector_id):
                        raise Invalid(f"id: body says {connector['id']!r}, URL says {connector_id!r}")
                    created = _replace(evse.setdefault("connectors", []), "id", connector_id, connector)
                    stamp = connector["last_updated"]
                    evse["last_updated"] = max(evse["last_updated"], stamp, key=_when)
                loc["last_updated"] = max(loc["last_updated"], stamp, key=_when)
                validated(Location, loc)
            await self.store.locations.put(conn, cc, pid, location_id if current is None else current["id"], loc,
                                           parse_datetime(loc["last_updated"]))
        self.bus.publish("location.received", country_code=cc.upper(), party_id=pid.upper(), location_id=location_id)
        return created

    async def receive_patch(self, cc: str, pid: str, location_id: str, evse_uid: str | None,
                            connector_id: str | None, patch: Any) -> None:
        """A CPO's PATCH of a Location, EVSE or Connector: only the given fields change, and the
        parents' last_updated follows."""
        async with self.store.begin() as conn:
            loc = await self.store.locations.get(conn, cc, pid, location_id)
            if loc is None:
                raise NotFound(f"location {location_id!r} of {cc}/{pid} is unknown", kind="location")
            if evse_uid is None:
                for key in ("id", "country_code", "party_id"):
                    if key in patch and not same_id(str(patch[key]), str(loc[key])):
                        raise Invalid(f"{key}: cannot be changed by PATCH")
                loc = merge_patch(loc, patch)
            else:
                evses = loc.get("evses") or []
                evse = _find(evses, "uid", evse_uid)
                if evse is None:
                    raise NotFound(f"EVSE {evse_uid!r} is unknown", kind="evse")
                if connector_id is None:
                    merged = merge_patch(evse, patch)
                    _replace(evses, "uid", evse_uid, merged)
                    evse = merged
                else:
                    connectors = evse.get("connectors") or []
                    connector = _find(connectors, "id", connector_id)
                    if connector is None:
                        raise NotFound(f"connector {connector_id!r} is unknown", kind="connector")
                    _replace(connectors, "id", connector_id, merge_patch(connector, patch))
                    evse["last_updated"] = max(evse["last_updated"], patch["last_updated"], key=_when)
                loc["last_updated"] = max(loc["last_updated"], patch["last_updated"], key=_when)
            loc = validated(Location, loc).to_dict()
            await self.store.locations.put(conn, cc, pid, loc["id"], loc, parse_datetime(loc["last_updated"]))
        self.bus.publish("location.received", country_code=cc.upper(), party_id=pid.upper(), location_id=location_id)

    async def store_pulled(self, locations: list[dict[str, Any]], allowed: list[tuple[str, str]]) -> int:
        """Locations fetched from a CPO's sender endpoint (pull sync): each one validated and
        stored under its owner, if that owner is one of the CPO's parties."""
        stored = 0
        async with self.store.begin() as conn:
            for raw in locations:
                loc = validated(Location, raw, where=f"location {raw.get('id') if isinstance(raw, dict) else '?'}")
                if (loc.country_code.upper(), loc.party_id.upper()) not in allowed:
                    continue
                data = loc.to_dict()
                await self.store.locations.put(conn, loc.country_code, loc.party_id, loc.id, data, loc.last_updated)
                stored += 1
        return stored


def _when(value: str) -> datetime:
    return parse_datetime(value)


def _find(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    for item in items:
        if same_id(str(item.get(key, "")), value):
            return item
    return None


def _replace(items: list[dict[str, Any]], key: str, value: str, new: dict[str, Any]) -> bool:
    """Replace the item whose `key` equals `value`, or append it; True when appended."""
    for i, item in enumerate(items):
        if same_id(str(item.get(key, "")), value):
            items[i] = new
            return False
    items.append(new)
    return True


def _select(loc: dict[str, Any] | None, location_id: str, evse_uid: str | None,
            connector_id: str | None) -> dict[str, Any]:
    if loc is None:
        raise NotFound(f"location {location_id!r} not found", kind="location")
    if evse_uid is None:
        return loc
    evse = _find(loc.get("evses") or [], "uid", evse_uid)
    if evse is None:
        raise NotFound(f"EVSE {evse_uid!r} not found in location {location_id!r}", kind="evse")
    if connector_id is None:
        return evse
    connector = _find(evse.get("connectors") or [], "id", connector_id)
    if connector is None:
        raise NotFound(f"connector {connector_id!r} not found in EVSE {evse_uid!r}", kind="connector")
    return connector


select_part = _select
