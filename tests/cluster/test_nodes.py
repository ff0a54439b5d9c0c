"""Several `evroam serve` processes on one PostgreSQL database and one Redis are one platform:
they migrate an empty database once, a command sent to any node reaches the charger wherever
its connection is, every outbox row is delivered once, a charger that reconnects to another
node keeps one live connection and continues its transaction there after a kill -9, and load
management keeps a site under its limit across nodes."""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager

import orjson
import pytest
from nodes import Node, RecordingEmsp, TcpProxy, drop_database, fresh_database
from ocpp.v16 import call
from ocpp_chargers import ReconnectingCharger, charger16, iso
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


async def test_a_charger_connecting_to_another_node_keeps_only_its_newest_connection(tmp_path):
    async with platform(tmp_path) as (nodes, local):
        await seed(local, {"CP-1": {1: "EVR-GENT-1-E1"}})
        a, b = nodes
        async with charger16(f"ws://127.0.0.1:{a.ocpp_port}/ocpp/", "CP-1", PASSWORD) as old:
            async with charger16(f"ws://127.0.0.1:{b.ocpp_port}/ocpp/", "CP-1", PASSWORD) as new:
                # node a closes the older connection; the charger is not offline (it moved)
                await wait_for(lambda: old._connection.close_code is not None, timeout=10)
                assert old._connection.close_code == 1000
                assert "connected to node" in (old._connection.close_reason or "")
                reply = await a.admin("POST", "/chargers/CP-1/reset", json={"hard": False})
                assert reply.status_code == 200 and ("Reset", {"type": "Soft"}) in new.received
                async with local.store.connect() as conn:
                    statuses = (await conn.execute(text("SELECT data FROM locations"))).scalars().all()
                assert "UNKNOWN" not in "".join(statuses)  # never shown offline while it moved


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


async def test_a_charger_continues_its_transaction_on_another_node_after_a_kill(tmp_path):
    """kill -9 of the node holding a charger mid-session: the charger reconnects through the load
    balancer to the other node, its transaction completes there, every meter value that was
    answered is stored, and the CDR is sent once."""
    emsp = await RecordingEmsp().start()
    proxy = None
    charger = None
    try:
        async with platform(tmp_path) as (nodes, local):
            a, b = nodes
            await seed(local, {"CP-1": {1: "EVR-GENT-1-E1"}}, emsp=emsp)
            proxy = await TcpProxy([a.ocpp_port, b.ocpp_port]).start()  # a first, while it lives
            charger = await ReconnectingCharger(f"ws://127.0.0.1:{proxy.port}/ocpp/", "CP-1", PASSWORD).start()
            await charger.send(call.BootNotification(charge_point_model="AC", charge_point_vendor="Acme"))
            # 6 kW for 11 minutes, a reading a minute (100 Wh each)
            started = await charger.send(call.StartTransaction(connector_id=1, id_tag=EMSP_TOKEN, meter_start=0,
                                                               timestamp=iso(past_seconds(660))))
            assert started.id_tag_info["status"] == "Accepted"
            tx = started.transaction_id
            answered = 0
            for i in range(1, 6):
                await charger.send(meter(tx, 100 * i, past_seconds(660 - 60 * i)))
                answered += 1
            assert proxy.routed == [a.ocpp_port]
            a.kill()  # no goodbye: its presence and leases expire
            killed_at = asyncio.get_running_loop().time()
            taken_over = asyncio.create_task(wait_for(lambda: _runs_everything(b), timeout=20, interval=0.1))
            for i in range(6, 11):
                await charger.send(meter(tx, 100 * i, past_seconds(660 - 60 * i)))
                answered += 1
            assert charger.connections >= 2 and proxy.routed[-1] == b.ocpp_port
            stopped = await charger.send(call.StopTransaction(meter_stop=1100, timestamp=iso(past_seconds(0)),
                                                              transaction_id=tx, reason="Local"))
            assert stopped.id_tag_info is None or stopped.id_tag_info["status"] == "Accepted"

            await wait_for(lambda: emsp.of("POST", "/cdrs"), timeout=60)
            await asyncio.sleep(2)  # a second delivery, were there one, would come now
            cdrs = emsp.of("POST", "/cdrs")
            assert len(cdrs) == 1
            cdr = orjson.loads(cdrs[0][2])
            assert cdr["total_energy"] == 1.1
            async with local.store.connect() as conn:
                sessions = (await conn.execute(text("SELECT session_id, status FROM ocpp_transactions"))).all()
                stored = (await conn.execute(text("SELECT count(*) FROM sessions"))).scalar_one()
                readings = (await conn.execute(text(
                    "SELECT count(*) FROM ocpp_meter_values v JOIN ocpp_transactions t ON t.pk = v.transaction_pk "
                    "WHERE t.transaction_id = :tx"), {"tx": str(tx)})).scalar_one()
            # one transaction and one session, no duplicate
            assert len(sessions) == 1 and sessions[0].status == "COMPLETED" and stored == 1
            assert readings >= answered  # every meter value answered is stored (+ start and stop)
            assert "Traceback" not in b.log()
            # the work that ran once per platform on the dead node moved to the survivor
            moved_at = await taken_over
            print(f"singleton work moved {moved_at - killed_at:.1f} s after the kill")
            assert moved_at - killed_at < 10
    finally:
        if charger is not None:
            await charger.stop()
        if proxy is not None:
            await proxy.stop()
        await emsp.stop()


