"""Remote starts: pairing a start we asked a charger for (OCPI START_SESSION, an operator's
start) with the transaction the charger then starts.

The expectation is stored before the charger is asked, so it outlives a restart of the platform:
a charger that accepted RemoteStartTransaction / RequestStartTransaction and starts its
transaction after the restart still gets a Session with auth_method COMMAND, the command's token
and the eMSP's authorization reference. An expectation matches the next transaction of the same
charger with the same remoteStartId (2.x) or idTag, within `REMOTE_START_SECONDS`; it is used
once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.events import Bus
from evroam.model.common import utcnow
from evroam.store import Store
from evroam.store.commands import RemoteStart

__all__ = ["REMOTE_START_SECONDS", "RemoteStart", "RemoteStartService"]

#: How long a charger may take to start the transaction it was asked for (drivers plug in late).
REMOTE_START_SECONDS = 600.0


class RemoteStartService:
    def __init__(self, store: Store, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def expect(self, charger_id: str, *, id_tag: str, token: dict[str, Any],
                     authorization_reference: str | None = None, remote_start_id: int | None = None,
                     evse_number: int | None = None, data: dict[str, Any] | None = None) -> RemoteStart:
        """Remember a start before asking the charger for it (`data`: what else the transaction
        starts with, e.g. `ad_hoc` and `invoice_reference_id` of a payment terminal's start)."""
        now = utcnow()
        async with self.store.begin() as conn:
            await self.store.remote_starts.remove_expired(conn, charger_id, now)
            expected = await self.store.remote_starts.add(
                conn, charger_id=charger_id, id_tag=id_tag, token=token,
                authorization_reference=authorization_reference, remote_start_id=remote_start_id,
                evse_number=evse_number, expires_at=now + timedelta(seconds=REMOTE_START_SECONDS), data=data)
        self.bus.publish("remote_start.expected", charger_id=charger_id, remote_start_id=remote_start_id)
        return expected

    async def find(self, charger_id: str, id_tag: str | None, remote_start_id: int | None) -> RemoteStart | None:
        """The expectation a transaction starting now belongs to: the same remoteStartId first,
        else the oldest one for the same idTag (case-insensitive). It stays stored until `used`
        (in the transaction that stores the charging transaction)."""
        async with self.store.connect() as conn:
            pending = await self.store.remote_starts.pending(conn, charger_id, utcnow())
        if remote_start_id is not None:
            for expected in pending:
                if expected.remote_start_id == remote_start_id:
                    return expected
        if id_tag is not None:
            for expected in pending:
                if expected.id_tag.casefold() == id_tag.casefold():
                    return expected
        return None

    async def used(self, conn: AsyncConnection, expected: RemoteStart) -> None:
        """The expectation led to a transaction: it will not match another (within `conn`)."""
        await self.store.remote_starts.remove(conn, expected.pk)

    async def cancel(self, conn: AsyncConnection, pk: int) -> None:
        """The charger refused the start: nothing to wait for (within `conn`)."""
        await self.store.remote_starts.remove(conn, pk)
