"""The OCPI payments module's records (services/terminals.py): Payment Terminal Providers'
terminals, the payments drivers made at them, the financial advice confirmations the PTPs sent.
Every row belongs to one partner (`partner_pk`): a PTP reads and changes only its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.bulk import insert_if_absent
from evroam.store.tables import financial_advice_confirmations as facs
from evroam.store.tables import payment_terminals as terminals
from evroam.store.tables import terminal_payments as payments


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class TerminalRecord:
    pk: int
    partner_pk: int
    country_code: str
    party_id: str
    terminal_id: str | None
    reference: str | None
    status: str
    data: dict[str, Any]
    last_updated: datetime
    created_at: datetime


@dataclass
class TerminalPayment:
    pk: int
    partner_pk: int
    terminal_pk: int
    authorization_reference: str
    location_id: str
    evse_uid: str
    invoice_reference_id: str | None
    session_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass
class FacRecord:
    pk: int
    partner_pk: int
    country_code: str
    party_id: str
    id: str
    authorization_reference: str
    session_id: str | None
    capture_status_code: str
    data: dict[str, Any]
    checks: dict[str, Any] = field(default_factory=dict)
    last_updated: datetime | None = None
    received_at: datetime | None = None


def _terminal(row: Any) -> TerminalRecord:
    return TerminalRecord(pk=row.pk, partner_pk=row.partner_pk, country_code=row.country_code, party_id=row.party_id,
                          terminal_id=row.terminal_id, reference=row.reference, status=row.status,
                          data=orjson.loads(row.data), last_updated=row.last_updated, created_at=row.created_at)


def _payment(row: Any) -> TerminalPayment:
    return TerminalPayment(pk=row.pk, partner_pk=row.partner_pk, terminal_pk=row.terminal_pk,
                           authorization_reference=row.authorization_reference, location_id=row.location_id,
                           evse_uid=row.evse_uid, invoice_reference_id=row.invoice_reference_id,
                           session_id=row.session_id, status=row.status, created_at=row.created_at,
                           updated_at=row.updated_at)


def _fac(row: Any) -> FacRecord:
    return FacRecord(pk=row.pk, partner_pk=row.partner_pk, country_code=row.country_code, party_id=row.party_id,
                     id=row.id, authorization_reference=row.authorization_reference, session_id=row.session_id,
                     capture_status_code=row.capture_status_code, data=orjson.loads(row.data),
                     checks=orjson.loads(row.checks or "{}"), last_updated=row.last_updated,
                     received_at=row.received_at)


class TerminalRepository:
    async def add(self, conn: AsyncConnection, *, partner_pk: int, country_code: str, party_id: str,
                  terminal_id: str | None, reference: str | None, status: str, data: dict[str, Any],
                  last_updated: datetime) -> TerminalRecord:
        result = await conn.execute(terminals.insert().values(
            partner_pk=partner_pk, country_code=country_code.upper(), party_id=party_id.upper(),
            terminal_id=terminal_id, terminal_key=terminal_id.casefold() if terminal_id else None,
            reference=reference, status=status, data=_json(data), last_updated=last_updated, created_at=utcnow()))
        return await self.get(conn, result.inserted_primary_key[0])

    async def get(self, conn: AsyncConnection, pk: int) -> TerminalRecord | None:
        row = (await conn.execute(select(terminals).where(terminals.c.pk == pk))).first()
        return _terminal(row) if row else None

    async def find(self, conn: AsyncConnection, partner_pk: int | None, terminal_id: str) -> TerminalRecord | None:
        """A terminal by its id (case-insensitive), of one partner (None: of any; the first)."""
        query = select(terminals).where(terminals.c.terminal_key == terminal_id.casefold())
        if partner_pk is not None:
            query = query.where(terminals.c.partner_pk == partner_pk)
        row = (await conn.execute(query.order_by(terminals.c.pk).limit(1))).first()
        return _terminal(row) if row else None

    async def requested(self, conn: AsyncConnection, partner_pk: int, reference: str) -> TerminalRecord | None:
        """The activation asked of a partner for this reference that no terminal answered yet."""
        row = (await conn.execute(
            select(terminals).where(terminals.c.partner_pk == partner_pk, terminals.c.terminal_key.is_(None),
                                    terminals.c.reference == reference).order_by(terminals.c.pk).limit(1))).first()
        return _terminal(row) if row else None

    async def update(self, conn: AsyncConnection, pk: int, **values: Any) -> None:
        if "data" in values:
            values["data"] = _json(values["data"])
        if values.get("terminal_id"):
            values["terminal_key"] = values["terminal_id"].casefold()
        await conn.execute(update(terminals).where(terminals.c.pk == pk).values(**values))

    async def listing(self, conn: AsyncConnection, *, partner_pk: int | None = None, active: bool = False,
                      offset: int = 0, limit: int | None = None) -> list[TerminalRecord]:
        query = select(terminals)
        if partner_pk is not None:
            query = query.where(terminals.c.partner_pk == partner_pk)
        if active:
            query = query.where(terminals.c.status == "ACTIVE")
        query = query.order_by(terminals.c.pk).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [_terminal(r) for r in (await conn.execute(query)).all()]


class TerminalPaymentRepository:
    async def add(self, conn: AsyncConnection, *, partner_pk: int, terminal_pk: int, authorization_reference: str,
                  location_id: str, evse_uid: str, invoice_reference_id: str | None, status: str) -> TerminalPayment:
        now = utcnow()
        result = await conn.execute(payments.insert().values(
            partner_pk=partner_pk, terminal_pk=terminal_pk, authorization_reference=authorization_reference,
            reference_key=authorization_reference.casefold(), location_id=location_id, evse_uid=evse_uid,
            invoice_reference_id=invoice_reference_id, status=status, created_at=now, updated_at=now))
        row = (await conn.execute(select(payments).where(payments.c.pk == result.inserted_primary_key[0]))).one()
        return _payment(row)

    async def by_reference(self, conn: AsyncConnection, partner_pk: int | None,
                           authorization_reference: str) -> TerminalPayment | None:
        query = select(payments).where(payments.c.reference_key == authorization_reference.casefold())
        if partner_pk is not None:
            query = query.where(payments.c.partner_pk == partner_pk)
        row = (await conn.execute(query.order_by(payments.c.pk).limit(1))).first()
        return _payment(row) if row else None

    async def by_session(self, conn: AsyncConnection, session_id: str) -> TerminalPayment | None:
        row = (await conn.execute(select(payments).where(payments.c.session_id == session_id).limit(1))).first()
        return _payment(row) if row else None

    async def in_status(self, conn: AsyncConnection, statuses: tuple[str, ...],
                        updated_before: datetime) -> list[TerminalPayment]:
        rows = (await conn.execute(select(payments).where(payments.c.status.in_(list(statuses)),
                                                           payments.c.updated_at < updated_before)
                                   .order_by(payments.c.pk).limit(500))).all()
        return [_payment(r) for r in rows]

    async def set(self, conn: AsyncConnection, pk: int, *, only_statuses: tuple[str, ...] | None = None,
                  **values: Any) -> bool:
        """Change a payment (when its status is one of `only_statuses`): True when changed."""
        query = update(payments).where(payments.c.pk == pk)
        if only_statuses is not None:
            query = query.where(payments.c.status.in_(list(only_statuses)))
        return bool((await conn.execute(query.values(updated_at=utcnow(), **values))).rowcount)

    async def listing(self, conn: AsyncConnection, *, limit: int = 100) -> list[TerminalPayment]:
        rows = (await conn.execute(select(payments).order_by(payments.c.pk.desc()).limit(limit))).all()
        return [_payment(r) for r in rows]


class FacRepository:
    async def put(self, conn: AsyncConnection, *, partner_pk: int, country_code: str, party_id: str,
                  fac: dict[str, Any], session_id: str | None, checks: dict[str, Any],
                  last_updated: datetime) -> tuple[FacRecord, bool]:
        """Store a FAC, or replace the partner's FAC of the same id; (record, created)."""
        values = dict(country_code=country_code.upper(), party_id=party_id.upper(), id=fac["id"],
                      authorization_reference=fac["authorization_reference"],
                      reference_key=fac["authorization_reference"].casefold(), session_id=session_id,
                      capture_status_code=fac["capture_status_code"], data=_json(fac), checks=_json(checks),
                      last_updated=last_updated, received_at=utcnow())
        # (two posts of one FAC at the same moment: one inserts, the other replaces it)
        created = await insert_if_absent(conn, facs, {"partner_pk": partner_pk, "id_key": fac["id"].casefold(),
                                                      **values}, unique=("partner_pk", "id_key"))
        if not created:
            await conn.execute(update(facs).where(facs.c.partner_pk == partner_pk,
                                                  facs.c.id_key == fac["id"].casefold()).values(**values))
        return await self.get(conn, partner_pk, fac["id"]), created

    async def get(self, conn: AsyncConnection, partner_pk: int | None, fac_id: str) -> FacRecord | None:
        query = select(facs).where(facs.c.id_key == fac_id.casefold())
        if partner_pk is not None:
            query = query.where(facs.c.partner_pk == partner_pk)
        row = (await conn.execute(query.order_by(facs.c.pk).limit(1))).first()
        return _fac(row) if row else None

    async def by_reference(self, conn: AsyncConnection, partner_pk: int,
                           authorization_reference: str) -> list[FacRecord]:
        rows = (await conn.execute(select(facs).where(
            facs.c.partner_pk == partner_pk, facs.c.reference_key == authorization_reference.casefold())
            .order_by(facs.c.pk))).all()
        return [_fac(r) for r in rows]

    async def listing(self, conn: AsyncConnection, *, partner_pk: int | None = None,
                      limit: int = 100) -> list[FacRecord]:
        query = select(facs)
        if partner_pk is not None:
            query = query.where(facs.c.partner_pk == partner_pk)
        rows = (await conn.execute(query.order_by(facs.c.pk.desc()).limit(limit))).all()
        return [_fac(r) for r in rows]
