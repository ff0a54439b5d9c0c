"""Command state that must survive a restart: the OCPI commands received from eMSPs that still
owe a CommandResult (and the record of those answered), and the remote starts we asked chargers
for, waiting for the transaction they lead to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import received_commands, remote_starts

WAITING, DONE = "WAITING", "DONE"


@dataclass
class ReceivedCommand:
    pk: int
    partner_pk: int
    command: str
    response_url: str
    charger_id: str | None
    action: str | None
    status: str
    result: str | None
    message: str | None
    deadline: datetime
    data: dict[str, Any] = field(default_factory=dict)


def _command(row: Any) -> ReceivedCommand:
    return ReceivedCommand(pk=row.pk, partner_pk=row.partner_pk, command=row.command, response_url=row.response_url,
                           charger_id=row.charger_id, action=row.action, status=row.status, result=row.result,
                           message=row.message, deadline=row.deadline, data=orjson.loads(row.data or "{}"))


class ReceivedCommandRepository:
    async def add(self, conn: AsyncConnection, *, partner_pk: int, command: str, response_url: str,
                  charger_id: str | None, action: str | None, deadline: datetime,
                  data: dict[str, Any] | None = None) -> int:
        """A command now awaiting the charger's answer (WAITING until `deadline`)."""
        now = utcnow()
        result = await conn.execute(received_commands.insert().values(
            partner_pk=partner_pk, command=command, response_url=response_url, charger_id=charger_id, action=action,
            status=WAITING, data=orjson.dumps(data or {}).decode(), deadline=deadline, created_at=now,
            updated_at=now))
        return result.inserted_primary_key[0]

    async def finish(self, conn: AsyncConnection, pk: int, result: str, message: str | None) -> ReceivedCommand | None:
        """Mark a WAITING command DONE with its result; the command, or None when it was not
        waiting any more (its result was already given: by this process or another)."""
        changed = await conn.execute(
            update(received_commands)
            .where(received_commands.c.pk == pk, received_commands.c.status == WAITING)
            .values(status=DONE, result=result, message=message, updated_at=utcnow()))
        if changed.rowcount != 1:
            return None
        return await self.get(conn, pk)

    async def get(self, conn: AsyncConnection, pk: int) -> ReceivedCommand | None:
        row = (await conn.execute(select(received_commands).where(received_commands.c.pk == pk))).first()
        return _command(row) if row else None

    async def waiting(self, conn: AsyncConnection) -> list[ReceivedCommand]:
        """Every command still owed a result, the earliest deadline first."""
        rows = (await conn.execute(select(received_commands).where(received_commands.c.status == WAITING)
                                   .order_by(received_commands.c.deadline, received_commands.c.pk))).all()
        return [_command(r) for r in rows]

    async def recent(self, conn: AsyncConnection, *, partner_pk: int | None = None,
                     limit: int = 100) -> list[ReceivedCommand]:
        query = select(received_commands).order_by(received_commands.c.pk.desc()).limit(limit)
        if partner_pk is not None:
            query = query.where(received_commands.c.partner_pk == partner_pk)
        return [_command(r) for r in (await conn.execute(query)).all()]


@dataclass
class RemoteStart:
    """A start the charger was asked for; the transaction that follows carries its token (and
    the eMSP's authorization reference)."""

    pk: int
    charger_id: str
    id_tag: str
    token: dict[str, Any]
    authorization_reference: str | None
    remote_start_id: int | None
    evse_number: int | None
    expires_at: datetime
    data: dict[str, Any] = field(default_factory=dict)  # e.g. a payment terminal's start: ad_hoc, invoice


def _remote_start(row: Any) -> RemoteStart:
    return RemoteStart(pk=row.pk, charger_id=row.charger_id, id_tag=row.id_tag, token=orjson.loads(row.token),
                       authorization_reference=row.authorization_reference, remote_start_id=row.remote_start_id,
                       evse_number=row.evse_number, expires_at=row.expires_at,
                       data=orjson.loads(row.data) if row.data else {})


class RemoteStartRepository:
    async def add(self, conn: AsyncConnection, *, charger_id: str, id_tag: str, token: dict[str, Any],
                  authorization_reference: str | None, remote_start_id: int | None, evse_number: int | None,
                  expires_at: datetime, data: dict[str, Any] | None = None) -> RemoteStart:
        now = utcnow()
        values = dict(charger_id=charger_id, id_tag=id_tag, token=orjson.dumps(token).decode(),
                      authorization_reference=authorization_reference, remote_start_id=remote_start_id,
                      evse_number=evse_number, expires_at=expires_at)
        result = await conn.execute(remote_starts.insert().values(
            created_at=now, data=orjson.dumps(data).decode() if data else None, **values))
        return RemoteStart(pk=result.inserted_primary_key[0], **{**values, "token": token}, data=data or {})

    async def pending(self, conn: AsyncConnection, charger_id: str, now: datetime) -> list[RemoteStart]:
        """The charger's expectations that have not expired, oldest first."""
        rows = (await conn.execute(
            select(remote_starts)
            .where(remote_starts.c.charger_id == charger_id, remote_starts.c.expires_at > now)
            .order_by(remote_starts.c.pk))).all()
        return [_remote_start(r) for r in rows]

    async def remove(self, conn: AsyncConnection, pk: int) -> bool:
        """Remove one expectation; False when it was already gone."""
        return (await conn.execute(delete(remote_starts).where(remote_starts.c.pk == pk))).rowcount == 1

    async def remove_expired(self, conn: AsyncConnection, charger_id: str, now: datetime) -> int:
        return (await conn.execute(delete(remote_starts).where(remote_starts.c.charger_id == charger_id,
                                                               remote_starts.c.expires_at <= now))).rowcount
