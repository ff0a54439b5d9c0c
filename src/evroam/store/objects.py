"""Client-owned OCPI objects (locations, tariffs, ...) stored per owning party as JSON."""

from __future__ import annotations

import sqlite3
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table, and_, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

Owner = tuple[str, str]

# What a SQLite connection can tell cheaply about changes: PRAGMA data_version moves when another
# connection (of this process or any other) has committed since this connection last looked, and
# total_changes() counts the rows this connection itself has written.
_SQLITE_LOOK = "SELECT data_version, total_changes() FROM pragma_data_version()"
# Parameters one statement may carry (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32, 999 before).
_SQLITE_MAX_IN = 32000 if sqlite3.sqlite_version_info >= (3, 32, 0) else 990


class _Listings:
    """The primary keys of recent listings (owners + date filters), in creation order: a page is
    then its rows by primary key, and the total is the list's length; no COUNT, no OFFSET scan.

    A listing is valid until anything in the database changes. Each SQLite connection records
    what it saw at its last look (in its pool record's `info`); a look that differs, or a
    connection's first look, invalidates every listing (new epoch). Every commit is therefore
    seen at the next look of every connection, and a listing is only ever served to a
    connection that has looked since it was built from committed data. A listing read while
    the epoch moved is not kept (it may predate the change). Building a listing reads the
    matching primary keys from the index, about what the COUNT it replaces costs; while the
    database keeps changing, pages cost about what they did with COUNT, never the OFFSET scan
    on top."""

    MAX_ENTRIES = 64
    MAX_KEYS = 2_000_000  # primary keys kept over all listings: 16 MB

    def __init__(self, name: str) -> None:
        self.key = f"evroam.listings.{name}"
        self.epoch = 0
        self.entries: OrderedDict[Any, tuple[int, array]] = OrderedDict()
        self.keys = 0

    def look(self, info: dict, seen: tuple) -> bool:
        """Record what a connection sees now; True (and every listing dropped) when it differs
        from what the same connection saw last time, or when it is the connection's first look."""
        if info.get(self.key) == seen:
            return False
        info[self.key] = seen
        self.epoch += 1
        self.entries.clear()
        self.keys = 0
        return True

    def get(self, key: Any) -> array | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] != self.epoch:
            return None
        self.entries.move_to_end(key)
        return entry[1]

    def put(self, key: Any, pks: array, epoch: int) -> None:
        if epoch != self.epoch or len(pks) > self.MAX_KEYS:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.keys -= len(old[1])
        self.entries[key] = (epoch, pks)
        self.keys += len(pks)
        while len(self.entries) > self.MAX_ENTRIES or self.keys > self.MAX_KEYS:
            self.keys -= len(self.entries.popitem(last=False)[1][1])


