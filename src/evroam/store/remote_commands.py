"""Commands we (the eMSP) sent to CPO partners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import format_datetime, utcnow
from evroam.store.tables import remote_commands


@dataclass
class RemoteCommand:
    pk: int
    id: str
    command: str
    partner_pk: int | None
    partner: str | None
    country_code: str
    party_id: str
    location_id: str | None
    evse_uid: str | None
    connector_id: str | None
    session_id: str | None
    reservation_id: str | None
    token_uid: str | None
    authorization_reference: str | None
    state: str
    response: dict[str, Any] | None
    result: dict[str, Any] | None
    deadline: datetime | None
    requested_at: datetime
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        """The JSON-ready record services and APIs hand out."""
        return {
            "id": self.id, "command": self.command, "partner": self.partner, "country_code": self.country_code,
            "party_id": self.party_id, "location_id": self.location_id, "evse_uid": self.evse_uid,
            "connector_id": self.connector_id, "session_id": self.session_id,
            "reservation_id": self.reservation_id, "token_uid": self.token_uid,
            "authorization_reference": self.authorization_reference, "state": self.state,
            "response": self.response, "result": self.result,
            "deadline": format_datetime(self.deadline) if self.deadline else None,
            "requested_at": format_datetime(self.requested_at), "updated_at": format_datetime(self.updated_at),
        }


_JSON = ("response", "result")


def _record(row: Any) -> RemoteCommand:
    values = dict(row._mapping)
    for key in _JSON:
        values[key] = orjson.loads(values[key]) if values[key] else None
    return RemoteCommand(**values)


class RemoteCommandRepository:
    async def create(self, conn: AsyncConnection, **values: Any) -> RemoteCommand:
        now = utcnow()
        row = {"requested_at": now, "updated_at": now, **values}
        for key in _JSON:
            if row.get(key) is not None:
                row[key] = orjson.dumps(row[key]).decode()
        await conn.execute(remote_commands.insert().values(**row))
        found = await self.get(conn, values["id"])
        assert found is not None
        return found

    async def get(self, conn: AsyncConnection, command_id: str) -> RemoteCommand | None:
        row = (await conn.execute(select(remote_commands).where(remote_commands.c.id == command_id))).first()
        return _record(row) if row else None

    async def update(self, conn: AsyncConnection, command_id: str, *, only_states: tuple[str, ...] | None = None,
                     **values: Any) -> bool:
        """Change columns (`response`/`result` take dicts); with `only_states`, only while the
        command is in one of them. True when a row changed."""
        row: dict[str, Any] = {"updated_at": utcnow()}
        for key, value in values.items():
            row[key] = orjson.dumps(value).decode() if key in _JSON and value is not None else value
        where = remote_commands.c.id == command_id
        if only_states is not None:
            where = and_(where, remote_commands.c.state.in_(only_states))
        result = await conn.execute(update(remote_commands).where(where).values(**row))
        return bool(result.rowcount)

    async def list(self, conn: AsyncConnection, *, limit: int = 50, token_uid: str | None = None,
                   states: tuple[str, ...] | None = None) -> list[RemoteCommand]:
        """Newest first."""
        query = select(remote_commands).order_by(remote_commands.c.pk.desc()).limit(limit)
        if token_uid is not None:
            query = query.where(remote_commands.c.token_uid == token_uid)
        if states is not None:
            query = query.where(remote_commands.c.state.in_(states))
        return [_record(r) for r in (await conn.execute(query)).all()]

    async def overdue(self, conn: AsyncConnection, now: datetime, state: str = "ACCEPTED") -> list[RemoteCommand]:
        """Commands still waiting for their result whose deadline has passed."""
        c = remote_commands.c
        query = select(remote_commands).where(c.state == state, c.deadline.is_not(None), c.deadline <= now)
        return [_record(r) for r in (await conn.execute(query.order_by(c.deadline))).all()]

    async def next_deadline(self, conn: AsyncConnection, state: str = "ACCEPTED") -> datetime | None:
        c = remote_commands.c
        query = select(c.deadline).where(c.state == state, c.deadline.is_not(None)).order_by(c.deadline).limit(1)
        return (await conn.execute(query)).scalar()

    async def by_authorization_reference(self, conn: AsyncConnection, country_code: str, party_id: str,
                                         reference: str) -> RemoteCommand | None:
        c = remote_commands.c
        row = (await conn.execute(select(remote_commands).where(
            c.authorization_reference == reference, c.country_code == country_code.upper(),
            c.party_id == party_id.upper()).order_by(c.pk.desc()).limit(1))).first()
        return _record(row) if row else None
