"""Drivers, which of our tokens each one holds, and the index of their sessions and CDRs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.model.drivers import Driver, DriverStatus
from evroam.store.tables import cdrs, driver_records, driver_tokens, drivers, sessions, tokens

Owner = tuple[str, str]
RECORD_TABLES = {"session": sessions, "cdr": cdrs}


def _driver(row: Any) -> Driver:
    return Driver(
        pk=row.pk, id=row.id, name=row.name, status=DriverStatus(row.status), contract_id=row.contract_id,
        created_at=row.created_at, updated_at=row.updated_at, email=row.email, contract_end=row.contract_end,
        credit_limit=Decimal(row.credit_limit) if row.credit_limit is not None else None,
        allowed_cpos=orjson.loads(row.allowed_cpos or "[]"), has_api_key=row.api_key_hash is not None,
    )


def _insert_ignoring_duplicates(conn: AsyncConnection, table, rows: list[dict[str, Any]]):
    """INSERT ... ON CONFLICT DO NOTHING on either database."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return conn.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    return conn.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)


class DriverRepository:
    async def create(self, conn: AsyncConnection, *, id: str, name: str, email: str | None, contract_id: str,
                     contract_end: datetime | None, credit_limit: Decimal | None, allowed_cpos: Sequence[str],
                     api_key_hash: str | None) -> Driver:
        now = utcnow()
        result = await conn.execute(drivers.insert().values(
            id=id, name=name, email=email, status=DriverStatus.ACTIVE.value, contract_id=contract_id,
            contract_end=contract_end, credit_limit=str(credit_limit) if credit_limit is not None else None,
            allowed_cpos=orjson.dumps(list(allowed_cpos)).decode(), api_key_hash=api_key_hash, created_at=now,
            updated_at=now,
        ))
        return await self.get(conn, result.inserted_primary_key[0])

    async def get(self, conn: AsyncConnection, pk: int) -> Driver | None:
        row = (await conn.execute(select(drivers).where(drivers.c.pk == pk))).first()
        return _driver(row) if row else None

    async def find(self, conn: AsyncConnection, key: str) -> Driver | None:
        """A driver by id or by name (names compare case-insensitively; the exact name always
        matches, also where the database folds only ASCII letters, as SQLite's lower() does)."""
        row = (await conn.execute(select(drivers).where(
            or_(drivers.c.id == key, drivers.c.name == key, func.lower(drivers.c.name) == key.lower())))).first()
        return _driver(row) if row else None

    async def by_api_key_hash(self, conn: AsyncConnection, digest: str) -> Driver | None:
        row = (await conn.execute(select(drivers).where(drivers.c.api_key_hash == digest))).first()
        return _driver(row) if row else None

    async def by_contract(self, conn: AsyncConnection, contract_id: str) -> Driver | None:
        row = (await conn.execute(select(drivers).where(drivers.c.contract_id == contract_id))).first()
        return _driver(row) if row else None

    async def list(self, conn: AsyncConnection) -> list[Driver]:
        return [_driver(r) for r in (await conn.execute(select(drivers).order_by(drivers.c.pk))).all()]

    async def update(self, conn: AsyncConnection, pk: int, **values: Any) -> None:
        if "credit_limit" in values and values["credit_limit"] is not None:
            values["credit_limit"] = str(values["credit_limit"])
        if "allowed_cpos" in values:
            values["allowed_cpos"] = orjson.dumps(list(values["allowed_cpos"])).decode()
        if "status" in values:
            values["status"] = DriverStatus(values["status"]).value
        await conn.execute(update(drivers).where(drivers.c.pk == pk).values(**values, updated_at=utcnow()))

    # ------------------------------------------------------------------ tokens

    async def add_token(self, conn: AsyncConnection, driver_pk: int, uid: str, token_type: str,
                        enabled: bool = True) -> None:
        await conn.execute(driver_tokens.insert().values(driver_pk=driver_pk, uid_key=uid.upper(), type=token_type,
                                                         enabled=enabled))

    async def token_owner(self, conn: AsyncConnection, uid: str, token_type: str | None = None
                          ) -> tuple[Driver, bool] | None:
        """The driver holding a token (uid compared case-insensitively) and the token's own
        switch (enabled)."""
        query = (select(drivers, driver_tokens.c.enabled)
                 .join(driver_tokens, driver_tokens.c.driver_pk == drivers.c.pk)
                 .where(driver_tokens.c.uid_key == uid.upper()))
        if token_type is not None:
            query = query.where(driver_tokens.c.type == token_type)
        row = (await conn.execute(query.order_by(driver_tokens.c.pk))).first()
        return (_driver(row), bool(row.enabled)) if row else None

    async def tokens_of(self, conn: AsyncConnection, driver_pk: int) -> list[tuple[str, str, bool]]:
        """(uid_key, type, enabled) of a driver's tokens, oldest first."""
        rows = (await conn.execute(select(driver_tokens.c.uid_key, driver_tokens.c.type, driver_tokens.c.enabled)
                                   .where(driver_tokens.c.driver_pk == driver_pk)
                                   .order_by(driver_tokens.c.pk))).all()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    async def set_token_enabled(self, conn: AsyncConnection, driver_pk: int, uid: str, token_type: str,
                                enabled: bool) -> bool:
        result = await conn.execute(update(driver_tokens).where(
            driver_tokens.c.driver_pk == driver_pk, driver_tokens.c.uid_key == uid.upper(),
            driver_tokens.c.type == token_type).values(enabled=enabled))
        return bool(result.rowcount)


    async def own_tokens(self, conn: AsyncConnection, owner: Owner) -> list[tuple[dict, Driver | None]]:
        """Every token of ours, oldest first, with its driver (None: a token of no driver)."""
        t = tokens.c
        query = (select(t.data, drivers).select_from(
            tokens.outerjoin(driver_tokens, and_(driver_tokens.c.uid_key == func.upper(t.uid),
                                                 driver_tokens.c.type == t.type))
            .outerjoin(drivers, drivers.c.pk == driver_tokens.c.driver_pk))
            .where(t.country_code == owner[0].upper(), t.party_id == owner[1].upper()).order_by(t.pk))
        return [(orjson.loads(r[0]), _driver(r) if r.pk is not None else None)
                for r in (await conn.execute(query)).all()]

    async def tokens_page(self, conn: AsyncConnection, owner: Owner, parties: Sequence[Owner] | None, *,
                          date_from: datetime | None = None, date_to: datetime | None = None, offset: int = 0,
                          limit: int = 100) -> tuple[list[str], int]:
        """A page of our tokens (JSON as stored) in creation order and the number of matches;
        with `parties`, only tokens of no driver, of unrestricted drivers, and of drivers who may
        charge at one of these CPO parties."""
        t = tokens.c
        where = [t.country_code == owner[0].upper(), t.party_id == owner[1].upper()]
        if date_from is not None:
            where.append(t.last_updated >= date_from)
        if date_to is not None:
            where.append(t.last_updated < date_to)
        source = tokens
        if parties is not None:
            source = (tokens.outerjoin(driver_tokens, and_(driver_tokens.c.uid_key == func.upper(t.uid),
                                                           driver_tokens.c.type == t.type))
                      .outerjoin(drivers, drivers.c.pk == driver_tokens.c.driver_pk))
            where.append(or_(drivers.c.pk.is_(None), drivers.c.allowed_cpos == "[]",
                             *(drivers.c.allowed_cpos.contains(f'"{cc.upper()}/{pid.upper()}"')
                               for cc, pid in parties)))
        rows = (await conn.execute(select(t.data).select_from(source).where(*where).order_by(t.pk)
                                   .offset(offset).limit(limit))).scalars().all()
        total = (await conn.execute(select(func.count()).select_from(source).where(*where))).scalar_one()
        return list(rows), total


