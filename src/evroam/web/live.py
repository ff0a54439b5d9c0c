"""Live updates for the browsers connected to this node: server-sent events (`GET /live`) fed by
the platform's bus.

The hub hears the events of every node (`everywhere=True`): EVSE statuses (`evse.status`),
chargers connecting and disconnecting, sessions starting and ending and their meter values,
load-management limits and site changes. With several nodes these reach this node over Redis
(run-time events) or the change feed (configuration), so a browser sees what happens on a
charger connected to any node.

A browser says what it follows: `kinds` (evse, charger, session, meter, load, site), and, for the
frequent meter values, the `session` or the `chargers` it shows. Each browser has a bounded
queue: one that does not read keeps only the newest events (it is told `overflow` and reloads
what it shows)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from evroam.events import Bus, Event
from evroam.web.render import status_class

#: bus topic -> the kind of live event it is
TOPICS = {"evse.status": "evse", "charger.connected": "charger", "charger.disconnected": "charger",
          "session.started": "session", "session.completed": "session", "session.meter": "meter",
          "load.limit": "load", "site.changed": "site"}
KINDS = frozenset(TOPICS.values())
QUEUE = 500
HEARTBEAT_SECONDS = 15.0


@dataclass(eq=False)
class Listener:
    kinds: frozenset[str]
    session: str | None = None
    chargers: frozenset[str] = frozenset()
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE))
    overflowed: bool = False

    def wants(self, kind: str, data: dict[str, Any]) -> bool:
        if kind not in self.kinds:
            return False
        if kind in ("meter", "load"):
            return (self.session is not None and data.get("session_id") == self.session) or \
                data.get("charger_id") in self.chargers
        return True


def payload(kind: str, topic: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind == "evse":
        return {"location_id": data.get("location_id"), "evse_uid": data.get("evse_uid"),
                "status": data.get("status"), "class": status_class(data.get("status")),
                "charger_id": data.get("charger_id"), "at": data.get("at")}
    if kind == "charger":
        return {"charger_id": data.get("charger_id"), "online": topic == "charger.connected"}
    if kind == "session":
        return {"session_id": data.get("session_id"), "charger_id": data.get("charger_id"),
                "evse_number": data.get("evse_number"), "state": topic.split(".")[1]}
    return {k: v for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None}


class LiveHub:
    def __init__(self, bus: Bus) -> None:
        self.listeners: set[Listener] = set()
        self.sent = 0
        for topic in TOPICS:
            bus.subscribe(topic, self._on_event, everywhere=True)

    def _on_event(self, event: Event) -> None:
        kind = TOPICS[event.topic]
        if not self.listeners:
            return
        message = None
        for listener in self.listeners:
            if not listener.wants(kind, event.data):
                continue
            if message is None:
                message = f"event: {kind}\ndata: {orjson.dumps(payload(kind, event.topic, event.data)).decode()}\n\n"
            try:
                listener.queue.put_nowait(message)
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    listener.queue.get_nowait()
                listener.queue.put_nowait(message)
                listener.overflowed = True
            self.sent += 1

    async def stream(self, listener: Listener, stopping: Callable[[], bool] = lambda: False) -> AsyncIterator[str]:
        """The event stream of one browser: ends when the browser goes, or within a second of
        `stopping()` turning true (the server shutting down: the browser reconnects elsewhere)."""
        self.listeners.add(listener)
        try:
            yield "retry: 1000\n\n: connected\n\n"
            idle = 0.0
            while not stopping():
                try:
                    message = await asyncio.wait_for(listener.queue.get(), 1.0)
                except TimeoutError:
                    idle += 1.0
                    if idle >= HEARTBEAT_SECONDS:
                        idle = 0.0
                        yield ": heartbeat\n\n"
                    continue
                idle = 0.0
                if listener.overflowed:
                    listener.overflowed = False
                    yield "event: overflow\ndata: {}\n\n"
                yield message
        finally:
            self.listeners.discard(listener)
