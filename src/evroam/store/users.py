"""Operators' accounts and their signed-in browsers (web sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import users, web_sessions


@dataclass(frozen=True)
class User:
    pk: int
    name: str
    role: str
    password_hash: str
    created_at: datetime
    last_sign_in_at: datetime | None = None


@dataclass(frozen=True)
class WebSession:
    pk: int
    user: User
    csrf: str
    expires_at: datetime


def _user(row) -> User:
    return User(pk=row.pk, name=row.name, role=row.role, password_hash=row.password_hash,
                created_at=row.created_at, last_sign_in_at=row.last_sign_in_at)


class UserRepository:
    async def create(self, conn: AsyncConnection, name: str, role: str, password_hash: str) -> None:
        now = utcnow()
        await conn.execute(users.insert().values(name=name, role=role, password_hash=password_hash,
                                                 created_at=now, updated_at=now))

    async def get(self, conn: AsyncConnection, name: str) -> User | None:
        row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return _user(row) if row else None

    async def list(self, conn: AsyncConnection) -> list[User]:
        return [_user(r) for r in (await conn.execute(select(users).order_by(users.c.name))).all()]

    async def count(self, conn: AsyncConnection) -> int:
        return (await conn.execute(select(func.count()).select_from(users))).scalar_one()

    async def update(self, conn: AsyncConnection, pk: int, **values) -> None:
        await conn.execute(update(users).where(users.c.pk == pk).values(updated_at=utcnow(), **values))

    async def delete(self, conn: AsyncConnection, pk: int) -> None:
        await conn.execute(delete(web_sessions).where(web_sessions.c.user_pk == pk))
        await conn.execute(delete(users).where(users.c.pk == pk))

    # ------------------------------------------------------------------ web sessions

    async def open_session(self, conn: AsyncConnection, user_pk: int, token_hash: str, csrf: str,
                           address: str | None, expires_at: datetime) -> None:
        await conn.execute(web_sessions.insert().values(token_hash=token_hash, user_pk=user_pk, csrf=csrf,
                                                        address=(address or "")[:64] or None,
                                                        created_at=utcnow(), expires_at=expires_at))

    async def session(self, conn: AsyncConnection, token_hash: str, now: datetime) -> WebSession | None:
        """The live session with this token (None: unknown or expired)."""
        s = web_sessions.c
        row = (await conn.execute(
            select(s.pk, s.csrf, s.expires_at, users.c.pk.label("user_pk"), users.c.name, users.c.role,
                   users.c.password_hash, users.c.created_at, users.c.last_sign_in_at)
            .select_from(web_sessions.join(users, users.c.pk == s.user_pk))
            .where(s.token_hash == token_hash, s.expires_at > now))).first()
        if row is None:
            return None
        user = User(pk=row.user_pk, name=row.name, role=row.role, password_hash=row.password_hash,
                    created_at=row.created_at, last_sign_in_at=row.last_sign_in_at)
        return WebSession(pk=row.pk, user=user, csrf=row.csrf, expires_at=row.expires_at)

    async def extend(self, conn: AsyncConnection, pk: int, expires_at: datetime) -> None:
        await conn.execute(update(web_sessions).where(web_sessions.c.pk == pk).values(expires_at=expires_at))

    async def close_session(self, conn: AsyncConnection, token_hash: str) -> None:
        await conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))

    async def close_sessions_of(self, conn: AsyncConnection, user_pk: int) -> int:
        return (await conn.execute(delete(web_sessions).where(web_sessions.c.user_pk == user_pk))).rowcount or 0

    async def prune(self, conn: AsyncConnection, now: datetime) -> int:
        return (await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))).rowcount or 0