class DriverRecordRepository:
    """Sessions and CDRs of our tokens, by driver: one row per session/CDR row of ours (received
    from a CPO partner, or made by our own CPO role for our own token)."""

    async def max_record_pk(self, conn: AsyncConnection, kind: str) -> int:
        """The highest primary key of the sessions/CDRs table (0 when empty)."""
        return (await conn.execute(select(func.max(RECORD_TABLES[kind].c.pk)))).scalar_one() or 0

    async def max_indexed(self, conn: AsyncConnection, kind: str) -> int:
        return (await conn.execute(select(func.max(driver_records.c.record_pk))
                                   .where(driver_records.c.kind == kind))).scalar_one() or 0

    async def unindexed(self, conn: AsyncConnection, kind: str, ours: Owner, *, after: int, upto: int,
                        limit: int = 500) -> list[tuple[int, str, str, str, dict]]:
        """(pk, country_code, party_id, id, data) of session/CDR rows with after < pk <= upto, in
        primary key order: those received from CPO partners (no eMSP column) and those of our own
        CPO role for our own tokens."""
        t = RECORD_TABLES[kind].c
        query = (select(t.pk, t.country_code, t.party_id, t.id, t.data)
                 .where(t.pk > after, t.pk <= upto,
                        or_(t.emsp_country_code.is_(None),
                            and_(t.emsp_country_code == ours[0].upper(), t.emsp_party_id == ours[1].upper())))
                 .order_by(t.pk).limit(limit))
        return [(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in (await conn.execute(query)).all()]

    async def record_pk(self, conn: AsyncConnection, kind: str, cc: str, pid: str, object_id: str) -> int | None:
        t = RECORD_TABLES[kind].c
        return (await conn.execute(select(t.pk).where(t.country_code == cc.upper(), t.party_id == pid.upper(),
                                                      t.id == object_id))).scalar()

    async def add(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Index rows: kind, record_pk, country_code, party_id, object_id, driver_pk, token_uid,
        token_type, started_at, ended_at. A row indexed already is left as it is."""
        if rows:
            await _insert_ignoring_duplicates(conn, driver_records, rows)

    async def set_ended(self, conn: AsyncConnection, kind: str, record_pk: int, ended_at: datetime | None) -> None:
        await conn.execute(update(driver_records).where(driver_records.c.kind == kind,
                                                        driver_records.c.record_pk == record_pk)
                           .values(ended_at=ended_at))

    async def of_driver(self, conn: AsyncConnection, driver_pk: int, kind: str, *, offset: int = 0, limit: int = 100,
                        ended_from: datetime | None = None, ended_before: datetime | None = None,
                        newest_first: bool = True) -> list[dict]:
        """The driver's sessions or CDRs (their OCPI JSON), the latest started first unless told otherwise;
        optionally only those that ended in [ended_from, ended_before)."""
        table = RECORD_TABLES[kind]
        r = driver_records.c
        query = (select(table.c.data).join(table, table.c.pk == r.record_pk)
                 .where(r.driver_pk == driver_pk, r.kind == kind))
        if ended_from is not None:
            query = query.where(r.ended_at >= ended_from)
        if ended_before is not None:
            query = query.where(r.ended_at < ended_before)
        order = (r.started_at.desc(), r.record_pk.desc()) if newest_first else (r.started_at, r.record_pk)
        query = query.order_by(*order).offset(offset).limit(limit)
        return [orjson.loads(d) for d in (await conn.execute(query)).scalars().all()]

    async def owner_of(self, conn: AsyncConnection, kind: str, cc: str, pid: str, object_id: str) -> int | None:
        """The driver pk of one session or CDR (None: not indexed, or no driver's)."""
        r = driver_records.c
        return (await conn.execute(select(r.driver_pk).where(
            r.kind == kind, r.country_code == cc.upper(), r.party_id == pid.upper(), r.object_id == object_id)
        )).scalar()
