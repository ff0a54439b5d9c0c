"""The store on SQLite and PostgreSQL: migrations, partners (tokens hashed), OCPI objects with
paging filters, and the outbox's per-object order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from evroam.model.common import parse_datetime
from evroam.model.partners import PartnerStatus
from evroam.store import Store
from evroam.store.partners import hash_token
from harness import postgres_url

T0 = parse_datetime("2024-01-01T00:00:00Z")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        url = postgres_url()
        if not url:
            pytest.skip("PostgreSQL store tests need EVROAM_TEST_POSTGRES_URL "
                        "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    s = Store(url)
    if s.dialect == "postgresql":
        await _drop_all(s)
    await s.migrate()
    yield s
    if s.dialect == "postgresql":
        await _drop_all(s)
    await s.close()


async def _drop_all(s: Store) -> None:
    """Start from an empty schema: every table of the database, whatever revision left it."""
    async with s.engine.begin() as conn:
        names = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))).scalars()
        for table in list(names):
            await conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))


async def test_migrations_are_idempotent_and_match_the_tables(store):
    await store.migrate()
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from evroam.store.tables import metadata

    def diff(sync_conn):
        return compare_metadata(MigrationContext.configure(sync_conn), metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_partners_keep_only_hashes_of_tokens_they_present(store):
    async with store.begin() as conn:
        p = await store.partners.create(conn, "acme", status=PartnerStatus.INVITED, registration_token="secret-a")
        assert (await store.partners.by_token(conn, "secret-a"))[1] == "A"
        await store.partners.update(conn, p.pk, status=PartnerStatus.REGISTERED, registration_token=None,
                                    token="secret-c", outgoing_token="ours-b", roles=[{"role": "CPO",
                                    "country_code": "DE", "party_id": "ACM"}], sync_state={"locations": "x"})
    async with store.connect() as conn:
        assert await store.partners.by_token(conn, "secret-a") is None
        partner, kind = await store.partners.by_token(conn, "secret-c")
        assert kind == "C" and partner.registered and partner.owns("de", "acm", "CPO")
        assert partner.sync_state == {"locations": "x"}
        raw = (await conn.execute(text("SELECT registration_token_hash, token_hash FROM partners"))).one()
        assert raw == (None, hash_token("secret-c"))
        dump = str((await conn.execute(text("SELECT * FROM partners"))).all())
        assert "secret-c" not in dump and "secret-a" not in dump
        assert [x.name for x in await store.partners.registered(conn)] == ["acme"]


async def test_objects_per_owner_with_paging_filters(store):
    async with store.begin() as conn:
        for i in range(5):
            assert await store.locations.put(conn, "NL", "EVR", f"L{i}", {"id": f"L{i}"}, T0 + timedelta(hours=i))
        assert await store.locations.put(conn, "BE", "OTH", "L0", {"id": "L0", "other": True}, T0)
        # replacing keeps the creation order
        assert not await store.locations.put(conn, "nl", "evr", "L0", {"id": "L0", "v": 2}, T0 + timedelta(hours=9))
    async with store.connect() as conn:
        rows, total = await store.locations.page(conn, owners=[("NL", "EVR")], offset=1, limit=2)
        assert total == 5 and rows == ['{"id":"L1"}', '{"id":"L2"}']
        rows, total = await store.locations.page(conn, owners=[("NL", "EVR")], date_from=T0 + timedelta(hours=1),
                                                 date_to=T0 + timedelta(hours=3))
        assert total == 2 and rows == ['{"id":"L1"}', '{"id":"L2"}']
        rows, total = await store.locations.page(conn, owners=[("NL", "EVR"), ("BE", "OTH")])
        assert total == 6 and rows[0] == '{"id":"L0","v":2}'
        assert await store.locations.get(conn, "BE", "OTH", "L0") == {"id": "L0", "other": True}
        assert await store.locations.count(conn) == 6
    async with store.begin() as conn:
        assert await store.locations.delete(conn, "BE", "OTH", "L0")
        assert not await store.locations.delete(conn, "BE", "OTH", "L0")


async def test_outbox_keeps_per_object_order(store):
    async with store.begin() as conn:
        p = await store.partners.create(conn, "acme", status=PartnerStatus.REGISTERED)
        first = await store.outbox.enqueue(conn, partner_pk=p.pk, module="locations", object_key="locations:A",
                                           method="PUT", path="/A", body="{}")
        second = await store.outbox.enqueue(conn, partner_pk=p.pk, module="locations", object_key="locations:A",
                                            method="PATCH", path="/A/1", body="{}")
        other = await store.outbox.enqueue(conn, partner_pk=p.pk, module="locations", object_key="locations:B",
                                           method="PUT", path="/B", body="{}")
    now = T0 + timedelta(days=10000)
    later = now + timedelta(seconds=60)

    async def claim(node: str, at=now) -> list[int]:
        async with store.begin() as conn:
            return [m.pk for m in await store.outbox.claim(conn, node=node, now=at, until=at + timedelta(seconds=60))]

    assert await claim("n1") == [first, other]
    # claimed by n1: another node gets nothing until the claim expires
    assert await claim("n2") == []
    assert await claim("n2", later + timedelta(seconds=1)) == [first, other]
    async with store.begin() as conn:
        await store.outbox.retry(conn, first, attempts=1, next_attempt_at=now + timedelta(minutes=5), error="down")
        await store.outbox.retry(conn, other, attempts=1, next_attempt_at=now, error="down")
    # the second message of A waits behind the first even though it is due
    assert await claim("n1") == [other]
    async with store.connect() as conn:
        assert await store.outbox.next_attempt_at(conn) is not None
    async with store.begin() as conn:
        await store.outbox.delivered(conn, first)
        await store.outbox.failed(conn, other, attempts=1, error="refused")
    assert await claim("n1") == [second]
    async with store.connect() as conn:
        assert (await store.outbox.counts(conn))[p.pk] == {"pending": 1, "delivered": 1, "failed": 1}


async def test_nodes_claiming_at_once_never_get_the_same_message(store):
    async with store.begin() as conn:
        p = await store.partners.create(conn, "acme", status=PartnerStatus.REGISTERED)
        for i in range(300):
            await store.outbox.enqueue(conn, partner_pk=p.pk, module="tariffs", object_key=f"tariffs:T{i}",
                                       method="PUT", path=f"/T{i}", body="{}")
    now = T0 + timedelta(days=10000)

    async def claim(node: str) -> list[int]:
        got = []
        for _ in range(10):
            async with store.begin() as conn:
                got += [m.pk for m in await store.outbox.claim(conn, node=node, now=now,
                                                               until=now + timedelta(seconds=60), limit=20)]
            await asyncio.sleep(0)
        return got

    claims = await asyncio.gather(*(claim(f"n{i}") for i in range(4)))
    every = [pk for c in claims for pk in c]
    assert len(every) == len(set(every)) == 300


async def test_datetimes_come_back_in_utc(store):
    stamp = parse_datetime("2024-06-01T12:34:56.789Z")
    async with store.begin() as conn:
        await store.tariffs.put(conn, "NL", "EVR", "T1", {"id": "T1"}, stamp)
        p = await store.partners.create(conn, "x", status=PartnerStatus.INVITED)
    async with store.connect() as conn:
        (value,) = (await conn.execute(text("SELECT last_updated FROM tariffs"))).one()
        partner = await store.partners.get(conn, p.pk)
    assert partner.created_at.tzinfo is not None
    assert str(value).startswith("2024-06-01 12:34:56")



async def test_one_financial_advice_posted_twice_at_once_is_stored_once(store):
    async with store.begin() as conn:
        p = await store.partners.create(conn, "ptp", status=PartnerStatus.REGISTERED)
    fac = {"id": "FAC-1", "authorization_reference": "REF-1", "capture_status_code": "SUCCESS"}

    async def post() -> bool:
        async with store.begin() as conn:
            _, created = await store.financial_advice.put(
                conn, partner_pk=p.pk, country_code="NL", party_id="PTP", fac=fac, session_id=None, checks={},
                last_updated=T0)
            await asyncio.sleep(0.01)  # both transactions open at once
            return created

    created = await asyncio.gather(*(post() for _ in range(5)))
    assert created.count(True) == 1
    async with store.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM financial_advice_confirmations"))).scalar_one() == 1
