"""The identity of one node (one `evroam serve` process) of the platform."""

from __future__ import annotations

import os
import secrets
import socket


def new_node_id(name: str | None = None) -> str:
    """A name for this process that no other node of the platform has, now or later: the
    configured node name (or the host name) with the process id and a random suffix, so that
    a node restarted with the same pid is not taken for the node that died."""
    base = (name or socket.gethostname() or "node").replace(":", "-").replace(" ", "-")[:40]
    return f"{base}-{os.getpid()}-{secrets.token_hex(2)}"