async def _runs_everything(node: Node) -> float | None:
    """When the node runs every singleton: the time it was seen doing so."""
    if all((await node.health())["singletons"].values()):
        return asyncio.get_running_loop().time()
    return None


async def test_three_chargers_on_two_nodes_never_exceed_the_site_limit(tmp_path):
    """A 22 kW site, three chargers split over the two nodes: load management runs on one node
    and reaches every charger; the sum of the limits in force is above 22 kW for at most 5 s."""
    env = {"EVROAM_LOAD_REPLAN_SECONDS": "30"}
    chargers = []
    try:
        async with platform(tmp_path, env=env) as (nodes, local):
            a, b = nodes
            await seed(local, {})
            await _third_ac_evse(local)
            for cid, uid in (("CP-1", "EVR-GENT-1-E1"), ("CP-2", "EVR-GENT-1-E2"), ("CP-3", "EVR-GENT-1-E4")):
                await local.chargers.add(cid, password=PASSWORD, location_id="EVR-GENT-1", evses={1: uid})
                await local.tokens.add_own({"uid": f"TAG-{cid}", "whitelist": "ALWAYS"})
            await local.sites.set_site("EVR-GENT-1", capacity_kw=22.0)
            await local.change_feed.flush()
            where = {"CP-1": a, "CP-2": b, "CP-3": a}
            for cid, node in where.items():
                chargers.append(await ReconnectingCharger(f"ws://127.0.0.1:{node.ocpp_port}/ocpp/", cid,
                                                          PASSWORD).start())
            for cp in chargers:
                await cp.send(call.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
            started: dict[str, float] = {}
            for cp in chargers:  # one car after the other
                answer = await cp.send(call.StartTransaction(connector_id=1, id_tag=f"TAG-{cp.charger_id}",
                                                             meter_start=0, timestamp=iso(past_seconds(0))))
                assert answer.id_tag_info["status"] == "Accepted"
                started[cp.charger_id] = asyncio.get_running_loop().time()
                await asyncio.sleep(1.0)
            await wait_for(lambda: all(_limit(cp) is not None for cp in chargers), timeout=20)
            await wait_for(lambda: abs(sum(_limit(cp) for cp in chargers) - 31.8) < 0.5, timeout=20)
            assert sum(_limit(cp) for cp in chargers) <= SITE_A
            over = _time_over(chargers, started, SITE_A, asyncio.get_running_loop().time())
            print(f"above the site limit for {over:.2f} s")
            assert over <= 5.0
    finally:
        for cp in chargers:
            await cp.stop()


SITE_A = 22_000 / (3 * 230)  # 31.88 A per phase


def _limit(cp: ReconnectingCharger) -> float | None:
    found = cp.cp.tx_limits.get(1) if cp.cp is not None else None
    return found[1] if found else None


def _time_over(chargers, started: dict[str, float], limit_a: float, now: float) -> float:
    """Seconds during which the chargers could draw more than `limit_a` in all: each session at the
    TxProfile limit its charger applied, and at its EVSE's full 32 A from its start until its
    first profile (a car draws what it can until it is limited)."""
    events: list[tuple[float, str, float | None]] = []  # (when, charger, its limit from then on)
    for cp in chargers:
        events.append((started[cp.charger_id], cp.charger_id, 32.0))
        for t, action, payload in cp.profile_log:
            profile = payload.get("cs_charging_profiles") or {}
            if action == "SetChargingProfile" and profile.get("charging_profile_purpose") == "TxProfile":
                events.append((t, cp.charger_id,
                               float(profile["charging_schedule"]["charging_schedule_period"][0]["limit"])))
    in_force: dict[str, float] = {}
    over_since, total = None, 0.0
    for t, charger_id, limit in sorted(events):
        in_force[charger_id] = limit
        level = sum(in_force.values())
        if level > limit_a + 1e-6 and over_since is None:
            over_since = t
        elif level <= limit_a + 1e-6 and over_since is not None:
            total += t - over_since
            over_since = None
    if over_since is not None:
        total += now - over_since
    return total


async def _third_ac_evse(local: Platform) -> None:
    import copy

    from evroam.demo import demo_objects

    locations, _ = demo_objects()
    gent = copy.deepcopy(next(loc for loc in locations if loc["id"] == "EVR-GENT-1"))
    e4 = copy.deepcopy(next(e for e in gent["evses"] if e["uid"] == "EVR-GENT-1-E2"))
    e4["uid"], e4["evse_id"] = "EVR-GENT-1-E4", "BE*EVR*E4"
    gent["evses"].append(e4)
    await local.locations.import_locations(gent, as_own=True)


def past_seconds(seconds: float):
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(seconds=seconds)).replace(microsecond=0)


