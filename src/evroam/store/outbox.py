"""The durable outbox: every push to a partner is a row first, delivered by the outbox worker
in per-object order, retried with back-off, and never dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from evroam.model.common import utcnow
from evroam.store.tables import outbox

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass
class OutboxMessage:
    pk: int
    partner_pk: int
    module: str
    object_key: str
    method: str
    path: str
    body: str | None
    attempts: int
    created_at: datetime


class OutboxRepository:
    async def enqueue(self, conn: AsyncConnection, *, partner_pk: int, module: str, object_key: str,
                      method: str, path: str, body: str | None) -> int:
        now = utcnow()
        result = await conn.execute(
            outbox.insert().values(
                partner_pk=partner_pk, module=module, object_key=object_key, method=method, path=path,
                body=body, status=PENDING, attempts=0, next_attempt_at=now, created_at=now,
            )
        )
        return result.inserted_primary_key[0]

    @staticmethod
    def _head_of_line(table=outbox):
        """Pending messages with no earlier pending message for the same partner and object:
        only these may be sent (per-object order) and only their retry times matter."""
        earlier = aliased(outbox)
        blocked = (
            select(earlier.c.pk)
            .where(
                and_(
                    earlier.c.partner_pk == table.c.partner_pk,
                    earlier.c.object_key == table.c.object_key,
                    earlier.c.status == PENDING,
                    earlier.c.pk < table.c.pk,
                )
            )
            .exists()
        )
        return and_(table.c.status == PENDING, ~blocked)

    @staticmethod
    def _unclaimed(table, now: datetime):
        return or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)

    async def claim(self, conn: AsyncConnection, *, node: str, now: datetime, until: datetime,
                    limit: int = 100) -> list[OutboxMessage]:
        """Claim for `node` (until `until`) the pending messages that are due, first in line for
        their object and claimed by no other node, and return them oldest first. Several nodes
        claiming at once get different messages (PostgreSQL: rows locked by another claim are
        skipped), so a message is sent by one node; the next message of an object is not first
        in line until its predecessor is delivered, which keeps each object's order."""
        candidate = aliased(outbox)
        chosen = (
            select(candidate.c.pk)
            .where(self._head_of_line(candidate), candidate.c.next_attempt_at <= now,
                   self._unclaimed(candidate, now))
            .order_by(candidate.c.pk)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        query = (
            update(outbox)
            .where(outbox.c.pk.in_(chosen.scalar_subquery()), self._unclaimed(outbox, now))
            .values(claimed_by=node, claimed_until=until)
            .returning(outbox.c.pk, outbox.c.partner_pk, outbox.c.module, outbox.c.object_key, outbox.c.method,
                       outbox.c.path, outbox.c.body, outbox.c.attempts, outbox.c.created_at)
        )
        rows = sorted((await conn.execute(query)).all(), key=lambda r: r.pk)
        return [
            OutboxMessage(r.pk, r.partner_pk, r.module, r.object_key, r.method, r.path, r.body, r.attempts, r.created_at)
            for r in rows
        ]

    async def next_attempt_at(self, conn: AsyncConnection) -> datetime | None:
        """When the next message can be sent (messages waiting behind another, or claimed by a
        node that is sending them, are not counted)."""
        query = select(func.min(outbox.c.next_attempt_at)).where(self._head_of_line(),
                                                                 outbox.c.claimed_until.is_(None))
        return (await conn.execute(query)).scalar_one_or_none()

    async def delivered(self, conn: AsyncConnection, pk: int) -> None:
        await conn.execute(
            update(outbox).where(outbox.c.pk == pk).values(status=DELIVERED, delivered_at=utcnow(), last_error=None,
                                                           claimed_until=None)  # claimed_by: who delivered it
        )

    async def retry(self, conn: AsyncConnection, pk: int, *, attempts: int, next_attempt_at: datetime,
                    error: str) -> None:
        await conn.execute(
            update(outbox)
            .where(outbox.c.pk == pk)
            .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error[:2000],
                    claimed_by=None, claimed_until=None)
        )

    async def failed(self, conn: AsyncConnection, pk: int, *, attempts: int, error: str) -> None:
        await conn.execute(
            update(outbox).where(outbox.c.pk == pk).values(status=FAILED, attempts=attempts, last_error=error[:2000],
                                                           claimed_until=None)
        )

    async def waiting_by_partner(self, conn: AsyncConnection) -> dict[int, tuple[int, float, int]]:
        """{partner_pk: (pending messages, age in seconds of the oldest, failed messages)}."""
        now = utcnow()
        query = (select(outbox.c.partner_pk, outbox.c.status, func.count(), func.min(outbox.c.created_at))
                 .where(outbox.c.status.in_((PENDING, FAILED))).group_by(outbox.c.partner_pk, outbox.c.status))
        result: dict[int, tuple[int, float, int]] = {}
        for partner_pk, status, n, oldest in (await conn.execute(query)).all():
            waiting, age, failed = result.get(partner_pk, (0, 0.0, 0))
            if status == PENDING:
                waiting, age = n, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
            else:
                failed = n
            result[partner_pk] = (waiting, age, failed)
        return result

    async def counts(self, conn: AsyncConnection) -> dict[int, dict[str, int]]:
        """{partner_pk: {status: n}} for the operator's view."""
        query = select(outbox.c.partner_pk, outbox.c.status, func.count()).group_by(outbox.c.partner_pk, outbox.c.status)
        result: dict[int, dict[str, int]] = {}
        for partner_pk, status, n in (await conn.execute(query)).all():
            result.setdefault(partner_pk, {})[status] = n
        return result

    async def messages(self, conn: AsyncConnection, partner_pk: int | None = None, status: str | None = None,
                       limit: int = 100) -> list[dict]:
        query = select(outbox).order_by(outbox.c.pk.desc()).limit(limit)
        if partner_pk is not None:
            query = query.where(outbox.c.partner_pk == partner_pk)
        if status is not None:
            query = query.where(outbox.c.status == status)
        return [dict(r._mapping) for r in (await conn.execute(query)).all()]
