"""Work that runs once per platform (load management, periodic pulls, overdue command results):
on the node holding its lease, and on another node within a few seconds when that one dies."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from evroam.cluster.base import Cluster

log = logging.getLogger(__name__)

LEASE_SECONDS = 5.0  # a dead holder's work moves after this (at most + RENEW_SECONDS)
RENEW_SECONDS = 1.5

Step = Callable[[], Awaitable[None] | None]


class Singleton:
    """Runs `start()` while this node holds the lease `name`, and `stop()` when it loses it
    (or at shutdown, then giving the lease up so another node takes over at once)."""

    def __init__(self, cluster: Cluster, name: str, start: Step, stop: Step, *,
                 lease_seconds: float = LEASE_SECONDS, renew_seconds: float = RENEW_SECONDS) -> None:
        self.cluster = cluster
        self.name = name
        self._start = start
        self._stop = stop
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.running = False
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    async def launch(self) -> None:
        """Try the lease once now (a node alone, or the first of several, starts the work before
        it serves), then keep trying and renewing in the background."""
        if self._task is not None:
            return
        self._stopping.clear()
        await self._step()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"singleton-{self.name}")

    async def shutdown(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task])
            self._task = None
        if self.running:
            await self._call(self._stop)
            self.running = False
        await self.cluster.release(self.name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.renew_seconds)
            except TimeoutError:
                pass
            if not self._stopping.is_set():
                await self._step()

    async def _step(self) -> None:
        try:
            held = await self.cluster.lease(self.name, self.lease_seconds)
        except Exception:
            log.exception("lease %s: checking it failed", self.name)
            held = self.running
        if held and not self.running:
            log.info("this node now runs %s", self.name)
            self.running = True
            await self._call(self._start)
        elif not held and self.running:
            log.warning("lease %s lost: %s stops here (another node runs it)", self.name, self.name)
            self.running = False
            await self._call(self._stop)

    async def _call(self, step: Step) -> None:
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: starting or stopping failed", self.name)


class Periodic:
    """`work()` every `seconds` (from `start()` to `stop()`): a Singleton's body for work that is
    a periodic check, such as giving overdue commands their result."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], seconds: float) -> None:
        self.name = name
        self.work = work
        self.seconds = seconds
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Do the work once now, then every `seconds`."""
        if self._task is None:
            try:
                await self.work()
            except Exception:
                log.exception("%s failed; trying again in %.0fs", self.name, self.seconds)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                await self.work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %.0fs", self.name, self.seconds)
