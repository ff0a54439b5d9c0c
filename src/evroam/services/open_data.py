"""Open data: our published locations (`publish` true only), their EVSEs' live status and the
prices drivers pay, for anyone (navigation services, National Access Points, our public pages).

What is published is read from the store; a process keeps a snapshot of it (the published
locations and the tariffs they name) that every change of a location or tariff, made in this
process or any other (the change feed, `location.changed`, `tariff.changed`, `tariff.deleted`,
heard with `everywhere=True`), drops, and that is never older than `SNAPSHOT_SECONDS`. A
status change therefore reaches every open data output within about `change_poll_seconds`.

Consumers: open by default; with `open_data_tokens`, each consumer presents a token of its own
(`evroam opendata consumers add NAME`), stored as a SHA-256 hash."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evroam.events import Bus
from evroam.model.common import utcnow
from evroam.services import tariff_choice
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import same_id
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.open_data import Consumer
from evroam.tariffs.price_board import price_board

log = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 30.0  # a snapshot is rebuilt at least this often, events or not
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
CHANGES = ("location.changed", "tariff.changed", "tariff.deleted")


@dataclass
class Snapshot:
    """Our published locations (in creation order) and the tariffs they name, by id."""

    locations: list[dict[str, Any]]
    tariffs: dict[str, dict[str, Any]]
    taken_at: datetime
    generation: int
    built: float = field(default_factory=time.monotonic)

    @property
    def tariff_ids(self) -> list[str]:
        return sorted(self.tariffs)

    def location(self, location_id: str) -> dict[str, Any] | None:
        return next((loc for loc in self.locations if same_id(loc["id"], location_id)), None)


def evse_of(location: dict[str, Any], evse_uid: str) -> dict[str, Any] | None:
    return next((e for e in location.get("evses") or [] if same_id(e["uid"], evse_uid)), None)


def named_tariffs(location: dict[str, Any]) -> set[str]:
    return {tid for evse in location.get("evses") or [] for c in evse.get("connectors") or []
            for tid in c.get("tariff_ids") or []}


class OpenDataService:
    def __init__(self, store: Store, bus: Bus, settings: Settings) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self._snapshot: Snapshot | None = None
        self._generation = 0  # moves with every change heard
        self._lock = asyncio.Lock()
        for topic in CHANGES:
            bus.subscribe(topic, self._changed, everywhere=True)

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    def _changed(self, _event) -> None:
        self._generation += 1
        self._snapshot = None

    # ------------------------------------------------------------------ what is published

    async def snapshot(self) -> Snapshot:
        """The published locations and their tariffs as they are now (see the module docstring)."""
        current = self._snapshot
        if current is not None and time.monotonic() - current.built < SNAPSHOT_SECONDS:
            return current
        async with self._lock:
            current = self._snapshot
            if current is not None and time.monotonic() - current.built < SNAPSHOT_SECONDS:
                return current
            generation = self._generation
            async with self.store.connect() as conn:
                locations = await self.store.locations.all(conn, owners=[self.owner], published=True)
                ids = sorted(set().union(*(named_tariffs(loc) for loc in locations))) if locations else []
                tariffs = {}
                for tariff_id in ids:
                    tariff = await self.store.tariffs.get(conn, *self.owner, tariff_id)
                    if tariff is not None:
                        tariffs[tariff_id] = tariff
            snap = Snapshot(locations, tariffs, utcnow(), generation)
            if generation == self._generation:  # (a change heard meanwhile: not kept)
                self._snapshot = snap
            return snap

    async def published_tariff_ids(self) -> list[str]:
        return (await self.snapshot()).tariff_ids

    async def location(self, location_id: str) -> dict[str, Any]:
        """One published location (NotFound for an unknown or unpublished one)."""
        loc = (await self.snapshot()).location(location_id)
        if loc is None:
            raise NotFound(f"location {location_id!r} not found", kind="location")
        return loc

    async def evse(self, location_id: str, evse_uid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        loc = await self.location(location_id)
        evse = evse_of(loc, evse_uid)
        if evse is None or evse.get("status") == "REMOVED":
            raise NotFound(f"EVSE {evse_uid!r} not found in location {location_id!r}", kind="evse")
        return loc, evse

    def ad_hoc_tariff(self, snap: Snapshot, evse: dict[str, Any], at: datetime | None = None) -> dict[str, Any] | None:
        """The tariff a driver paying ad hoc pays at this EVSE now (its first connector's)."""
        connectors = evse.get("connectors") or []
        if not connectors:
            return None
        return tariff_choice.choose([snap.tariffs.get(t) for t in connectors[0].get("tariff_ids") or []],
                                    at or utcnow(), ad_hoc=True)

    async def ad_hoc_price(self, location_id: str, evse_uid: str) -> dict[str, Any] | None:
        """The AFIR price board of the ad-hoc tariff of an EVSE (None: no tariff)."""
        snap = await self.snapshot()
        _, evse = await self.evse(location_id, evse_uid)
        return price_board(self.ad_hoc_tariff(snap, evse))

    # ------------------------------------------------------------------ consumers

    async def add_consumer(self, name: str) -> str:
        """A consumer and its new token (shown once; only its hash is kept)."""
        if not _NAME.match(name or ""):
            raise Invalid("name: 1-100 letters, digits, spaces, '.', '_' or '-'")
        token = secrets.token_urlsafe(32)
        async with self.store.begin() as conn:
            if await self.store.open_data_consumers.exists(conn, name):
                raise Invalid(f"consumer {name!r} exists already")
            await self.store.open_data_consumers.add(conn, name, token)
        return token

    async def remove_consumer(self, name: str) -> None:
        async with self.store.begin() as conn:
            if not await self.store.open_data_consumers.remove(conn, name):
                raise NotFound(f"consumer {name!r} not found", kind="consumer")

    async def consumers(self) -> list[Consumer]:
        async with self.store.connect() as conn:
            return await self.store.open_data_consumers.list(conn)

    async def consumer(self, token: str) -> Consumer | None:
        async with self.store.connect() as conn:
            return await self.store.open_data_consumers.by_token(conn, token)
