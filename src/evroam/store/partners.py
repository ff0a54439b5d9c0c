"""Partners: registration state, tokens (ours to them in clear, theirs to us hashed)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.model.partners import Partner, PartnerStatus
from evroam.store.tables import partners


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_partner(row: Any, reserved: frozenset[tuple[str, str]] = frozenset()) -> Partner:
    return Partner(
        pk=row.pk,
        name=row.name,
        status=PartnerStatus(row.status),
        version=row.version,
        versions_url=row.versions_url,
        version_url=row.version_url,
        outgoing_token=row.outgoing_token,
        outgoing_encoding=row.outgoing_encoding,
        roles=orjson.loads(row.roles or "[]"),
        endpoints=orjson.loads(row.endpoints or "[]"),
        last_error=row.last_error,
        sync_state=orjson.loads(row.sync_state or "{}"),
        hub_parties=orjson.loads(row.hub_parties or "[]"),
        created_at=row.created_at,
        updated_at=row.updated_at,
        reserved=reserved,
    )


class PartnerRepository:
    """`own_party`: our (country_code, party_id); every partner read is marked with it as
    reserved, so that no partner acts for our party whatever its stored roles say."""

    def __init__(self, own_party: tuple[str, str] | None = None) -> None:
        self.reserved: frozenset[tuple[str, str]] = (
            frozenset({(own_party[0].upper(), own_party[1].upper())}) if own_party else frozenset()
        )

    def _partner(self, row: Any) -> Partner:
        return _to_partner(row, self.reserved)

    async def create(self, conn: AsyncConnection, name: str, *, status: PartnerStatus,
                     registration_token: str | None = None, versions_url: str | None = None) -> Partner:
        now = utcnow()
        result = await conn.execute(
            partners.insert().values(
                name=name,
                status=status.value,
                registration_token_hash=hash_token(registration_token) if registration_token else None,
                versions_url=versions_url,
                roles="[]",
                endpoints="[]",
                sync_state="{}",
                hub_parties="[]",
                created_at=now,
                updated_at=now,
            )
        )
        return await self.get(conn, result.inserted_primary_key[0])

    async def get(self, conn: AsyncConnection, pk: int) -> Partner | None:
        row = (await conn.execute(select(partners).where(partners.c.pk == pk))).first()
        return self._partner(row) if row else None

    async def by_name(self, conn: AsyncConnection, name: str) -> Partner | None:
        row = (await conn.execute(select(partners).where(partners.c.name == name))).first()
        return self._partner(row) if row else None

    async def by_token(self, conn: AsyncConnection, token: str) -> tuple[Partner, str] | None:
        """The partner presenting `token`, and which kind it is: "A" (a registration token: it opens
        only versions and credentials) or "C" (the token of a registered partner)."""
        digest = hash_token(token)
        row = (
            await conn.execute(
                select(partners).where(or_(partners.c.registration_token_hash == digest, partners.c.token_hash == digest))
            )
        ).first()
        if row is None:
            return None
        return self._partner(row), ("C" if row.token_hash == digest else "A")

    async def list(self, conn: AsyncConnection) -> list[Partner]:
        rows = (await conn.execute(select(partners).order_by(partners.c.pk))).all()
        return [self._partner(r) for r in rows]

    async def registered(self, conn: AsyncConnection) -> list[Partner]:
        rows = (
            await conn.execute(
                select(partners).where(partners.c.status == PartnerStatus.REGISTERED.value).order_by(partners.c.pk)
            )
        ).all()
        return [self._partner(r) for r in rows]

    async def update(self, conn: AsyncConnection, pk: int, **values: Any) -> None:
        """Update columns. `roles`/`endpoints` take lists; `registration_token`/`token` take the
        clear tokens the partner will present to us (stored hashed; None clears them)."""
        row: dict[str, Any] = {"updated_at": utcnow()}
        for key, value in values.items():
            if key in ("roles", "endpoints", "sync_state", "hub_parties"):
                row[key] = orjson.dumps(value).decode()
            elif key in ("registration_token", "token"):
                row[f"{key}_hash"] = hash_token(value) if value else None
            elif key == "status":
                row[key] = PartnerStatus(value).value
            else:
                row[key] = value
        await conn.execute(update(partners).where(partners.c.pk == pk).values(**row))
