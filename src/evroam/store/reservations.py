"""Reservations: the eMSP's reservation_id (string) and the charger's reservationId (the pk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import reservations


@dataclass
class ReservationRecord:
    pk: int  # the OCPP reservationId
    country_code: str
    party_id: str
    reservation_id: str
    partner_pk: int | None
    charger_id: str
    evse_number: int | None
    status: str
    expiry_date: datetime
    data: dict[str, Any] = field(default_factory=dict)


def _record(row: Any) -> ReservationRecord:
    return ReservationRecord(pk=row.pk, country_code=row.country_code, party_id=row.party_id,
                             reservation_id=row.reservation_id, partner_pk=row.partner_pk, charger_id=row.charger_id,
                             evse_number=row.evse_number, status=row.status, expiry_date=row.expiry_date,
                             data=orjson.loads(row.data or "{}"))


class ReservationRepository:
    async def find(self, conn: AsyncConnection, country_code: str, party_id: str,
                   reservation_id: str) -> ReservationRecord | None:
        row = (await conn.execute(select(reservations).where(
            func.upper(reservations.c.country_code) == country_code.upper(),
            func.upper(reservations.c.party_id) == party_id.upper(),
            func.lower(reservations.c.reservation_id) == reservation_id.lower()))).first()
        return _record(row) if row else None

    async def get(self, conn: AsyncConnection, pk: int) -> ReservationRecord | None:
        row = (await conn.execute(select(reservations).where(reservations.c.pk == pk))).first()
        return _record(row) if row else None

    async def put(self, conn: AsyncConnection, *, country_code: str, party_id: str, reservation_id: str,
                  partner_pk: int | None, charger_id: str, evse_number: int | None, expiry_date: datetime,
                  data: dict[str, Any]) -> ReservationRecord:
        """Create a reservation, or replace the one with the same id (same OCPP reservationId)."""
        now = utcnow()
        values = dict(partner_pk=partner_pk, charger_id=charger_id, evse_number=evse_number, status="REQUESTED",
                      expiry_date=expiry_date, data=orjson.dumps(data).decode(), updated_at=now)
        current = await self.find(conn, country_code, party_id, reservation_id)
        if current is None:
            await conn.execute(reservations.insert().values(
                country_code=country_code.upper(), party_id=party_id.upper(), reservation_id=reservation_id,
                created_at=now, **values))
        else:
            await conn.execute(update(reservations).where(reservations.c.pk == current.pk).values(**values))
        found = await self.find(conn, country_code, party_id, reservation_id)
        assert found is not None
        return found

    async def set_status(self, conn: AsyncConnection, pk: int, status: str) -> None:
        await conn.execute(update(reservations).where(reservations.c.pk == pk).values(status=status,
                                                                                       updated_at=utcnow()))
