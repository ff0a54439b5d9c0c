"""A small event bus. Handlers run as tasks so a slow subscriber never blocks the publisher;
failures are logged, never raised into the service that published.

Events published in this process reach every subscriber here, and are handed to the bus's
forwarders (the cluster bridge sends some of them to the other nodes; the change feed records
configuration changes for every process of the platform). Events that come from another node
or process are `deliver`ed: they reach only the subscribers that asked for events from
everywhere (`subscribe(..., everywhere=True)`), so that work done on an event (a push, a pull)
is done once, by the process where the event happened, while a cache or a planner that must
know about every node's events still hears them."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None] | None]
Forwarder = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "location.changed", "outbox.enqueued"
    data: dict[str, Any] = field(default_factory=dict)
    #: the node (or command-line process) the event happened on; None: this process
    origin: str | None = None


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._everywhere: dict[str, list[Handler]] = defaultdict(list)
        self._forwarders: list[Forwarder] = []
        self._tasks: set[asyncio.Task] = set()

    def subscribe(self, topic: str, handler: Handler, *, everywhere: bool = False) -> None:
        """Subscribe to one topic, or to every topic with "*". With `everywhere`, the handler
        also hears the events of the platform's other nodes and processes."""
        self._handlers[topic].append(handler)
        if everywhere:
            self._everywhere[topic].append(handler)

    def forward(self, forwarder: Forwarder) -> None:
        """Hand every event published in this process to `forwarder` (called synchronously,
        after the local subscribers were started; it must not block)."""
        self._forwarders.append(forwarder)

    def publish(self, topic: str, **data: Any) -> None:
        event = Event(topic, data)
        self._dispatch(event, self._handlers)
        for forwarder in self._forwarders:
            try:
                forwarder(event)
            except Exception:
                log.exception("forwarding event %s failed", topic)

    def deliver(self, event: Event) -> None:
        """An event from another node or process (never forwarded again)."""
        self._dispatch(event, self._everywhere)

    def _dispatch(self, event: Event, handlers: dict[str, list[Handler]]) -> None:
        for handler in (*handlers.get(event.topic, ()), *handlers.get("*", ())):
            try:
                result = handler(event)
            except Exception:
                log.exception("event handler for %s failed", event.topic)
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
