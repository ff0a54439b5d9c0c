"""The audit log: who did what in the back office, and how it went (append-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    pk: int
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    detail: str | None
    ok: bool
    outcome: str | None
    address: str | None


class AuditRepository:
    async def add(self, conn: AsyncConnection, *, at: datetime, actor: str, role: str | None, action: str,
                  target: str | None, detail: str | None, ok: bool, outcome: str | None,
                  address: str | None) -> None:
        await conn.execute(audit_log.insert().values(
            at=at, actor=actor[:64], role=role, action=action[:64], target=(target or "")[:255] or None,
            detail=detail, ok=ok, outcome=outcome, address=(address or "")[:64] or None))

    async def page(self, conn: AsyncConnection, *, actor: str | None = None, action: str | None = None,
                   before: int | None = None, limit: int = 50) -> list[AuditEntry]:
        """Newest first; `before`: only entries older than that key (the next page)."""
        c = audit_log.c
        query = select(audit_log).order_by(c.pk.desc()).limit(limit)
        if actor:
            query = query.where(c.actor == actor)
        if action:
            query = query.where(c.action.like(f"{action}%"))
        if before is not None:
            query = query.where(c.pk < before)
        return [AuditEntry(r.pk, r.at, r.actor, r.role, r.action, r.target, r.detail, r.ok, r.outcome, r.address)
                for r in (await conn.execute(query)).all()]
