"""What the statistics need to know of chargers' availability, recorded as it happens: each
connection of a charger (its uptime) and each EVSE that went out of order (the recent faults).

It listens to this process's own events (`charger.connected`, `charger.disconnected`,
`evse.status`), so each is written once, by the node where it happened, and writes them in
batches (one transaction every `FLUSH_SECONDS`), so a reconnecting fleet costs a few writes, not
one per charger. What is recorded is statistics: a node that dies leaves its chargers'
connections open until they connect again (they then close at the new connection)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from evroam.events import Bus, Event
from evroam.model.common import parse_datetime, utcnow
from evroam.store import Store

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
FAULTS = ("OUTOFORDER",)


class AvailabilityRecorder:
    def __init__(self, store: Store, bus: Bus, node: str) -> None:
        self.store = store
        self.node = node
        self._pending: list[tuple[str, datetime, dict[str, Any]]] = []
        self._flushing: asyncio.Task | None = None
        bus.subscribe("charger.connected", lambda e: self._note("connected", e))
        bus.subscribe("charger.disconnected", lambda e: self._note("disconnected", e))
        bus.subscribe("evse.status", self._on_status)

    def _on_status(self, event: Event) -> None:
        if event.data.get("status") in FAULTS:
            self._note("fault", event)

    def _note(self, kind: str, event: Event) -> None:
        at = event.data.get("at")
        self._pending.append((kind, parse_datetime(at) if at else utcnow(), event.data))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        repo = self.store.statistics
        try:
            async with self.store.begin() as conn:
                for kind, at, data in pending:
                    if kind == "connected":
                        await repo.connected(conn, data["charger_id"], self.node, at)
                    elif kind == "disconnected":
                        await repo.disconnected(conn, data["charger_id"], at)
                    else:
                        await repo.add_fault(conn, at=at, charger_id=data.get("charger_id"),
                                             location_id=data.get("location_id"), evse_uid=data.get("evse_uid"),
                                             status=data["status"])
        except Exception:
            log.exception("%d availability records could not be written", len(pending))

    async def close(self) -> None:
        if self._flushing is not None and not self._flushing.done():
            self._flushing.cancel()
        await self.flush()
