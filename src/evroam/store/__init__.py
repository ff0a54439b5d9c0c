"""Persistence. The only package that speaks SQL (SQLAlchemy Core, async).

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is production. The schema
is owned by Alembic migrations in `migrations/`, applied on start by `Store.migrate()`.
"""

from evroam.store.db import Store

__all__ = ["Store"]
