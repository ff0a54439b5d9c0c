"""The nodes of one platform: presence of chargers, calls between nodes, leases for the work
that runs once per platform, and the events and changes that cross processes.

`make_cluster` gives the single-node `Cluster` without Redis, and a `RedisCluster` with it."""

from __future__ import annotations

from evroam.cluster.base import Cluster, Held, NodeUnreachable, RemoteError
from evroam.cluster.node import new_node_id
from evroam.cluster.topics import CHANGE_TOPICS, RUNTIME_TOPICS
from evroam.events import Bus, Event


def make_cluster(node: str, bus: Bus, redis_url: str | None, *, prefix: str = "evroam") -> Cluster:
    """The cluster of a node: alone without `redis_url`; else joined through Redis, with the
    run-time events of the bus sent to the other nodes and theirs delivered here."""
    if not redis_url:
        return Cluster(node)
    from evroam.cluster.redis import RedisCluster

    cluster = RedisCluster(node, redis_url, prefix=prefix,
                           on_event=lambda topic, data, origin: bus.deliver(Event(topic, data, origin)))

    def forward(event: Event) -> None:
        if event.topic in RUNTIME_TOPICS:
            cluster.publish_event(event.topic, event.data)

    bus.forward(forward)
    return cluster


__all__ = ["CHANGE_TOPICS", "RUNTIME_TOPICS", "Cluster", "Held", "NodeUnreachable", "RemoteError", "make_cluster",
           "new_node_id"]
