"""The change feed: a change published in one process reaches the others' buses (and only the
subscribers that asked for every process's events), in order, even when ids become visible
out of order."""

from __future__ import annotations

import asyncio

from evroam.cluster.change_feed import ChangeFeed
from evroam.events import Bus
from evroam.store import Store
from harness import wait_for


async def _feed(tmp_path, origin: str, *, read: bool = True, poll: float = 0.05):
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}")
    await store.migrate()
    bus = Bus()
    feed = ChangeFeed(store, bus, origin, poll_seconds=poll)
    await feed.start(read=read)
    return store, bus, feed


async def test_a_change_in_one_process_reaches_the_other(tmp_path):
    server_store, server_bus, server_feed = await _feed(tmp_path, "server")
    cli_store, cli_bus, cli_feed = await _feed(tmp_path, "cli", read=False)
    heard, local_only = [], []
    server_bus.subscribe("site.changed", lambda e: heard.append((e.data, e.origin)), everywhere=True)
    server_bus.subscribe("site.changed", lambda e: local_only.append(e))
    try:
        cli_bus.publish("site.changed", site_id="LOC1")
        cli_bus.publish("session.meter", charger_id="CP1")  # not a change: stays in its process
        await cli_feed.flush()
        await wait_for(lambda: heard, timeout=2)
        assert heard == [({"site_id": "LOC1"}, "cli")]
        assert local_only == []  # work done on an event stays with the process it happened in
        # the server's own changes are heard once, as its own (not delivered back by the feed)
        server_bus.publish("site.changed", site_id="LOC2")
        await server_feed.flush()
        await asyncio.sleep(0.2)
        assert heard == [({"site_id": "LOC1"}, "cli"), ({"site_id": "LOC2"}, None)]
        assert len(local_only) == 1
    finally:
        await cli_feed.stop()
        await server_feed.stop()
        await cli_store.close()
        await server_store.close()


async def test_changes_written_before_the_reader_started_are_not_replayed(tmp_path):
    store, bus, feed = await _feed(tmp_path, "old", read=False)
    bus.publish("tariff.changed", tariff_id="T1")
    await feed.flush()
    reader_store, reader_bus, reader = await _feed(tmp_path, "new")
    heard = []
    reader_bus.subscribe("tariff.changed", heard.append, everywhere=True)
    try:
        assert await reader.read_once() == 0
        bus.publish("tariff.changed", tariff_id="T2")
        await feed.flush()
        await wait_for(lambda: heard, timeout=2)
        assert [e.data["tariff_id"] for e in heard] == ["T2"]
    finally:
        for f, s in ((feed, store), (reader, reader_store)):
            await f.stop()
            await s.close()


async def test_an_id_that_becomes_visible_late_is_still_read(tmp_path):
    """On PostgreSQL a row with a lower id can commit after a higher one: the reader keeps the
    ids it skipped and reads them when they appear."""
    store, bus, feed = await _feed(tmp_path, "reader", poll=10)  # read by hand
    heard = []
    bus.subscribe("*", heard.append, everywhere=True)
    try:
        async with store.begin() as conn:
            await store.changes.record(conn, [("site.changed", {"n": 1})], "a")
            await store.changes.record(conn, [("site.changed", {"n": 2})], "a")
            await store.changes.record(conn, [("site.changed", {"n": 3})], "a")
        async with store.begin() as conn:  # id 2 not visible yet at the first read
            from sqlalchemy import text

            await conn.execute(text("DELETE FROM changes WHERE pk = 2"))
        assert await feed.read_once() == 2
        assert [e.data["n"] for e in heard] == [1, 3]
        async with store.begin() as conn:  # ... and committed later
            await conn.execute(text("INSERT INTO changes (pk, topic, data, origin, created_at) "
                                    "VALUES (2, 'site.changed', '{\"n\": 2}', 'a', '2026-01-01 00:00:00')"))
        assert await feed.read_once() == 1
        assert [e.data["n"] for e in heard] == [1, 3, 2]
        assert await feed.read_once() == 0
    finally:
        await feed.stop()
        await store.close()
