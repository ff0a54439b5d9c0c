"""Many rows in one statement, for the append-heavy tables (OCPP log, meter readings).

SQLAlchemy's executemany runs every value of every row through its bind processors; for the
thousands of rows a second these tables take under load that is most of the cost of writing
them. On SQLite the rows go to the driver as plain tuples instead (datetimes as the text
SQLAlchemy's SQLite DATETIME stores, so reads see no difference); on other databases through
SQLAlchemy Core as usual."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

_statements: dict[tuple[str, tuple[str, ...], tuple[str, ...] | None], tuple[str, frozenset[int]]] = {}


def sqlite_datetime(value: datetime | None) -> str | None:
    """A datetime as SQLAlchemy's SQLite DATETIME stores it (naive UTC, microseconds)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:"
            f"{value.second:02d}.{value.microsecond:06d}")


async def insert_many(conn: AsyncConnection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]],
                      *, ignore_conflicts_on: tuple[str, ...] | None = None) -> None:
    """Insert `rows` (tuples in the order of `columns`; datetimes timezone-aware UTC) in one
    executemany. `ignore_conflicts_on`: columns of a unique constraint; rows that would violate
    it are skipped (INSERT ... ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        key = (table.name, columns, ignore_conflicts_on)
        known = _statements.get(key)
        if known is None:
            sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
                   + (f" ON CONFLICT ({', '.join(ignore_conflicts_on)}) DO NOTHING" if ignore_conflicts_on else ""))
            known = _statements[key] = (sql, frozenset(i for i, c in enumerate(columns) if _is_datetime(table, c)))
        sql, dates = known
        if dates:
            rows = [tuple(sqlite_datetime(v) if i in dates else v for i, v in enumerate(row)) for row in rows]
        await conn.exec_driver_sql(sql, list(rows))
        return
    dicts = [dict(zip(columns, row, strict=True)) for row in rows]
    if ignore_conflicts_on:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        await conn.execute(insert.on_conflict_do_nothing(index_elements=list(ignore_conflicts_on)), dicts)
    else:
        await conn.execute(table.insert(), dicts)


async def insert_if_absent(conn: AsyncConnection, table: Table, values: dict[str, Any],
                           unique: tuple[str, ...]) -> bool:
    """Insert one row unless a row with the same `unique` columns exists (also one another
    transaction inserts at the same moment): True when this call inserted it."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    result = await conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=list(unique)))
    return bool(result.rowcount)


def _is_datetime(table: Table, column: str) -> bool:
    try:
        return table.c[column].type.python_type is datetime
    except NotImplementedError:
        return False