class ObjectRepository:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._listings = _Listings(table.name)

    def _key(self, country_code: str, party_id: str, object_id: str):
        t = self.table.c
        return and_(t.country_code == country_code.upper(), t.party_id == party_id.upper(),
                    func.lower(t.id) == object_id.lower())  # a CiString: any case finds it

    async def get(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> dict | None:
        raw = await self.get_raw(conn, country_code, party_id, object_id)
        return orjson.loads(raw) if raw is not None else None

    async def get_raw(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> str | None:
        row = (await conn.execute(select(self.table.c.data).where(self._key(country_code, party_id, object_id)))).first()
        return row[0] if row else None

    def _columns(self, data: dict[str, Any]) -> dict[str, Any]:
        """Columns kept beside the JSON, read from it (the locations' `published`)."""
        if "published" in self.table.c:
            return {"published": data.get("publish") is True}
        return {}

    async def put(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str,
                  data: dict[str, Any], last_updated: datetime) -> bool:
        """Insert or replace; True when the object is new."""
        payload = orjson.dumps(data).decode()
        result = await conn.execute(
            update(self.table)
            .where(self._key(country_code, party_id, object_id))
            .values(data=payload, last_updated=last_updated, **self._columns(data))
        )
        if result.rowcount:
            return False
        await conn.execute(
            self.table.insert().values(
                country_code=country_code.upper(), party_id=party_id.upper(), id=object_id,
                data=payload, last_updated=last_updated, **self._columns(data),
            )
        )
        return True

    async def insert_many(self, conn: AsyncConnection, country_code: str, party_id: str,
                          items: Sequence[tuple[dict[str, Any], datetime]]) -> int:
        """Bulk insert of new objects of one party, in the given (creation) order: [(data,
        last_updated)]. An id that exists already fails the whole batch (unique constraint)."""
        cc, pid = country_code.upper(), party_id.upper()
        rows = [
            {"country_code": cc, "party_id": pid, "id": data["id"], "data": orjson.dumps(data).decode(),
             "last_updated": last_updated, **self._columns(data)}
            for data, last_updated in items
        ]
        if rows:
            await conn.execute(self.table.insert(), rows)
        return len(rows)

    async def delete(self, conn: AsyncConnection, country_code: str, party_id: str, object_id: str) -> bool:
        result = await conn.execute(delete(self.table).where(self._key(country_code, party_id, object_id)))
        return bool(result.rowcount)

    def _filters(self, owners: Sequence[Owner] | None, date_from: datetime | None, date_to: datetime | None,
                 published: bool = False, ids: Sequence[str] | None = None):
        """`published`: only published objects (locations); `ids`: only these object ids."""
        t = self.table.c
        clauses = []
        if published:
            clauses.append(t.published.is_(True))
        if ids is not None:
            clauses.append(t.id.in_(sorted(set(ids))))
        if owners is not None:
            owners = [(cc.upper(), pid.upper()) for cc, pid in owners]
            if len(owners) == 1:
                clauses += [t.country_code == owners[0][0], t.party_id == owners[0][1]]
            else:
                clauses.append(tuple_(t.country_code, t.party_id).in_(owners))
        if date_from is not None:
            clauses.append(t.last_updated >= date_from)
        if date_to is not None:
            clauses.append(t.last_updated < date_to)
        return and_(*clauses) if clauses else None

    async def page(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None,
                   date_from: datetime | None = None, date_to: datetime | None = None,
                   offset: int = 0, limit: int = 100, raw: bool = False, published: bool = False,
                   ids: Sequence[str] | None = None) -> tuple[list[Any], int]:
        """One page of JSON documents in creation order, and the total number of matches. The
        documents come as stored (str), or as UTF-8 bytes with `raw` (ready to be joined into a
        response body).

        On SQLite, outside a write transaction, the page is found through the listing cache (see
        `_Listings`): no COUNT and no OFFSET scan per request, only the page's rows by primary key.
        Elsewhere (PostgreSQL, or inside a write transaction) it is LIMIT/OFFSET and COUNT.
        `published` and `ids` narrow the list (see `_filters`)."""
        if conn.dialect.name == "sqlite":
            found = await self._sqlite_page(conn, owners, date_from, date_to, offset, limit, raw, published, ids)
            if found is not None:
                return found
        where = self._filters(owners, date_from, date_to, published, ids)
        query = select(self.table.c.data).order_by(self.table.c.pk).offset(offset).limit(limit)
        count = select(func.count()).select_from(self.table)
        if where is not None:
            query = query.where(where)
            count = count.where(where)
        rows = (await conn.execute(query)).scalars().all()
        total = (await conn.execute(count)).scalar_one()
        return [r.encode() for r in rows] if raw else list(rows), total

    async def _sqlite_page(self, conn: AsyncConnection, owners: Sequence[Owner] | None,
                           date_from: datetime | None, date_to: datetime | None, offset: int, limit: int,
                           raw: bool, published: bool = False,
                           ids: Sequence[str] | None = None) -> tuple[list[Any], int] | None:
        """The page through the listing cache, or None when it cannot be used. In the usual case
        this is one statement, so one trip to aiosqlite's thread: the look and the page's rows,
        read in the same snapshot."""
        if limit > _SQLITE_MAX_IN or (ids is not None and len(ids) > _SQLITE_MAX_IN):
            return None
        fairy = await conn.get_raw_connection()
        driver = fairy.driver_connection  # the aiosqlite connection: one call, one trip to its thread
        if driver is None or driver.in_transaction:
            return None  # uncommitted changes of this connection must not reach the shared cache
        listings = self._listings
        key = (None if owners is None else tuple(sorted({(cc.upper(), pid.upper()) for cc, pid in owners})),
               date_from, date_to, published, None if ids is None else tuple(sorted(set(ids))))
        pks = listings.get(key)
        if pks is None:
            listings.look(fairy.info, tuple((await driver.execute_fetchall(_SQLITE_LOOK))[0]))
        column = "CAST(data AS BLOB)" if raw else "data"  # as bytes: no decoding to str and back
        for _ in range(3):
            if pks is None:
                epoch = listings.epoch
                query = select(self.table.c.pk).order_by(self.table.c.pk)
                where = self._filters(owners, date_from, date_to, published, ids)
                if where is not None:
                    query = query.where(where)
                pks = array("q", (await conn.execute(query)).scalars().all())
                listings.put(key, pks, epoch)
            window = tuple(pks[offset:offset + limit])
            # The look first (keyed below every primary key), then the rows in primary key order,
            # all read in one snapshot.
            sql = (f"SELECT {-2**63}, data_version, total_changes() FROM pragma_data_version() UNION ALL "
                   f"SELECT pk, {column}, NULL FROM {self.table.name} "
                   f"WHERE pk IN ({','.join('?' * len(window))}) ORDER BY 1")
            rows = await driver.execute_fetchall(sql, window)
            if rows[0][2] is None:
                return None  # not the look (cannot happen with the keys SQLite assigns)
            if not listings.look(fairy.info, (rows[0][1], rows[0][2])):
                return [r[1] for r in rows[1:]], len(pks)
            pks = None  # something changed since this connection last looked: list again
        return None

    async def all(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None,
                  published: bool = False) -> list[dict]:
        where = self._filters(owners, None, None, published)
        query = select(self.table.c.data).order_by(self.table.c.pk)
        if where is not None:
            query = query.where(where)
        return [orjson.loads(r) for r in (await conn.execute(query)).scalars().all()]

    async def count(self, conn: AsyncConnection, *, owners: Sequence[Owner] | None = None) -> int:
        where = self._filters(owners, None, None)
        query = select(func.count()).select_from(self.table)
        if where is not None:
            query = query.where(where)
        return (await conn.execute(query)).scalar_one()
