"""The charging side: OCPP transactions with their meter readings, and the OCPI sessions and
CDRs they become (stored per CPO party, with the token's eMSP party beside them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.bulk import insert_many
from evroam.store.tables import ocpp_meter_values, ocpp_transactions

Owner = tuple[str, str]
# A transaction's status: running, stopped; or never billed: refused at its start, or an orphan
# (events of a transaction we never saw start, on no EVSE we know).
ACTIVE, COMPLETED, REFUSED, ORPHAN = "ACTIVE", "COMPLETED", "REFUSED", "ORPHAN"
_READING_COLUMNS = ("transaction_pk", "timestamp", "measurand", "phase", "context", "value")
_READING_KEY = ("transaction_pk", "measurand", "phase", "timestamp")


@dataclass
class TransactionRecord:
    pk: int
    charger_id: str
    transaction_id: str
    evse_number: int
    connector_number: int
    id_tag: str | None
    session_id: str | None
    status: str
    started_at: datetime
    stopped_at: datetime | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    timestamp: datetime
    measurand: str
    phase: str
    context: str
    value: float


def _tx(row: Any) -> TransactionRecord:
    return TransactionRecord(
        pk=row.pk, charger_id=row.charger_id, transaction_id=row.transaction_id, evse_number=row.evse_number,
        connector_number=row.connector_number, id_tag=row.id_tag, session_id=row.session_id, status=row.status,
        started_at=row.started_at, stopped_at=row.stopped_at, meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh, state=orjson.loads(row.state or "{}"),
    )


class TransactionRepository:
    async def get(self, conn: AsyncConnection, charger_id: str, transaction_id: str) -> TransactionRecord | None:
        t = ocpp_transactions.c
        row = (await conn.execute(select(ocpp_transactions).where(
            and_(t.charger_id == charger_id, t.transaction_id == transaction_id)))).first()
        return _tx(row) if row else None

    async def by_start_key(self, conn: AsyncConnection, charger_id: str, start_key: str) -> TransactionRecord | None:
        t = ocpp_transactions.c
        row = (await conn.execute(select(ocpp_transactions).where(
            and_(t.charger_id == charger_id, t.start_key == start_key)))).first()
        return _tx(row) if row else None

    async def of_terminal_payment(self, conn: AsyncConnection, payment_pk: int) -> TransactionRecord | None:
        """The transaction a payment at a terminal started (its state names the payment)."""
        t = ocpp_transactions
        rows = (await conn.execute(select(t).where(or_(
            t.c.state.like(f'%"terminal_payment_pk":{int(payment_pk)},%'),
            t.c.state.like(f'%"terminal_payment_pk":{int(payment_pk)}}}%'))).limit(1))).all()
        return _tx(rows[0]) if rows else None

    async def by_session(self, conn: AsyncConnection, session_id: str) -> TransactionRecord | None:
        row = (await conn.execute(select(ocpp_transactions).where(
            ocpp_transactions.c.session_id == session_id))).first()
        return _tx(row) if row else None

    async def active(self, conn: AsyncConnection, charger_id: str | None = None) -> list[TransactionRecord]:
        query = select(ocpp_transactions).where(ocpp_transactions.c.status == "ACTIVE")
        if charger_id is not None:
            query = query.where(ocpp_transactions.c.charger_id == charger_id)
        return [_tx(r) for r in (await conn.execute(query.order_by(ocpp_transactions.c.pk))).all()]

    async def listing(self, conn: AsyncConnection, *, charger_id: str | None = None, flagged: bool = False,
                      limit: int = 100) -> list[TransactionRecord]:
        """The newest transactions first; `flagged`: only those never billed (REFUSED, ORPHAN)
        or with something flagged on them (refused readings, an orphan, a failed pricing)."""
        t = ocpp_transactions.c
        query = select(ocpp_transactions).order_by(t.pk.desc()).limit(limit)
        if charger_id is not None:
            query = query.where(t.charger_id == charger_id)
        if flagged:
            query = query.where(or_(t.status.in_((REFUSED, ORPHAN)), t.state.like('%"flags":%')))
        return [_tx(r) for r in (await conn.execute(query)).all()]

    async def create(self, conn: AsyncConnection, *, charger_id: str, transaction_id: str | None,
                     start_key: str | None, evse_number: int, connector_number: int, id_tag: str | None,
                     started_at: datetime, meter_start_wh: float | None, status: str,
                     state: dict[str, Any]) -> TransactionRecord:
        """A new transaction. Without `transaction_id` (OCPP 1.6) the id is allocated: the row's
        own key, a positive integer unique in this installation."""
        now = utcnow()
        result = await conn.execute(ocpp_transactions.insert().values(
            charger_id=charger_id, transaction_id=transaction_id or f"new:{start_key}", start_key=start_key,
            evse_number=evse_number, connector_number=connector_number, id_tag=id_tag, status=status,
            started_at=started_at, meter_start_wh=meter_start_wh, state=orjson.dumps(state).decode(),
            created_at=now, updated_at=now,
        ))
        pk = result.inserted_primary_key[0]
        if transaction_id is None:
            await conn.execute(update(ocpp_transactions).where(ocpp_transactions.c.pk == pk)
                               .values(transaction_id=str(pk)))
        row = (await conn.execute(select(ocpp_transactions).where(ocpp_transactions.c.pk == pk))).first()
        return _tx(row)

    async def update(self, conn: AsyncConnection, pk: int, **values: Any) -> None:
        row = {"updated_at": utcnow()}
        for key, value in values.items():
            row[key] = orjson.dumps(value).decode() if key == "state" else value
        await conn.execute(update(ocpp_transactions).where(ocpp_transactions.c.pk == pk).values(**row))

    async def add_readings(self, conn: AsyncConnection, transaction_pk: int, readings: Sequence[Reading]) -> int:
        """Store readings; those already stored (same measurand, phase and time) are ignored.
        The number of new readings."""
        if not readings:
            return 0
        before = await self._count(conn, transaction_pk)
        await insert_many(conn, ocpp_meter_values, _READING_COLUMNS,
                          [(transaction_pk, r.timestamp, r.measurand, r.phase, r.context, r.value) for r in readings],
                          ignore_conflicts_on=_READING_KEY)
        return await self._count(conn, transaction_pk) - before

    async def add_many_readings(self, conn: AsyncConnection, items: Sequence[tuple[int, Sequence[Reading]]],
                                states: Sequence[tuple[int, dict[str, Any] | None]] = ()) -> None:
        """Readings of many transactions in one statement (those already stored are ignored, as in
        `add_readings`, but not counted), and the given transactions' new states (None: the state
        did not change, only the time of the update is set)."""
        await insert_many(conn, ocpp_meter_values, _READING_COLUMNS,
                          [(pk, r.timestamp, r.measurand, r.phase, r.context, r.value)
                           for pk, readings in items for r in readings],
                          ignore_conflicts_on=_READING_KEY)
        now = utcnow()
        t = ocpp_transactions.c
        changed = [{"tx_pk": pk, "tx_state": orjson.dumps(state).decode()} for pk, state in states if state is not None]
        if changed:
            await conn.execute(update(ocpp_transactions).where(t.pk == bindparam("tx_pk"))
                               .values(state=bindparam("tx_state"), updated_at=now), changed)
        touched = [pk for pk, state in states if state is None]
        if touched:
            await conn.execute(update(ocpp_transactions).where(t.pk.in_(touched)).values(updated_at=now))

    async def _count(self, conn: AsyncConnection, transaction_pk: int) -> int:
        return (await conn.execute(select(func.count()).select_from(ocpp_meter_values)
                                   .where(ocpp_meter_values.c.transaction_pk == transaction_pk))).scalar_one()

    async def readings(self, conn: AsyncConnection, transaction_pk: int) -> list[Reading]:
        m = ocpp_meter_values.c
        rows = (await conn.execute(select(m.timestamp, m.measurand, m.phase, m.context, m.value)
                                   .where(m.transaction_pk == transaction_pk).order_by(m.timestamp, m.pk))).all()
        return [Reading(*r) for r in rows]


class ChargingRecordRepository:
    """Sessions or CDRs as OCPI JSON, per owning (CPO) party, with the token's eMSP party."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _key(self, cc: str, pid: str, object_id: str):
        t = self.table.c
        return and_(t.country_code == cc.upper(), t.party_id == pid.upper(),
                    func.lower(t.id) == object_id.lower())  # a CiString: any case finds it

    async def get(self, conn: AsyncConnection, cc: str, pid: str, object_id: str) -> dict | None:
        row = (await conn.execute(select(self.table.c.data).where(self._key(cc, pid, object_id)))).first()
        return orjson.loads(row[0]) if row else None

    async def put(self, conn: AsyncConnection, cc: str, pid: str, object_id: str, data: dict[str, Any],
                  last_updated: datetime, emsp: Owner | None = None) -> bool:
        """Insert or replace; True when new."""
        payload = orjson.dumps(data).decode()
        result = await conn.execute(update(self.table).where(self._key(cc, pid, object_id))
                                    .values(data=payload, last_updated=last_updated))
        if result.rowcount:
            return False
        await self.insert(conn, cc, pid, object_id, data, last_updated, emsp)
        return True

    async def insert(self, conn: AsyncConnection, cc: str, pid: str, object_id: str, data: dict[str, Any],
                     last_updated: datetime, emsp: Owner | None = None) -> None:
        """Insert a new object (a second one with the same owner and id fails)."""
        await conn.execute(self.table.insert().values(
            country_code=cc.upper(), party_id=pid.upper(), id=object_id, data=orjson.dumps(data).decode(),
            last_updated=last_updated, emsp_country_code=emsp[0].upper() if emsp else None,
            emsp_party_id=emsp[1].upper() if emsp else None,
        ))

    async def page(self, conn: AsyncConnection, owner: Owner, *, emsps: Sequence[Owner] | None = None,
                   date_from: datetime | None = None, date_to: datetime | None = None, offset: int = 0,
                   limit: int = 100) -> tuple[list[str], int]:
        """One page of an owner's objects in creation order (only those of the given eMSP
        parties, when given) and the total number of matches."""
        t = self.table.c
        where = [t.country_code == owner[0].upper(), t.party_id == owner[1].upper()]
        if emsps is not None:
            parties = [(cc.upper(), pid.upper()) for cc, pid in emsps] or [("", "")]
            where.append(func.coalesce(t.emsp_country_code, "").concat(func.coalesce(t.emsp_party_id, ""))
                         .in_([cc + pid for cc, pid in parties]))
        if date_from is not None:
            where.append(t.last_updated >= date_from)
        if date_to is not None:
            where.append(t.last_updated < date_to)
        rows = (await conn.execute(select(t.data).where(*where).order_by(t.pk).offset(offset).limit(limit)))
        total = (await conn.execute(select(func.count()).select_from(self.table).where(*where))).scalar_one()
        return list(rows.scalars().all()), total

    async def all(self, conn: AsyncConnection, owner: Owner | None = None, limit: int = 1000) -> list[dict]:
        query = select(self.table.c.data).order_by(self.table.c.pk.desc()).limit(limit)
        if owner is not None:
            query = query.where(self.table.c.country_code == owner[0].upper(),
                                self.table.c.party_id == owner[1].upper())
        return [orjson.loads(r) for r in (await conn.execute(query)).scalars().all()]
