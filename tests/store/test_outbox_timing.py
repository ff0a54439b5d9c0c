"""When the outbox worker should wake up next (SQLite; the store suite covers both databases)."""

from __future__ import annotations

from datetime import timedelta

from evroam.model.common import parse_datetime
from evroam.model.partners import PartnerStatus
from evroam.store import Store

T0 = parse_datetime("2024-01-01T00:00:00Z")


async def test_next_attempt_ignores_messages_waiting_behind_their_object(tmp_path):
    """A message queued behind a backing-off one of the same object is not 'due': the worker
    must sleep until the head's retry time, not spin on the blocked message."""
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    await store.migrate()
    try:
        async with store.begin() as conn:
            p = await store.partners.create(conn, "acme", status=PartnerStatus.REGISTERED)
            head = await store.outbox.enqueue(conn, partner_pk=p.pk, module="locations", object_key="locations:A",
                                              method="PUT", path="/A", body="{}")
            await store.outbox.enqueue(conn, partner_pk=p.pk, module="locations", object_key="locations:A",
                                       method="PATCH", path="/A/1", body="{}")
            retry_at = T0 + timedelta(days=20000)
            await store.outbox.retry(conn, head, attempts=1, next_attempt_at=retry_at, error="down")
        async with store.connect() as conn:
            assert await store.outbox.next_attempt_at(conn) == retry_at
    finally:
        await store.close()
