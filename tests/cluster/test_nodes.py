"""Several `evroam serve` processes on one PostgreSQL database and one Redis are one platform:
they migrate an empty database once, a command sent to any node reaches the charger wherever
its connection is, every outbox row is delivered once, a charger that reconnects to another
node keeps one live connection and continues its transaction there after a kill -9, and load
management keeps a site under its limit across nodes."""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager

import pytest
from nodes import Node, RecordingEmsp, drop_database, fresh_database
from ocpp_chargers import charger16
from sqlalchemy import text

from evroam.app import Platform
from evroam.demo import load_demo
from evroam.model.common import parse_datetime
from evroam.model.partners import PartnerStatus
from evroam.settings import Settings
from harness import postgres_url, redis_url, wait_for

pytestmark = [
    pytest.mark.skipif(not (postgres_url() and redis_url()),
                       reason="tests of several nodes need EVROAM_TEST_POSTGRES_URL and EVROAM_TEST_REDIS_URL"),
    pytest.mark.timeout(180),
]

PASSWORD = "charger-pass-1"
EMSP_TOKEN = "04AAB0C1D2"


@asynccontextmanager
async def platform(tmp_path, count: int = 2, *, env: dict[str, str] | None = None):
    """`count` nodes on a fresh database (started together), and a Platform of the test on the
    same database for setting things up and looking at what is stored."""
    url = await fresh_database()
    prefix = f"evroam-nodes-{secrets.token_hex(4)}"
    nodes = [Node(f"node-{chr(97 + i)}", url, tmp_path, prefix, env=dict(env or {})) for i in range(count)]
    local = None
    try:
        await asyncio.gather(*(n.start(wait=False) for n in nodes))
        await asyncio.gather(*(n.ready() for n in nodes))
        local = Platform(Settings(database_url=url, roles=["CPO"], admin_token="x", redis_url=None))
        await local.start()
        yield nodes, local
    finally:
        for n in nodes:
            n.kill()
        for n in nodes:
            if n.proc is not None:
                await n.proc.wait()
        if local is not None:
            await local.close()
        await drop_database(url)


async def seed(local: Platform, chargers: dict[str, dict[int, str]], *, emsp: RecordingEmsp | None = None) -> None:
    assert await load_demo(local)
    for charger_id, evses in chargers.items():
        await local.chargers.add(charger_id, password=PASSWORD, location_id="EVR-GENT-1", evses=evses)
    if emsp is not None:
        store = local.store
        async with store.begin() as conn:
            partner = await store.partners.create(conn, "recording-emsp", status=PartnerStatus.REGISTERED)
            await store.partners.update(conn, partner.pk, token="emsp-token-c", outgoing_token="to-emsp",
                                        outgoing_encoding="base64", version="2.2.1", endpoints=emsp.endpoints(),
                                        roles=[{"role": "EMSP", "country_code": "DE", "party_id": "MSP",
                                                "business_details": {"name": "recording eMSP"}}])
            await store.tokens.put(conn, "DE", "MSP", EMSP_TOKEN, "RFID", {
                "country_code": "DE", "party_id": "MSP", "uid": EMSP_TOKEN, "type": "RFID",
                "contract_id": "DE-MSP-C12345-6", "issuer": "MSP", "valid": True, "whitelist": "ALWAYS",
                "last_updated": "2026-01-01T00:00:00Z"}, parse_datetime("2026-01-01T00:00:00Z"))
        local.bus.publish("partner.registered", partner_pk=partner.pk)
        await local.change_feed.flush()


async def test_nodes_starting_together_migrate_an_empty_database_once(tmp_path):
    async with platform(tmp_path, 3) as (nodes, local):
        async with local.store.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert len(versions) == 1
        health = [await n.health() for n in nodes]
        assert [h["status"] for h in health] == ["ok", "ok", "ok"]
        # every node names itself and sees the others
        names = {h["node"] for h in health}
        assert len(names) == 3 and all(h["node"].startswith(n.name) for h, n in zip(health, nodes, strict=True))
        await wait_for(lambda: _sees_all(nodes, names), timeout=15)
        # work that runs once per platform runs on exactly one node
        running = [name for h in health for name, on in h["singletons"].items() if on]
        assert sorted(running) == sorted(set(running))
        for node in nodes:
            assert "Traceback" not in node.log()


async def _sees_all(nodes, names) -> bool:
    for node in nodes:
        if set((await node.health())["nodes"]) != names:
            return False
    return True


async def test_a_command_sent_to_the_other_node_reaches_the_charger(tmp_path):
    async with platform(tmp_path) as (nodes, local):
        await seed(local, {"CP-1": {1: "EVR-GENT-1-E1"}})
        a, b = nodes
        async with charger16(f"ws://127.0.0.1:{a.ocpp_port}/ocpp/", "CP-1", PASSWORD) as cp:
            await wait_for(lambda: _connected_on(b, "CP-1"), timeout=10)
            reply = await b.admin("POST", "/chargers/CP-1/reset", json={"hard": True})
            assert reply.status_code == 200, reply.text
            assert reply.json()["answer"] == {"status": "Accepted"} and reply.json()["action"] == "Reset"
            assert ("Reset", {"type": "Hard"}) in cp.received
            cp.answers["Reset"] = "Rejected"
            reply = await b.admin("POST", "/chargers/CP-1/reset", json={"hard": False})
            assert reply.json()["answer"] == {"status": "Rejected"}
        # the charger is gone: node b says so clearly
        await wait_for(lambda: _not_connected_on(b, "CP-1"), timeout=15)
        reply = await b.admin("POST", "/chargers/CP-1/reset", json={"hard": True})
        assert reply.status_code == 409 and "not connected" in reply.json()["detail"]


async def _connected_on(node: Node, charger_id: str) -> bool:
    reply = await node.admin("GET", "/chargers")
    return any(c["id"] == charger_id and c["connected"] for c in reply.json())


async def _not_connected_on(node: Node, charger_id: str) -> bool:
    return not await _connected_on(node, charger_id)


async def test_every_outbox_row_is_delivered_once_by_the_nodes_together(tmp_path):
    emsp = await RecordingEmsp().start()
    try:
        async with platform(tmp_path) as (nodes, local):
            await seed(local, {}, emsp=emsp)
            tariffs = [{"country_code": "NL", "party_id": "EVR", "id": f"T{i:03}", "currency": "EUR",
                        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30 + i / 1000,
                                                            "step_size": 1}]}],
                        "last_updated": "2026-01-01T00:00:00Z"} for i in range(120)]
            await local.tariffs.import_tariffs(tariffs)
            await local.change_feed.flush()

            async def all_delivered():
                async with local.store.connect() as conn:
                    rows = (await conn.execute(text(
                        "SELECT status, claimed_by FROM outbox WHERE module = 'tariffs'"))).all()
                return rows if rows and all(r.status == "delivered" for r in rows) else None

            rows = await wait_for(all_delivered, timeout=60)
            puts = emsp.of("PUT", "/tariffs/")
            assert len(rows) == 120
            assert sorted(p[1] for p in puts) == sorted(set(p[1] for p in puts))  # none twice
            assert len(puts) == len(rows)
            delivered_by = {r.claimed_by.rsplit("-", 2)[0] for r in rows}
            assert delivered_by and delivered_by <= {"node-a", "node-b"}
    finally:
        await emsp.stop()
