"""The audit log: who did what (operators' commands to chargers, changes of sites, drivers,
tariffs, partners, accounts, and sign-ins), when, from where, and how it went."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from evroam.model.common import utcnow
from evroam.store import Store
from evroam.store.audit import AuditEntry

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, actor: str, role: str | None, action: str, target: str | None,
                     detail: dict[str, Any] | None = None, *, ok: bool = True, outcome: str | None = None,
                     address: str | None = None) -> None:
        """Append one entry (never raises: an audit entry that cannot be written is logged)."""
        try:
            async with self.store.begin() as conn:
                await self.store.audit.add(conn, at=utcnow(), actor=actor, role=role, action=action, target=target,
                                           detail=orjson.dumps(detail or {}).decode(), ok=ok,
                                           outcome=(outcome or "")[:2000] or None, address=address)
        except Exception:
            log.exception("audit entry %s %s by %s could not be written", action, target, actor)

    async def entries(self, *, actor: str | None = None, action: str | None = None, before: int | None = None,
                      limit: int = 50) -> list[AuditEntry]:
        async with self.store.connect() as conn:
            return await self.store.audit.page(conn, actor=actor, action=action, before=before, limit=limit)
