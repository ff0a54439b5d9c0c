"""The map of our locations: Web Mercator positions in a fixed frame (FRAME_W x FRAME_H pixels),
and, when a tile server is configured, the tiles that cover the frame at the zoom that fits every
location. Without tiles the same positions are drawn on a plain background."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FRAME_W, FRAME_H = 1000, 600
TILE = 256
MAX_ZOOM = 17
PADDING = 40  # pixels kept free around the locations

#: the order in which an EVSE status makes a location stand out on the map
_WORST = ["OUTOFORDER", "INOPERATIVE", "BLOCKED", "AVAILABLE", "CHARGING", "RESERVED", "UNKNOWN", "PLANNED",
          "REMOVED"]


def world(lat: float, lon: float) -> tuple[float, float]:
    """Position at zoom 0 (0..256 on both axes)."""
    lat = max(-85.05112878, min(85.05112878, lat))
    x = (lon + 180.0) / 360.0 * TILE
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE
    return x, y


def location_status(statuses: list[str]) -> str:
    """The status a location is drawn with: a problem first, then whether one can charge."""
    if not statuses:
        return "UNKNOWN"
    present = set(statuses)
    for status in ("OUTOFORDER",):
        if status in present:
            return status
    if "AVAILABLE" in present:
        return "AVAILABLE"
    return min(present, key=lambda s: _WORST.index(s) if s in _WORST else len(_WORST))


@dataclass
class MapFrame:
    zoom: float
    origin: tuple[float, float]  # world pixels (at `zoom`) of the frame's top-left corner
    tiles: list[dict[str, Any]]

    def place(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = world(lat, lon)
        scale = 2 ** self.zoom
        return round(x * scale - self.origin[0], 1), round(y * scale - self.origin[1], 1)


def frame(points: list[tuple[float, float]], tiles_url: str | None) -> MapFrame:
    """The zoom and origin that fit `points` (lat, lon) in the frame; whole zooms with tiles."""
    if not points:
        points = [(52.0, 5.0)]
    xs, ys = zip(*(world(lat, lon) for lat, lon in points), strict=True)
    span_x, span_y = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
    zoom = min(math.log2((FRAME_W - 2 * PADDING) / span_x), math.log2((FRAME_H - 2 * PADDING) / span_y), MAX_ZOOM)
    zoom = max(0.0, zoom)
    if tiles_url:
        zoom = float(math.floor(zoom))
    scale = 2 ** zoom
    center = ((max(xs) + min(xs)) / 2 * scale, (max(ys) + min(ys)) / 2 * scale)
    origin = (center[0] - FRAME_W / 2, center[1] - FRAME_H / 2)
    tiles = []
    if tiles_url:
        z = int(zoom)
        count = 2 ** z
        for ty in range(max(0, int(origin[1] // TILE)), min(count, int((origin[1] + FRAME_H) // TILE) + 1)):
            for tx in range(int(origin[0] // TILE), int((origin[0] + FRAME_W) // TILE) + 1):
                url = tiles_url.replace("{z}", str(z)).replace("{x}", str(tx % count)).replace("{y}", str(ty))
                tiles.append({"url": url, "left": round((tx * TILE - origin[0]) / FRAME_W * 100, 3),
                              "top": round((ty * TILE - origin[1]) / FRAME_H * 100, 3),
                              "width": round(TILE / FRAME_W * 100, 3), "height": round(TILE / FRAME_H * 100, 3)})
    return MapFrame(zoom, origin, tiles)


class MapCache:
    """Our locations as the map needs them (id, name, city, latitude, longitude, [[EVSE uid,
    status], ...]), kept in this process: read whole once, then only the locations that changed
    (`location.changed`, heard from every node and process, which an EVSE status change causes
    too), so that showing the map does not read and parse every location each time."""

    def __init__(self, store, bus, owner: tuple[str, str]) -> None:
        self.store = store
        self.owner = owner
        self.items: dict[str, tuple] | None = None
        self.dirty: set[str] = set()
        bus.subscribe("location.changed", self._changed, everywhere=True)

    def _changed(self, event) -> None:
        data = event.data
        if (str(data.get("country_code", "")).upper(), str(data.get("party_id", "")).upper()) == self.owner:
            self.dirty.add(data.get("location_id"))

    @staticmethod
    def _entry(loc: dict) -> tuple | None:
        try:
            lat, lon = float(loc["coordinates"]["latitude"]), float(loc["coordinates"]["longitude"])
        except (KeyError, TypeError, ValueError):
            return None
        return (loc["id"], loc.get("name") or loc["id"], loc.get("city"), lat, lon,
                [[e["uid"], e.get("status", "UNKNOWN")] for e in loc.get("evses") or []])

    async def locations(self) -> list[tuple]:
        if self.items is None:
            self.dirty.clear()  # (changes from now on are read again)
            async with self.store.connect() as conn:
                found = await self.store.locations.all(conn, owners=[self.owner])
            self.items = {loc["id"]: entry for loc in found if (entry := self._entry(loc)) is not None}
        elif self.dirty:
            changed, self.dirty = self.dirty, set()
            async with self.store.connect() as conn:
                for location_id in changed:
                    loc = await self.store.locations.get(conn, *self.owner, location_id)
                    entry = self._entry(loc) if loc is not None else None
                    if entry is None:
                        self.items.pop(location_id, None)
                    else:
                        self.items[location_id] = entry
        return list(self.items.values())
