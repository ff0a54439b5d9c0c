"""Several nodes through Redis: presence of chargers, calls between nodes, leases and the
run-time events that cross nodes. All state stays in the database; what is kept in Redis is
either refreshed by its owner (a node's heartbeat, its chargers) or short-lived (calls,
answers, leases), so a restarted Redis is filled again within seconds.

Keys (all under `prefix`, default "evroam"):

- `node:<id>`: a live node (its description), expiring `NODE_TTL` seconds after its last beat;
  `nodes`: the set of node ids seen (dead ones are removed by whoever notices).
- `chargers`: hash charger id -> "node|OCPP version" of the node holding its connection. An
  entry of a dead node means nothing (every reader checks the node is alive).
- `rpc:<node>`: the calls waiting for a node; `reply:<node>`: the answers waiting for it.
- `lease:<name>`: the node holding a lease, expiring unless renewed.
- channel `events`: run-time events and presence changes, for every node.

When Redis cannot be reached, a node keeps serving its own chargers and partners: calls to
other nodes fail at once with a clear error, leases it held are kept (no other node can take
them meanwhile) and those it did not hold are not taken, and when Redis is back the node
announces its chargers again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from evroam.cluster.base import Cluster, Held, NodeUnreachable, RemoteError

log = logging.getLogger(__name__)

NODE_TTL = 10.0  # a node that has not beaten for this long is dead
BEAT_SECONDS = 2.0
REFRESH_SECONDS = 5.0  # full re-read of presence (repairs a lost presence message)
BLOCK_SECONDS = 1  # how long a blocking read waits before looking at the stop flag
QUEUE_TTL_SECONDS = 60  # calls and answers nobody picks up vanish

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_LET_GO = """
local v = redis.call('hget', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then
  redis.call('hdel', KEYS[1], ARGV[1])
  return 1
end
if v then return 0 end
return 1
"""


class RedisCluster(Cluster):
    multi = True

    def __init__(self, node: str, url: str, *, prefix: str = "evroam",
                 on_event: Callable[[str, dict[str, Any], str], None] | None = None) -> None:
        super().__init__(node)
        self.url = url
        self.prefix = prefix
        self.redis = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=BLOCK_SECONDS + 4,
                                             socket_connect_timeout=3, health_check_interval=15)
        self.on_event = on_event
        self.up = False
        self.last_error: str | None = None
        self._mine: dict[str, str] = {}  # charger id -> OCPP version, held here
        self._where: dict[str, Held] = {}  # chargers held by other live nodes
        self._live: dict[str, dict[str, Any]] = {}  # other live nodes -> their description
        self._leases: set[str] = set()
        self._replies: dict[str, asyncio.Future] = {}
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue(maxsize=100_000)
        self._tasks: list[asyncio.Task] = []
        self._handling: set[asyncio.Task] = set()
        self._stopping = False

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        self._stopping = False
        await self._beat_once()
        if self.up:
            await self._refresh_once()
        loop = asyncio.get_running_loop()
        for name, work in (("beat", self._beat), ("listen", self._listen), ("refresh", self._refresh),
                           ("calls", self._serve_calls), ("answers", self._read_answers),
                           ("publish", self._publish_events)):
            self._tasks.append(loop.create_task(work(), name=f"cluster-{name}"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._handling, return_exceptions=True)
        self._tasks.clear()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._key("node", self.node))
                pipe.srem(self._key("nodes"), self.node)
                for name in self._leases:
                    pipe.eval(_RELEASE, 1, self._key("lease", name), self.node)
                for charger_id in self._mine:
                    pipe.eval(_LET_GO, 1, self._key("chargers"), charger_id, self.node)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("leaving the platform: Redis did not answer (%s); other nodes notice within %.0fs",
                        exc, NODE_TTL)
        self._leases.clear()
        for future in self._replies.values():
            if not future.done():
                future.set_exception(NodeUnreachable("this node is stopping"))
        await self.redis.aclose()

    def _went_down(self, exc: BaseException) -> None:
        if self.up or self.last_error is None:
            log.warning("Redis at %s cannot be reached (%s): serving this node's own chargers only until it is back",
                        _safe_url(self.url), exc)
        self.up = False
        self.last_error = str(exc) or type(exc).__name__

    async def _beat_once(self) -> None:
        description = orjson.dumps(self.describe()).decode()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self._key("node", self.node), description, px=int(NODE_TTL * 1000))
                pipe.sadd(self._key("nodes"), self.node)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return
        if not self.up:
            if self.last_error is not None:
                log.info("Redis is back: announcing this node's %d chargers again", len(self._mine))
            self.up = True
            self.last_error = None
            await self._announce_all()

    async def _beat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(BEAT_SECONDS)
            await self._beat_once()

    async def _announce_all(self) -> None:
        if not self._mine:
            return
        try:
            await self.redis.hset(self._key("chargers"),
                                  mapping={cid: f"{self.node}|{v}" for cid, v in self._mine.items()})
        except (RedisError, OSError) as exc:
            self._went_down(exc)

    async def _refresh(self) -> None:
        while not self._stopping:
            await asyncio.sleep(REFRESH_SECONDS)
            if self.up:
                await self._refresh_once()

    async def _refresh_once(self) -> None:
        """Read who is alive and where every charger is (repairs any lost presence message)."""
        try:
            ids = [n for n in await self.redis.smembers(self._key("nodes")) if n != self.node]
            described = await self.redis.mget([self._key("node", n) for n in ids]) if ids else []
            entries = await self.redis.hgetall(self._key("chargers"))
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return
        live: dict[str, dict[str, Any]] = {}
        dead = []
        for node, raw in zip(ids, described, strict=True):
            if raw is None:
                dead.append(node)
            else:
                live[node] = _loads(raw)
        self._live = live
        if dead:
            try:
                await self.redis.srem(self._key("nodes"), *dead)
            except (RedisError, OSError):
                pass
        where: dict[str, Held] = {}
        for charger_id, value in entries.items():
            node, _, version = value.partition("|")
            if node in live:
                where[charger_id] = Held(node, version)
        self._where = where
        for charger_id in [c for c in self._mine if c in where]:
            await self._taken_by(charger_id, where[charger_id].node)

    # ------------------------------------------------------------------ presence

    def holder(self, charger_id: str) -> Held | None:
        held = self._where.get(charger_id)
        if held is not None and held.node in self._live:
            return held
        return None

    def held_elsewhere(self) -> dict[str, Held]:
        return {c: h for c, h in self._where.items() if h.node in self._live}

    async def hold(self, charger_id: str, version: str) -> None:
        self._mine[charger_id] = version
        self._where.pop(charger_id, None)
        try:
            await self.redis.hset(self._key("chargers"), charger_id, f"{self.node}|{version}")
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return
        self._send({"kind": "presence", "charger_id": charger_id, "node": self.node, "version": version})

    async def let_go(self, charger_id: str) -> bool:
        self._mine.pop(charger_id, None)
        try:
            ours = await self.redis.eval(_LET_GO, 1, self._key("chargers"), charger_id, self.node)
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return self.holder(charger_id) is None
        if ours:
            self._send({"kind": "presence", "charger_id": charger_id, "node": None, "version": None})
        return bool(ours)

    async def _taken_by(self, charger_id: str, node: str) -> None:
        if charger_id not in self._mine:
            return
        log.info("charger %s connected to node %s: closing its connection here", charger_id, node)
        for callback in self._taken:
            try:
                result = callback(charger_id, node)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("closing charger %s after it moved failed", charger_id)

    # ------------------------------------------------------------------ events

    def publish_event(self, topic: str, data: dict[str, Any]) -> None:
        """Send a run-time event to the other nodes (fire and forget)."""
        self._send({"kind": "event", "topic": topic, "data": data})

    def _send(self, message: dict[str, Any]) -> None:
        message["origin"] = self.node
        try:
            self._outgoing.put_nowait(orjson.dumps(message, default=str))
        except asyncio.QueueFull:
            log.warning("events for other nodes are piling up (Redis slow or down): dropping one")

    async def _publish_events(self) -> None:
        channel = self._key("events")
        while not self._stopping:
            first = await self._outgoing.get()
            batch = [first]
            while not self._outgoing.empty() and len(batch) < 500:
                batch.append(self._outgoing.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for message in batch:
                        pipe.publish(channel, message)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self._went_down(exc)
                await asyncio.sleep(0.5)

    async def _listen(self) -> None:
        delay = 0.2
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._key("events"))
                delay = 0.2
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._went_down(exc)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 - a broken connection may fail to close
                    pass
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)

    async def _on_message(self, raw: str) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        origin = message.get("origin")
        if origin == self.node:
            return
        if message.get("kind") == "presence":
            charger_id, node = message.get("charger_id"), message.get("node")
            if not isinstance(charger_id, str):
                return
            if node is None:
                held = self._where.get(charger_id)
                if held is not None and held.node == origin:
                    del self._where[charger_id]
                return
            self._where[charger_id] = Held(node, message.get("version") or "")
            self._live.setdefault(node, {"node": node})
            await self._taken_by(charger_id, node)
        elif message.get("kind") == "event" and self.on_event is not None:
            topic, data = message.get("topic"), message.get("data")
            if isinstance(topic, str) and isinstance(data, dict):
                self.on_event(topic, data, origin or "")

    # ------------------------------------------------------------------ calls between nodes

    async def call(self, node: str, method: str, args: dict[str, Any], *, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        if not self.up:
            raise NodeUnreachable(f"node {node} cannot be reached: Redis is unreachable ({self.last_error})")
        call_id = secrets.token_hex(8)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._replies[call_id] = future
        request = orjson.dumps({"id": call_id, "from": self.node, "method": method, "args": args,
                                "deadline": time.time() + timeout}, default=str)
        try:
            try:
                queue = self._key("rpc", node)
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.rpush(queue, request)
                    pipe.expire(queue, QUEUE_TTL_SECONDS)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self._went_down(exc)
                raise NodeUnreachable(f"node {node} cannot be reached: Redis is unreachable ({exc})") from None
            async with asyncio.timeout(timeout):  # TimeoutError (no answer in time) is the caller's
                reply = await future
        finally:
            self._replies.pop(call_id, None)
        if reply.get("ok"):
            return reply.get("result") or {}
        raise RemoteError(reply.get("kind") or "error", reply.get("message") or "the other node failed",
                          reply.get("data"))

    async def _read_answers(self) -> None:
        await self._drain(self._key("reply", self.node), self._take_answer)

    def _take_answer(self, reply: dict[str, Any]) -> None:
        future = self._replies.get(reply.get("id"))
        if future is not None and not future.done():
            future.set_result(reply)

    async def _serve_calls(self) -> None:
        await self._drain(self._key("rpc", self.node), self._take_call)

    def _take_call(self, request: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(request))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _drain(self, queue: str, take: Callable[[dict[str, Any]], None]) -> None:
        """Hand each message pushed to the list `queue` (JSON objects) to `take`, until stopped."""
        while not self._stopping:
            try:
                item = await self.redis.blpop([queue], timeout=BLOCK_SECONDS)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._went_down(exc)
                await asyncio.sleep(0.5)
                continue
            if item is None:
                continue
            try:
                message = orjson.loads(item[1])
            except orjson.JSONDecodeError:
                continue
            if isinstance(message, dict):
                take(message)

    async def _answer(self, request: dict[str, Any]) -> None:
        left = float(request.get("deadline") or 0) - time.time()
        if left <= 0:
            return  # the caller has given up already
        handler = self._served.get(request.get("method") or "")
        if handler is None:
            reply: dict[str, Any] = {"ok": False, "kind": "unknown", "message": f"node {self.node} does not serve "
                                                                                  f"{request.get('method')!r}"}
        else:
            try:
                async with asyncio.timeout(left):
                    reply = {"ok": True, "result": await handler(request.get("args") or {})}
            except RemoteError as exc:
                reply = {"ok": False, "kind": exc.kind, "message": exc.message, "data": exc.data}
            except TimeoutError:
                reply = {"ok": False, "kind": "timeout", "message": "no answer in time"}
            except Exception as exc:
                log.exception("serving %s for node %s failed", request.get("method"), request.get("from"))
                reply = {"ok": False, "kind": "error", "message": f"node {self.node} failed: {exc}"}
        reply["id"] = request.get("id")
        queue = self._key("reply", str(request.get("from")))
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(queue, orjson.dumps(reply, default=str))
                pipe.expire(queue, QUEUE_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._went_down(exc)

    # ------------------------------------------------------------------ leases

    async def lease(self, name: str, ttl: float) -> bool:
        key, px = self._key("lease", name), int(ttl * 1000)
        try:
            held = False
            if name in self._leases:
                held = bool(await self.redis.eval(_RENEW, 1, key, self.node, px))
            if not held:
                held = bool(await self.redis.set(key, self.node, nx=True, px=px))
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return name in self._leases  # nobody can take it while Redis is away
        if held:
            self._leases.add(name)
        else:
            self._leases.discard(name)
        return held

    async def release(self, name: str) -> None:
        if name not in self._leases:
            return
        self._leases.discard(name)
        try:
            await self.redis.eval(_RELEASE, 1, self._key("lease", name), self.node)
        except (RedisError, OSError) as exc:
            self._went_down(exc)

    async def lease_holders(self, names: list[str]) -> dict[str, str | None]:
        try:
            values = await self.redis.mget([self._key("lease", n) for n in names]) if names else []
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return {}
        return dict(zip(names, values, strict=True))

    # ------------------------------------------------------------------ what the node sees

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "chargers": len(self._mine)}

    async def nodes(self) -> list[dict[str, Any]]:
        if self.up:
            await self._refresh_once()
        return [self.describe(), *sorted(self._live.values(), key=lambda d: str(d.get("node")))]

    def health(self) -> dict[str, Any]:
        return {"mode": "several nodes", "redis": "ok" if self.up else f"unreachable: {self.last_error}",
                "leases": sorted(self._leases)}


def _loads(raw: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _safe_url(url: str) -> str:
    """A Redis URL without its password, for the log."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
