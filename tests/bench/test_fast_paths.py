"""The shortcuts behind the benchmarked list endpoints give exactly the answers of the plain
queries, and never stale ones: the SQLite listing cache (no COUNT, no OFFSET scan) follows every
change, made by this store, by another connection or by another process, and the token cache lets
a rotated or withdrawn token go at once."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import timedelta

import orjson
import pytest

from evroam.model.common import parse_datetime
from evroam.model.partners import PartnerStatus
from evroam.ocpi import server
from evroam.ocpi.credentials import handshake
from evroam.ocpi.transport.envelope import raw_list_response
from evroam.store import Store
from harness import auth, httpx

T0 = parse_datetime("2024-01-01T00:00:00Z")
OURS = [("NL", "EVR")]


def _doc(i: int, cc: str = "NL", pid: str = "EVR") -> dict:
    return {"country_code": cc, "party_id": pid, "id": f"L{i:04d}", "n": i}


@pytest.fixture
async def store(tmp_path):
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await s.migrate()
    async with s.begin() as conn:
        for i in range(40):  # ours and another party's, interleaved
            await s.locations.put(conn, "NL", "EVR", f"L{i:04d}", _doc(i), T0 + timedelta(minutes=i))
            if i % 3 == 0:
                await s.locations.put(conn, "BE", "OTH", f"L{i:04d}", _doc(i, "BE", "OTH"), T0)
    yield s
    await s.close()


async def plain_page(store: Store, **kw) -> tuple[list[str], int]:
    """The same page without the listing cache (what every other database does)."""
    async with store.begin() as conn:  # inside a transaction: the cache is never used
        await conn.exec_driver_sql("UPDATE locations SET pk = pk WHERE 0")  # opens the SQLite transaction
        return await store.locations.page(conn, **kw)


async def cached_page(store: Store, **kw) -> tuple[list[str], int]:
    async with store.connect() as conn:
        return await store.locations.page(conn, **kw)


def ids(rows) -> list[str]:
    return [orjson.loads(r)["id"] for r in rows]


@pytest.mark.parametrize("kw", [
    {"owners": OURS}, {"owners": OURS, "offset": 7, "limit": 5}, {"owners": OURS, "offset": 38, "limit": 5},
    {"owners": OURS, "offset": 40}, {"owners": OURS, "offset": 500}, {"owners": [("nl", "evr"), ("BE", "OTH")]},
    {}, {"owners": []}, {"owners": OURS, "date_from": T0 + timedelta(minutes=10)},
    {"owners": OURS, "date_from": T0 + timedelta(minutes=10), "date_to": T0 + timedelta(minutes=20), "limit": 3},
    {"owners": OURS, "date_to": T0 + timedelta(minutes=5), "offset": 2},
])
async def test_same_pages_as_limit_offset_and_count(store, kw):
    expected = await plain_page(store, **kw)
    assert await cached_page(store, **kw) == expected
    assert await cached_page(store, **kw) == expected  # from the cache this time
    rows, total = await cached_page(store, raw=True, **kw)
    assert (rows, total) == ([r.encode() for r in expected[0]], expected[1])


async def test_changes_of_this_store_are_seen(store):
    await cached_page(store, owners=OURS)
    async with store.begin() as conn:
        await store.locations.put(conn, "NL", "EVR", "NEW", {"id": "NEW"}, T0)
        assert await store.locations.delete(conn, "NL", "EVR", "L0000")
    rows, total = await cached_page(store, owners=OURS, offset=38)
    assert total == 40 and ids(rows) == ["L0039", "NEW"]
    # an update moves the object in and out of date-filtered listings
    window = {"owners": OURS, "date_from": T0 + timedelta(minutes=30)}
    assert (await cached_page(store, **window))[1] == 10
    async with store.begin() as conn:
        await store.locations.put(conn, "NL", "EVR", "L0035", _doc(35), T0)
    assert (await cached_page(store, **window))[1] == 9


async def test_uncommitted_changes_never_reach_the_cache(store):
    await cached_page(store, owners=OURS)
    with pytest.raises(RuntimeError):
        async with store.begin() as conn:
            await store.locations.put(conn, "NL", "EVR", "GHOST", {"id": "GHOST"}, T0)
            rows, total = await store.locations.page(conn, owners=OURS, offset=39)
            assert total == 41 and ids(rows) == ["L0039", "GHOST"]  # its own write, in its transaction
            raise RuntimeError("rolled back")
    for _ in range(3):  # whichever pooled connection serves the page
        rows, total = await cached_page(store, owners=OURS, offset=39)
        assert total == 40 and ids(rows) == ["L0039"]


async def test_changes_of_another_connection_are_seen(store):
    other = Store(store.url)
    try:
        await cached_page(store, owners=OURS)
        async with other.begin() as conn:
            await other.locations.put(conn, "NL", "EVR", "OTHER", {"id": "OTHER"}, T0)
        rows, total = await cached_page(store, owners=OURS, offset=40)
        assert total == 41 and ids(rows) == ["OTHER"]
    finally:
        await other.close()


async def test_changes_of_another_process_are_seen(store):
    path = store.engine.url.database
    assert (await cached_page(store, owners=OURS))[1] == 40
    script = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.execute(\"DELETE FROM locations WHERE country_code = 'NL' AND id IN ('L0000', 'L0001')\"); c.commit()")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, path)
    assert await process.wait() == 0
    rows, total = await cached_page(store, owners=OURS, limit=2)
    assert total == 38 and ids(rows) == ["L0002", "L0003"]
    # and a second change after the cache was rebuilt
    c = sqlite3.connect(path)
    c.execute("DELETE FROM locations WHERE id = 'L0002'")
    c.commit()
    c.close()
    rows, total = await cached_page(store, owners=OURS, limit=2)
    assert total == 37 and ids(rows) == ["L0003", "L0004"]


def test_raw_list_response_is_the_same_for_str_and_bytes():
    items = ['{"id":"A","name":"Café"}', '{"id":"B"}']
    for chosen in ([], items[:1], items):
        by_str = orjson.loads(raw_list_response(chosen).body)
        by_bytes = orjson.loads(raw_list_response([i.encode() for i in chosen]).body)
        assert by_str["data"] == by_bytes["data"] == [orjson.loads(i) for i in chosen]
        assert by_bytes["status_code"] == 1000 and by_bytes["status_message"] == "Success"


# ------------------------------------------------------------------ token cache

TOKEN = "emsp-token-c"
URL = "/ocpi/2.2.1/cpo/locations"


async def test_rotated_token_stops_working_at_once(instance):
    pk = await instance.add_partner("emsp", TOKEN, [("EMSP", "DE", "MSP")])
    store = instance.platform.store
    async with httpx.AsyncClient(base_url=instance.url) as http:
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200  # from the cache
        async with store.begin() as conn:
            await store.partners.update(conn, pk, token="emsp-token-c2")
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 401
        assert (await http.get(URL, headers=auth("emsp-token-c2"))).status_code == 200


async def test_unregistered_partner_is_refused_at_once(instance):
    await instance.add_partner("emsp", TOKEN, [("EMSP", "DE", "MSP")])
    async with httpx.AsyncClient(base_url=instance.url) as http:
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200
        async with instance.platform.store.connect() as conn:
            partner = await instance.platform.store.partners.by_name(conn, "emsp")
        await handshake.unregister(instance.platform, partner)
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 401


async def test_a_change_that_is_rolled_back_keeps_the_token(instance):
    pk = await instance.add_partner("emsp", TOKEN, [("EMSP", "DE", "MSP")])
    store = instance.platform.store
    async with httpx.AsyncClient(base_url=instance.url) as http:
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200
        with pytest.raises(RuntimeError):
            async with store.begin() as conn:
                await store.partners.update(conn, pk, status=PartnerStatus.UNREGISTERED, token=None)
                raise RuntimeError("rolled back")
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200


async def test_change_by_another_process_is_seen_within_the_ttl(instance, monkeypatch):
    monkeypatch.setattr(server.TokenCache, "TTL", 0.05)
    await instance.add_partner("emsp", TOKEN, [("EMSP", "DE", "MSP")])
    async with httpx.AsyncClient(base_url=instance.url) as http:
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 200
        other = Store(instance.platform.store.url)  # another engine: what a CLI command beside the server is
        try:
            async with other.begin() as conn:
                partner = await other.partners.by_name(conn, "emsp")
                await other.partners.update(conn, partner.pk, status=PartnerStatus.UNREGISTERED, token=None)
        finally:
            await other.close()
        await asyncio.sleep(0.1)
        assert (await http.get(URL, headers=auth(TOKEN))).status_code == 401


def test_a_lookup_that_overlapped_a_write_is_not_kept():
    cache = server.TokenCache()
    generation = cache.generation
    cache.invalidate()  # a write happened while the lookup was running
    cache.put("digest", (object(), "C"), generation)
    assert cache.get("digest") is None
    cache.put("digest", ("partner", "C"), cache.generation)
    assert cache.get("digest") == ("partner", "C")
