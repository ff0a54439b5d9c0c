"""Nodes through Redis: presence of chargers (a charger taken by another node is closed here),
calls between nodes with their errors, leases that move when a node leaves, events that cross."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess

import pytest

from evroam.cluster import NodeUnreachable, RemoteError, make_cluster
from evroam.cluster.singleton import Singleton
from evroam.events import Bus
from harness import free_socket, redis_url, wait_for

pytestmark = pytest.mark.skipif(not redis_url(), reason="Redis cluster tests need EVROAM_TEST_REDIS_URL "
                                "(e.g. redis://127.0.0.1:6379/0)")


@pytest.fixture
async def nodes():
    prefix = f"evroam-test-{secrets.token_hex(4)}"
    made = []

    async def make(name: str):
        bus = Bus()
        cluster = make_cluster(name, bus, redis_url(), prefix=prefix)
        await cluster.start()
        made.append(cluster)
        return cluster, bus

    yield make
    for cluster in made:
        await cluster.stop()


async def test_presence_moves_and_the_old_connection_is_told(nodes):
    a, _ = await nodes("node-a")
    b, _ = await nodes("node-b")
    taken = []
    a.on_taken(lambda charger_id, node: taken.append((charger_id, node)))
    await a.hold("CP1", "1.6")
    await wait_for(lambda: b.holder("CP1"), timeout=3)
    assert b.holder("CP1").node == "node-a" and b.holder("CP1").version == "1.6"
    assert a.holder("CP1") is None  # held here, not elsewhere
    await b.hold("CP1", "2.0.1")  # the charger reconnected to node b
    await wait_for(lambda: taken, timeout=3)
    assert taken == [("CP1", "node-b")]
    assert await a.let_go("CP1") is False  # it moved: not offline
    assert a.holder("CP1").node == "node-b"
    assert await b.let_go("CP1") is True
    await wait_for(lambda: a.holder("CP1") is None, timeout=3)


async def test_calls_between_nodes_answer_or_fail_clearly(nodes):
    a, _ = await nodes("node-a")
    b, _ = await nodes("node-b")

    async def echo(args):
        if args.get("fail"):
            raise RemoteError("refused", "no thanks", {"code": "X"})
        if args.get("slow"):
            await asyncio.sleep(5)
        return {"echo": args["value"], "by": "node-b"}

    b.serve("echo", echo)
    assert await a.call("node-b", "echo", {"value": 42}, timeout=3) == {"echo": 42, "by": "node-b"}
    with pytest.raises(RemoteError) as err:
        await a.call("node-b", "echo", {"fail": True}, timeout=3)
    assert err.value.kind == "refused" and err.value.data == {"code": "X"}
    with pytest.raises(TimeoutError):
        await a.call("node-b", "echo", {"slow": True}, timeout=0.5)
    with pytest.raises(RemoteError) as err:
        await a.call("node-b", "nothing", {}, timeout=3)
    assert err.value.kind == "unknown"


async def test_a_lease_is_held_once_and_moves_when_its_node_leaves(nodes):
    a, _ = await nodes("node-a")
    b, _ = await nodes("node-b")
    running = {"node-a": 0, "node-b": 0}

    def runner(cluster, name):
        def start():
            running[name] += 1

        def stop():
            running[name] -= 1
        return Singleton(cluster, "work", start, stop, lease_seconds=1.0, renew_seconds=0.2)

    sa, sb = runner(a, "node-a"), runner(b, "node-b")
    await sa.launch()
    await wait_for(lambda: running["node-a"] == 1, timeout=3)
    await sb.launch()
    await asyncio.sleep(0.8)
    assert running == {"node-a": 1, "node-b": 0}  # once per platform
    await sa.shutdown()  # gives the lease up: the other node takes over at once
    await wait_for(lambda: running["node-b"] == 1, timeout=3)
    assert running == {"node-a": 0, "node-b": 1}
    await sb.shutdown()


async def test_run_time_events_cross_nodes_and_changes_do_not(nodes):
    a, bus_a = await nodes("node-a")
    b, bus_b = await nodes("node-b")
    heard = []
    bus_b.subscribe("session.started", lambda e: heard.append((e.topic, e.data, e.origin)), everywhere=True)
    bus_b.subscribe("site.changed", lambda e: heard.append((e.topic, e.data, e.origin)), everywhere=True)
    bus_a.publish("site.changed", site_id="S")  # the change feed carries these, not Redis
    bus_a.publish("session.started", session_id="S1", charger_id="CP1")
    await wait_for(lambda: heard, timeout=3)
    await asyncio.sleep(0.1)
    assert heard == [("session.started", {"session_id": "S1", "charger_id": "CP1"}, "node-a")]


async def test_without_redis_calls_fail_at_once_with_a_clear_error():
    cluster = make_cluster("alone", Bus(), None)
    await cluster.start()
    assert await cluster.lease("anything", 5) is True
    with pytest.raises(NodeUnreachable, match="one node"):
        await cluster.call("other", "echo", {}, timeout=1)
    await cluster.stop()


def _redis_server(port: int) -> subprocess.Popen:
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server program")
async def test_redis_down_keeps_own_work_refuses_calls_and_recovers():
    port = free_socket_port()
    server = _redis_server(port)
    url = f"redis://127.0.0.1:{port}/0"
    a = make_cluster("node-a", Bus(), url)
    b = make_cluster("node-b", Bus(), url)
    try:
        await wait_for(lambda: _pings(url), timeout=5)
        await a.start()
        await b.start()
        await a.hold("CP1", "1.6")
        assert await a.lease("work", 5) is True
        server.kill()
        server.wait()
        await a._beat_once()
        assert not a.up and "unreachable" in a.health()["redis"]
        assert await a.lease("work", 5) is True  # kept: nobody can take it meanwhile
        assert await a.lease("other", 5) is False  # not taken while Redis is away
        with pytest.raises(NodeUnreachable, match="Redis is unreachable"):
            await a.call("node-b", "echo", {}, timeout=1)
        server = _redis_server(port)  # Redis is back, empty: the nodes fill it again
        await wait_for(lambda: a.up and b.up, timeout=10)
        await wait_for(lambda: b.holder("CP1") is not None, timeout=10)
        assert b.holder("CP1").node == "node-a"
    finally:
        await a.stop()
        await b.stop()
        server.kill()
        server.wait()


async def _pings(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def free_socket_port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port