def meter(tx: int, wh: int, at) -> call.MeterValues:
    return call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{"timestamp": iso(at), "sampled_value": [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "6000", "measurand": "Power.Active.Import", "unit": "W"}]}])


async def test_serve_workers_runs_nodes_sharing_the_ports(tmp_path):
    import os
    import signal
    import sys

    import httpx

    url = await fresh_database()
    node = Node("workers", url, tmp_path, f"evroam-workers-{secrets.token_hex(4)}")
    env = {**os.environ, "EVROAM_REDIS_URL": redis_url(), "EVROAM_REDIS_PREFIX": node.prefix,
           "EVROAM_NODE_NAME": "box", "EVROAM_ADMIN_TOKEN": "x"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evroam", "serve", "--db", url, "--http-port", str(node.http_port), "--ocpp-port",
        str(node.ocpp_port), "--workers", "2", "--demo-data", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async def both_nodes():
            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    health = (await http.get(f"{node.url}/health")).json()
            except httpx.HTTPError:
                return None
            return health if len(health["nodes"]) == 2 else None

        health = await wait_for(both_nodes, timeout=60, interval=0.3)
        assert sorted(n.split("-")[0] + "-" + n.split("-")[1] for n in health["nodes"]) == ["box-w0", "box-w1"]
        # connections to the shared port reach both nodes
        seen = set()
        for _ in range(40):
            async with httpx.AsyncClient(timeout=2) as http:
                seen.add((await http.get(f"{node.url}/health")).json()["node"])
        assert len(seen) == 2
        async with httpx.AsyncClient(timeout=5) as http:  # the demo data was loaded once
            locations = await http.get(f"{node.url}/admin/api/locations", headers={"Authorization": "Bearer x"})
        assert len(locations.json()) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
        await drop_database(url)
