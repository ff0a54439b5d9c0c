"""The change feed: changes of configuration and registry reach every process of the platform.

A change published in one process (a site set by `evroam sites set`, a tariff imported through
the admin API, a charger added on another node) is written as a row of the `changes` table;
every server reads the rows of the other processes every `change_poll_seconds` and delivers
them to its bus, where caches and planners hear them (`subscribe(..., everywhere=True)`).

The rows are written right after the change commits, in their own short transaction (the
events are published after the commit). Row ids of concurrent writers can become visible out
of order on PostgreSQL; a reader keeps the ids it skipped as gaps for a few seconds and reads
them when they appear. Rows older than an hour are removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from evroam.cluster.topics import CHANGE_TOPICS
from evroam.events import Bus, Event
from evroam.model.common import utcnow
from evroam.store import Store

log = logging.getLogger(__name__)

GAP_SECONDS = 10.0  # a missing id not seen by then was rolled back
MAX_GAPS = 10_000
KEEP = timedelta(hours=1)
PURGE_SECONDS = 600.0


class ChangeFeed:
    def __init__(self, store: Store, bus: Bus, origin: str, *, poll_seconds: float = 0.25) -> None:
        self.store = store
        self.bus = bus
        self.origin = origin
        self.poll_seconds = poll_seconds
        self._queue: list[tuple[str, dict[str, Any]]] = []
        self._wrote = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._stopping = False
        self._high = 0  # highest id read
        self._gaps: dict[int, float] = {}  # ids below _high not read yet -> when first missed
        self._next_purge = 0.0
        self.delivered = 0
        bus.forward(self._on_local)

    def _on_local(self, event: Event) -> None:
        if event.topic in CHANGE_TOPICS:
            self._queue.append((event.topic, dict(event.data)))
            self._wrote.set()

    # ------------------------------------------------------------------ running

    async def start(self, *, read: bool = True) -> None:
        """Write this process's changes as they happen; with `read`, also deliver the other
        processes' changes from now on."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        if self._writer is None:
            self._writer = loop.create_task(self._write_loop(), name="change-feed-writer")
        if read and self._reader is None:
            async with self.store.connect() as conn:
                self._high = await self.store.changes.newest(conn)
            self._next_purge = time.monotonic() + 5.0
            self._reader = loop.create_task(self._read_loop(), name="change-feed-reader")

    async def stop(self) -> None:
        """Stop reading; write what is still queued."""
        self._stopping = True
        self._wrote.set()
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._reader = self._writer = None
        await self.flush()

    async def flush(self) -> None:
        """Write every change queued so far (a command-line process does so before it ends)."""
        while self._queue:
            batch, self._queue = self._queue[:500], self._queue[500:]
            try:
                async with self.store.begin() as conn:
                    await self.store.changes.record(conn, batch, self.origin)
            except Exception:
                self._queue[:0] = batch
                raise

    async def _write_loop(self) -> None:
        while not self._stopping:
            await self._wrote.wait()
            self._wrote.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording changes for the other processes failed; retrying")
                await asyncio.sleep(1.0)
                self._wrote.set()

    async def _read_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.read_once()
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + PURGE_SECONDS
                    async with self.store.begin() as conn:
                        await self.store.changes.purge(conn, utcnow() - KEEP)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the change feed failed; retrying")
                await asyncio.sleep(1.0)

    async def read_once(self) -> int:
        """Deliver the other processes' changes written since the last read; how many."""
        now = time.monotonic()
        for pk in [pk for pk, since in self._gaps.items() if now - since > GAP_SECONDS]:
            del self._gaps[pk]
        floor = min(self._gaps) - 1 if self._gaps else self._high
        async with self.store.connect() as conn:
            rows = await self.store.changes.after(conn, floor)
        delivered = 0
        for change in rows:
            if change.pk in self._gaps:
                del self._gaps[change.pk]
            elif change.pk <= self._high:
                continue  # read already
            else:
                if change.pk - self._high - 1 <= MAX_GAPS - len(self._gaps):
                    for missing in range(self._high + 1, change.pk):
                        self._gaps[missing] = now
                self._high = change.pk
            if change.origin != self.origin:
                self.bus.deliver(Event(change.topic, change.data, change.origin))
                delivered += 1
        self.delivered += delivered
        return delivered
