"""Which of our own locations hold something an older version leaves out (2.3.0's Parking places,
help_phone, connector capabilities ...), known in each process, so that the locations list of
such a version sends the stored documents as they are (the list endpoints' fast path) until one
of our locations has any: then each document is checked (and mapped when it has).

The set is built by one read of our locations when first needed, and kept current by
`location.changed` (heard from every process through the change feed): a changed location is
read again before the next list."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from evroam.app import Platform

_PAGE = 1000
_trackers: weakref.WeakKeyDictionary[Any, ExtendedLocations] = weakref.WeakKeyDictionary()


class ExtendedLocations:
    def __init__(self, platform: Platform, markers: tuple[bytes, ...]) -> None:
        self.platform = platform
        self.markers = markers
        self.ids: set[str] | None = None  # None: not read yet
        self.dirty: set[str] = set()
        platform.bus.subscribe("location.changed", self._changed, everywhere=True)

    def _changed(self, event) -> None:
        self.dirty.add(str(event.data.get("location_id", "")).casefold())

    def _marked(self, raw: bytes | str) -> bool:
        data = raw.encode() if isinstance(raw, str) else raw
        return any(m in data for m in self.markers)

    async def any(self) -> bool:
        """Does one of our locations hold anything the markers name?"""
        store, s = self.platform.store, self.platform.settings
        ours = [(s.country_code, s.party_id)]
        if self.ids is None:
            self.dirty.clear()  # everything is read now
            ids: set[str] = set()
            offset = 0
            async with store.connect() as conn:
                while True:
                    rows, total = await store.locations.page(conn, owners=ours, offset=offset, limit=_PAGE,
                                                             raw=True)
                    ids |= {_id(raw) for raw in rows if self._marked(raw)}
                    offset += len(rows)
                    if not rows or offset >= total:
                        break
            self.ids = ids
        if self.dirty:
            dirty, self.dirty = self.dirty, set()
            async with store.connect() as conn:
                for location_id in dirty:
                    raw = await store.locations.get_raw(conn, s.country_code, s.party_id, location_id)
                    if raw is not None and self._marked(raw):
                        self.ids.add(location_id)
                    else:
                        self.ids.discard(location_id)
        return bool(self.ids)


def _id(raw: bytes | str) -> str:
    return str(orjson.loads(raw).get("id", "")).casefold()


def tracker(platform: Platform, markers: tuple[bytes, ...]) -> ExtendedLocations:
    found = _trackers.get(platform)
    if found is None:
        found = _trackers[platform] = ExtendedLocations(platform, markers)
    return found
