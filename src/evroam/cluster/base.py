"""What a node needs to know of the other nodes of its platform, and the single-node case.

A platform is one or several `evroam serve` processes (nodes) sharing one database. The
`Cluster` of a node answers: which node holds a charger's connection (presence), how to ask
another node to do something (a call: e.g. send a CALL to a charger it holds), and whether
this node may run a piece of work that must run once per platform (a lease). Without Redis
there is one node: every charger is here or nowhere, every lease is ours.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

#: a call served by a node: arguments -> result (JSON values both ways)
Served = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: called when another node took a charger whose connection is here: (charger id, that node)
Taken = Callable[[str, str], Awaitable[None] | None]


class NodeUnreachable(Exception):
    """Another node cannot be reached (it is gone, or Redis is)."""


class RemoteError(Exception):
    """The other node answered a call with an error: `kind` names it (e.g. "offline",
    "timeout", "refused", "invalid"), `data` carries its details."""

    def __init__(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.data = data or {}


@dataclass(frozen=True)
class Held:
    """Where a charger's connection lives."""

    node: str
    version: str


class Cluster:
    """One node alone (no Redis): the base every cluster implementation extends."""

    multi = False

    def __init__(self, node: str) -> None:
        self.node = node
        self.started_at = time.time()
        self._served: dict[str, Served] = {}
        self._taken: list[Taken] = []
        self.info: dict[str, Any] = {}  # what this node tells about itself (pid, ports)

    async def start(self) -> None:
        """Join the platform (nothing to join alone)."""

    async def stop(self) -> None:
        """Leave the platform: other nodes stop counting on this one."""

    # ------------------------------------------------------------------ presence

    def holder(self, charger_id: str) -> Held | None:
        """The other node holding `charger_id`'s connection (None: no other live node does)."""
        return None

    def held_elsewhere(self) -> dict[str, Held]:
        """Every charger connected to another live node."""
        return {}

    async def hold(self, charger_id: str, version: str) -> None:
        """This node holds the charger's connection now (a connection elsewhere is closed)."""

    async def let_go(self, charger_id: str) -> bool:
        """The connection here is gone. False when another node holds the charger by now (its
        connection moved: it is not offline)."""
        return True

    def on_taken(self, callback: Taken) -> None:
        self._taken.append(callback)

    # ------------------------------------------------------------------ calls between nodes

    def serve(self, method: str, handler: Served) -> None:
        """Answer `method` calls from other nodes with `handler`."""
        self._served[method] = handler

    async def call(self, node: str, method: str, args: dict[str, Any], *, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """Ask `node` to run `method`; its result, or NodeUnreachable / RemoteError / TimeoutError."""
        raise NodeUnreachable(f"node {node} cannot be reached: this platform runs one node (no Redis)")

    # ------------------------------------------------------------------ leases

    async def lease(self, name: str, ttl: float) -> bool:
        """Take or keep the lease `name` for `ttl` seconds: True while this node holds it."""
        return True

    async def release(self, name: str) -> None:
        """Give the lease up (another node takes it at once)."""

    # ------------------------------------------------------------------ what the node sees

    async def nodes(self) -> list[dict[str, Any]]:
        """The live nodes of the platform (this one first)."""
        return [self.describe()]

    def describe(self) -> dict[str, Any]:
        return {"node": self.node, "started_at": self.started_at, **self.info}

    def health(self) -> dict[str, Any]:
        return {"mode": "single node", "redis": None}
