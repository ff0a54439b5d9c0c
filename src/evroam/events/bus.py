"""A small in-process event bus. Handlers run as tasks so a slow subscriber never blocks the
publisher; failures are logged, never raised into the service that published."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None] | None]


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "location.changed", "outbox.enqueued"
    data: dict[str, Any] = field(default_factory=dict)


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._tasks: set[asyncio.Task] = set()

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Subscribe to one topic, or to every topic with "*"."""
        self._handlers[topic].append(handler)

    def publish(self, topic: str, **data: Any) -> None:
        event = Event(topic, data)
        for handler in (*self._handlers.get(topic, ()), *self._handlers.get("*", ())):
            try:
                result = handler(event)
            except Exception:
                log.exception("event handler for %s failed", topic)
                continue
            if asyncio.iscoroutine(result):
                task = asyncio.get_running_loop().create_task(result)
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event handler failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for running handlers (used at shutdown and in tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
