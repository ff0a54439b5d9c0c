"""The back office's pages with real data: every page of the web UI timed on a database holding
10,000 chargers (2,500 locations of 8 EVSEs), 1,000,000 sessions over a year (each with its
OCPP transaction, OCPI Session, CDR and statistics row) and their meter values (six readings a
session: a year of them), 500 sessions running, a million OCPP log entries over 90 days, 10,000
drivers, charger connections and faults, partners with waiting pushes, 100 load-managed sites.

Each page is requested through the application itself (ASGI, no network: the time is the
server's), once to warm up and then `--requests` times; the median and the slowest are
reported; a page meets the target when its median is under 300 ms (the slowest request says how
much a busy machine adds). The baseline, measured in the same run, is every page on the demo
data (3 locations, no history): what the page costs without the data.

    .venv/bin/python bench/back_office.py                       # SQLite in a temporary folder
    .venv/bin/python bench/back_office.py --scale 0.01          # a quick run (1 % of the data)
    .venv/bin/python bench/back_office.py --keep /tmp/bo        # keep (and reuse) the seeded SQLite file
    .venv/bin/python bench/back_office.py --db postgresql+asyncpg://postgres@127.0.0.1/postgres
        (a temporary database on that server; the role needs CREATEDB; --keep-database keeps it)

Options: --requests N (5), --json FILE, --check (exit status 3 when a page misses the target)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url

from evroam.app import Platform, create_app
from evroam.demo import load_demo
from evroam.model.drivers import parse_emaid
from evroam.settings import Settings
from evroam.store.bulk import sqlite_datetime

TARGET_MS = 300.0
OWNER = ("NL", "EVR")
YEAR = timedelta(days=365)
STATUSES = ["AVAILABLE"] * 12 + ["CHARGING"] * 6 + ["OUTOFORDER", "UNKNOWN", "INOPERATIVE"]
ACTIONS = ["Heartbeat", "StatusNotification", "MeterValues", "MeterValues", "MeterValues", "Authorize"]


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Loader:
    """Rows in bulk: executemany on SQLite, COPY on PostgreSQL (naive UTC datetimes)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"

    async def rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        raw = (await self.conn.get_raw_connection()).driver_connection
        if self.sqlite:
            rows = [tuple(sqlite_datetime(v.replace(tzinfo=UTC)) if isinstance(v, datetime) else v for v in r)
                    for r in rows]
            await raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                  f"({', '.join('?' for _ in columns)})", rows)
        else:
            await raw.copy_records_to_table(table, records=rows, columns=list(columns))


def location(i: int, rng: random.Random, now: datetime) -> dict:
    lid = f"LOC-{i:05d}"
    evses = [{"uid": f"{lid}-E{e}", "evse_id": f"NL*EVR*E{i:05d}{e}", "status": rng.choice(STATUSES),
              "connectors": [{"id": "1", "standard": "IEC_62196_T2_COMBO" if e < 4 else "IEC_62196_T2",
                              "format": "CABLE" if e < 4 else "SOCKET", "power_type": "DC" if e < 4 else "AC_3_PHASE",
                              "max_voltage": 400, "max_amperage": 32, "tariff_ids": ["DC-1" if e < 4 else "AC-1"],
                              "last_updated": stamp(now)}],
              "last_updated": stamp(now)} for e in range(1, 9)]
    return {"country_code": "NL", "party_id": "EVR", "id": lid, "publish": True, "name": f"Station {i}",
            "address": f"Street {i}", "city": rng.choice(["Amsterdam", "Utrecht", "Gent", "Antwerpen", "Rotterdam"]),
            "postal_code": "1000", "country": "NLD",
            "coordinates": {"latitude": f"{50.8 + rng.random() * 2.6:.6f}", "longitude": f"{3.3 + rng.random() * 3.6:.6f}"},
            "time_zone": "Europe/Amsterdam", "evses": evses, "last_updated": stamp(now)}


async def seed(platform: Platform, scale: float, progress) -> dict:
    """The big database; returns ids the pages are asked for."""
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    store = platform.store
    n_locations = max(4, int(2500 * scale))
    n_chargers = n_locations * 4
    n_sessions = max(200, int(1_000_000 * scale))
    n_active = max(5, int(500 * scale))
    n_log = max(1000, int(1_000_000 * scale))
    n_drivers = max(20, int(10_000 * scale))
    charger_ids = [f"CP-{i:05d}" for i in range(n_chargers)]
    assert await load_demo(platform)  # the demo's tariffs (and its 3 locations)
    async with store.begin() as conn:
        load = Loader(conn)
        progress(f"{n_locations} locations, {n_chargers} chargers")
        await load.rows("locations", ("country_code", "party_id", "id", "data", "last_updated"),
                        [("NL", "EVR", f"LOC-{i:05d}", orjson.dumps(location(i, rng, now)).decode(), naive(now))
                         for i in range(n_locations)])
        chargers = []
        for i, cid in enumerate(charger_ids):
            loc, first = i // 4, (i % 4) * 2 + 1
            state = {"connectors": {"1/1": rng.choice(STATUSES), "2/1": rng.choice(STATUSES)}}
            chargers.append((cid, None, "ACCEPTED", f"LOC-{loc:05d}",
                             orjson.dumps({"1": f"LOC-{loc:05d}-E{first}", "2": f"LOC-{loc:05d}-E{first + 1}"}).decode(),
                             "1.6", orjson.dumps({"vendor": "Acme", "model": "DC-150"}).decode(),
                             orjson.dumps(state).decode(), naive(now - timedelta(minutes=rng.random() * 600)),
                             naive(now - YEAR - timedelta(days=30)), naive(now)))
        await load.rows("chargers", ("id", "password_hash", "status", "location_id", "evses", "ocpp_version", "boot",
                                     "state", "last_seen_at", "created_at", "updated_at"), chargers)
    batch = 50_000
    first_pk = None
    active_ids: list[str] = []
    done_ids: list[str] = []
    for start in range(0, n_sessions, batch):
        progress(f"sessions {start:,}-{min(n_sessions, start + batch):,} of {n_sessions:,}")
        txs, sessions, cdrs, facts, meters = [], [], [], [], []
        for k in range(start, min(n_sessions, start + batch)):
            pk = k + 1
            active = k >= n_sessions - n_active
            cid = charger_ids[rng.randrange(n_chargers)]
            evse = rng.randint(1, 2)
            loc = int(cid[3:]) // 4
            if active:
                began = now - timedelta(minutes=rng.random() * 60)
            else:
                began = now - YEAR + YEAR * (k / n_sessions) + timedelta(seconds=rng.random() * 600)
            minutes = 20 + rng.random() * 100
            ended = began + timedelta(minutes=minutes)
            kwh = round(rng.random() * 40 + 2, 3)
            sid = f"{pk:08x}{secrets.token_hex(12)}"
            cost = round(0.5 + kwh * 0.25, 2)
            emsp = rng.choice([("NL", "EVR"), ("DE", "MSP"), ("FR", "OTH"), ("BE", "ALL")])
            token = {"country_code": emsp[0], "party_id": emsp[1], "uid": f"TAG{k % 50000:06d}", "type": "RFID",
                     "contract_id": f"{emsp[0]}-{emsp[1]}-C{k % 50000:08d}"}
            period = [{"start_date_time": stamp(began), "tariff_id": "DC-1",
                       "dimensions": [{"type": "ENERGY", "volume": kwh}]}]
            session = {"country_code": "NL", "party_id": "EVR", "id": sid, "start_date_time": stamp(began), "kwh": kwh,
                       "cdr_token": token, "auth_method": "WHITELIST", "location_id": f"LOC-{loc:05d}",
                       "evse_uid": f"LOC-{loc:05d}-E{evse}", "connector_id": "1", "currency": "EUR",
                       "charging_periods": period, "total_cost": {"excl_vat": cost, "incl_vat": round(cost * 1.1, 2)},
                       "status": "ACTIVE" if active else "COMPLETED", "last_updated": stamp(ended)}
            if not active:
                session["end_date_time"] = stamp(ended)
            txs.append((pk, cid, str(pk), None, evse, 1, token["uid"], sid, "ACTIVE" if active else "COMPLETED",
                        naive(began), None if active else naive(ended), 0.0, None if active else kwh * 1000,
                        "{}", naive(began), naive(ended)))
            sessions.append(("NL", "EVR", sid, orjson.dumps(session).decode(), naive(ended), emsp[0], emsp[1]))
            (active_ids if active else done_ids).append(sid)
            for step in (1, 2, 3):
                at = naive(began + timedelta(minutes=minutes * step / 3 if not active else step * 3))
                meters.append((pk, at, "Energy.Active.Import.Register", "", "Sample.Periodic", kwh * 1000 * step / 3))
                meters.append((pk, at, "Power.Active.Import", "", "Sample.Periodic", 11000.0 + step * 500))
            if active:
                continue
            cdr = {"country_code": "NL", "party_id": "EVR", "id": sid, "start_date_time": stamp(began),
                   "end_date_time": stamp(ended), "session_id": sid, "cdr_token": token, "auth_method": "WHITELIST",
                   "cdr_location": {"id": f"LOC-{loc:05d}", "name": f"Station {loc}", "address": f"Street {loc}",
                                    "city": "Amsterdam", "country": "NLD",
                                    "coordinates": {"latitude": "52.0", "longitude": "5.0"},
                                    "evse_uid": f"LOC-{loc:05d}-E{evse}", "evse_id": f"NL*EVR*E{loc:05d}{evse}",
                                    "connector_id": "1", "connector_standard": "IEC_62196_T2_COMBO",
                                    "connector_format": "CABLE", "connector_power_type": "DC"},
                   "currency": "EUR", "charging_periods": period, "total_energy": kwh,
                   "total_cost": {"excl_vat": cost, "incl_vat": round(cost * 1.1, 2)}, "total_time": minutes / 60,
                   "last_updated": stamp(ended)}
            cdrs.append(("NL", "EVR", sid, orjson.dumps(cdr).decode(), naive(ended), emsp[0], emsp[1]))
            local = began.astimezone(platform.statistics.zone)
            facts.append((sid, cid, evse, f"LOC-{loc:05d}", emsp[0], emsp[1], naive(began), naive(ended),
                          local.date().isoformat(), local.weekday() * 24 + local.hour, minutes * 60, kwh,
                          int(cost * 10000), int(round(cost * 1.1, 2) * 10000), "EUR"))
        first_pk = first_pk or 1
        async with store.begin() as conn:
            load = Loader(conn)
            await load.rows("ocpp_transactions", ("pk", "charger_id", "transaction_id", "start_key", "evse_number",
                                                  "connector_number", "id_tag", "session_id", "status", "started_at",
                                                  "stopped_at", "meter_start_wh", "meter_stop_wh", "state",
                                                  "created_at", "updated_at"), txs)
            record = ("country_code", "party_id", "id", "data", "last_updated", "emsp_country_code", "emsp_party_id")
            await load.rows("sessions", record, sessions)
            await load.rows("cdrs", record, cdrs)
            await load.rows("session_facts", ("session_id", "charger_id", "evse_number", "location_id",
                                              "emsp_country_code", "emsp_party_id", "started_at", "ended_at", "day",
                                              "hour_of_week", "seconds", "kwh", "cost_excl_vat", "cost_incl_vat",
                                              "currency"), facts)
            await load.rows("ocpp_meter_values", ("transaction_pk", "timestamp", "measurand", "phase", "context",
                                                  "value"), meters)
    progress(f"{n_log:,} OCPP log entries, drivers, connections, faults, partners, sites, audit")
    for start in range(0, n_log, batch):
        rows = []
        for k in range(start, min(n_log, start + batch)):
            at = naive(now - timedelta(days=90) + timedelta(days=90) * (k / n_log))
            action = ACTIONS[k % len(ACTIONS)]
            cid = charger_ids[rng.randrange(n_chargers)]
            rows.append((cid, at, "in", 2, f"m{k}", action,
                         orjson.dumps([2, f"m{k}", action, {"connectorId": 1, "status": "Available"}]).decode()))
        async with store.begin() as conn:
            await Loader(conn).rows("ocpp_log", ("charger_id", "at", "direction", "message_type", "unique_id", "action",
                                                 "frame"), rows)
    async with store.begin() as conn:
        load = Loader(conn)
        await load.rows("drivers", ("id", "name", "email", "status", "contract_id", "allowed_cpos", "created_at",
                                    "updated_at"),
                        [(f"DRV{i:07d}", f"Driver {i:05d}", f"driver{i}@example.com", "ACTIVE",
                          parse_emaid(f"NLEVRC{i:08d}").compact, "[]", naive(now), naive(now)) for i in range(n_drivers)])
        connections, faults = [], []
        for cid in charger_ids:
            at = now - YEAR
            while at < now:
                up = timedelta(days=20 + rng.random() * 20)
                ends = at + up
                connections.append((cid, "node-1", naive(at), None if ends >= now else naive(ends)))
                at = ends + timedelta(minutes=rng.random() * 30)
        for _ in range(max(100, int(20_000 * scale))):
            cid = charger_ids[rng.randrange(n_chargers)]
            faults.append((naive(now - YEAR * rng.random()), cid, f"LOC-{int(cid[3:]) // 4:05d}",
                           f"LOC-{int(cid[3:]) // 4:05d}-E1", "OUTOFORDER"))
        await load.rows("charger_connections", ("charger_id", "node", "connected_at", "disconnected_at"), connections)
        await load.rows("charger_faults", ("at", "charger_id", "location_id", "evse_uid", "status"),
                        sorted(faults))
        await load.rows("audit_log", ("at", "actor", "role", "action", "target", "detail", "ok", "outcome", "address"),
                        [(naive(now - YEAR * (1 - k / 50_000)), "olly", "operator", "charger.reset",
                          charger_ids[k % n_chargers], "{}", True, "answer: Accepted", "127.0.0.1")
                         for k in range(max(100, int(50_000 * scale)))])
    for i, (cc, pid) in enumerate([("DE", "MSP"), ("FR", "OTH"), ("BE", "ALL")]):
        async with store.begin() as conn:
            from evroam.model.partners import PartnerStatus

            partner = await store.partners.create(conn, f"partner-{i}", status=PartnerStatus.REGISTERED)
            await store.partners.update(conn, partner.pk, token=f"token-{i}", outgoing_token=f"out-{i}",
                                        outgoing_encoding="base64", version="2.2.1",
                                        roles=[{"role": "EMSP", "country_code": cc, "party_id": pid,
                                                "business_details": {"name": f"partner {i}"}}])
            created = naive(now - timedelta(minutes=30))
            await Loader(conn).rows("outbox", ("partner_pk", "module", "object_key", "method", "path", "body", "status",
                                               "attempts", "next_attempt_at", "created_at"),
                                    [(partner.pk, "sessions", f"s{k}", "PATCH", f"/NL/EVR/s{k}", "{}", "pending", 1,
                                      created, created) for k in range(max(10, int(2000 * scale)))])
    async with store.begin() as conn:
        await store.statistics.rebuild_sums(conn)  # (the facts were loaded in bulk)
    sites = [f"LOC-{i:05d}" for i in range(min(100, n_locations))]
    for site in sites:
        await platform.sites.set_site(site, capacity_kw=150.0)
    await platform.users.add("bench", "operator", "bench-password-1")
    async with store.connect() as conn:
        mid_tx = (await conn.execute(text("SELECT max(pk) FROM ocpp_transactions"))).scalar_one() // 2
        mid_cdr = (await conn.execute(text("SELECT max(pk) FROM cdrs"))).scalar_one() // 2
        mid_log = (await conn.execute(text("SELECT max(pk) FROM ocpp_log"))).scalar_one() - 50_000
    return {"active": active_ids[-1], "done": done_ids[len(done_ids) // 2],
            "charger": charger_ids[min(42, n_chargers - 1)], "site": sites[0],
            "driver": f"DRV{min(42, n_drivers - 1):07d}", "mid_tx": mid_tx, "mid_cdr": mid_cdr, "mid_log": max(1, mid_log),
            "scale": scale}


async def small(platform: Platform) -> dict:
    """The baseline: the demo data and an operator, nothing else."""
    assert await load_demo(platform)
    await platform.chargers.add("CP-00042", password="charger-pass-1", location_id="EVR-GENT-1",
                                evses={1: "EVR-GENT-1-E1"})
    await platform.sites.set_site("EVR-GENT-1", capacity_kw=50.0)
    await platform.drivers.add("Driver 42")
    await platform.users.add("bench", "operator", "bench-password-1")
    driver = (await platform.drivers.list())[0].id
    return {"active": None, "done": None, "charger": "CP-00042", "site": "EVR-GENT-1", "driver": driver,
            "mid_tx": 1, "mid_cdr": 1, "mid_log": 1, "scale": 0}


def pages(ids: dict) -> list[tuple[str, str]]:
    out = [("Overview", "/"), ("Map", "/map"), ("Chargers", "/chargers"), ("Chargers, searched", "/chargers?q=CP-0004"),
           ("a charger", f"/chargers/{ids['charger']}"), ("Sessions, active", "/sessions"),
           ("Sessions, past", "/sessions?state=past"),
           ("Sessions, past, deep page", f"/sessions?state=past&before={ids['mid_tx']}"),
           ("Sessions of a charger", f"/sessions?state=all&charger={ids['charger']}"),
           ("CDRs", "/cdrs"), ("CDRs, deep page", f"/cdrs?before={ids['mid_cdr']}"),
           ("Tariffs", "/tariffs"), ("a tariff", "/tariffs/DC-1"),
           ("tariff preview", "/tariffs/DC-1/preview?kwh=20&minutes=60&start=2024-05-06T18:00&time_zone=Europe/Amsterdam"),
           ("Partners", "/partners"), ("Sites", "/sites"), ("a site", f"/sites/{ids['site']}"),
           ("Drivers", "/drivers"), ("a driver", f"/drivers/{ids['driver']}"),
           ("Statistics, 3 months", "/statistics"), ("Statistics, 7 days", "/statistics?period=7d"),
           ("Statistics, 12 months", "/statistics?period=12m"),
           ("download: chargers CSV, 12 months", "/statistics/chargers.csv?period=12m"),
           ("Log, last day", "/log"), ("Log of a charger", f"/log?charger={ids['charger']}"),
           ("Log, one action, last day", "/log?action=StatusNotification"),
           ("Log, deep page", f"/log?before={ids['mid_log']}&since=2000-01-01T00:00:00Z"), ("Audit log", "/audit")]
    if ids["active"]:
        out.append(("a running session", f"/sessions/{ids['active']}"))
    if ids["done"]:
        out += [("a past session", f"/sessions/{ids['done']}"), ("a CDR explained", f"/cdrs/NL/EVR/{ids['done']}")]
    return out


async def measure(platform: Platform, ids: dict, requests: int) -> dict[str, dict]:
    app = create_app(platform, run_workers=False)
    results = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as c:
        page = await c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert (await c.post("/login", data={"csrf": token, "username": "bench",
                                             "password": "bench-password-1"})).status_code == 303
        for name, path in pages(ids):
            reply = await c.get(path)  # warm-up (and the check that the page works)
            if reply.status_code != 200:
                raise SystemExit(f"{name} {path}: {reply.status_code} {reply.text[:500]}")
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                reply = await c.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert reply.status_code == 200
            results[name] = {"path": path, "median_ms": statistics.median(times), "max_ms": max(times),
                             "bytes": len(reply.content)}
    return results


async def settle(platform: Platform) -> None:
    if platform.store.dialect == "postgresql":
        async with platform.store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with platform.store.begin() as conn:
            await conn.execute(text("ANALYZE"))


async def run_on(url: str, build, requests: int, progress, *, seeded: bool = False) -> tuple[dict, dict]:
    platform = Platform(Settings(database_url=url, admin_token="bench", roles=["CPO", "EMSP"], log_level="WARNING"))
    try:
        await platform.start()
        if seeded:
            async with platform.store.connect() as conn:
                ids = orjson.loads((await conn.execute(text("SELECT data FROM changes WHERE topic = 'bench.ids'")))
                                   .scalar_one())
        else:
            t0 = time.perf_counter()
            ids = await build(platform)
            async with platform.store.begin() as conn:
                await conn.execute(text("INSERT INTO changes (topic, data, origin, created_at) VALUES "
                                        "('bench.ids', :data, 'bench', :at)"),
                                   {"data": orjson.dumps(ids).decode(), "at": datetime.now(UTC).replace(tzinfo=None)})
            await settle(platform)
            progress(f"seeded in {time.perf_counter() - t0:.0f} s")
        return ids, await measure(platform, ids, requests)
    finally:
        await platform.close()


def temporary_pg(url: str, keep: bool):
    from contextlib import contextmanager

    import asyncpg

    parsed = make_url(url)
    name = f"evroam_bench_bo_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
                                     password=parsed.password, database=parsed.database or "postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    @contextmanager
    def made():
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            if not keep:
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return made()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="PostgreSQL server URL (a temporary database is made there); default SQLite")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the data (1.0: 10,000 chargers, 1M sessions)")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--keep", help="SQLite: folder of the seeded database, kept and reused")
    parser.add_argument("--keep-database", action="store_true", help="PostgreSQL: keep the temporary database")
    parser.add_argument("--json", help="write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit status 3 when a page misses the target")
    args = parser.parse_args()

    def progress(message: str) -> None:
        print(f"  .. {message}", file=sys.stderr, flush=True)

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="evroam-bench-bo-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)  # (the admin token file and the like stay in the folder)
    base = asyncio.run(run_on(f"sqlite+aiosqlite:///{folder / 'baseline.db'}", small, args.requests, progress))[1]
    (folder / "baseline.db").unlink(missing_ok=True)

    def build(platform):
        return seed(platform, args.scale, progress)

    if args.db:
        with temporary_pg(args.db, args.keep_database) as url:
            ids, full = asyncio.run(run_on(url, build, args.requests, progress))
        database = "PostgreSQL"
    else:
        path = folder / f"back-office-{args.scale:g}.db"
        seeded = path.exists()
        ids, full = asyncio.run(run_on(f"sqlite+aiosqlite:///{path}", build, args.requests, progress, seeded=seeded))
        database = "SQLite"
        if not args.keep:
            for leftover in folder.glob("back-office-*"):
                leftover.unlink()
    print(f"\nback office pages, {database}, scale {args.scale:g} (1: 10,000 chargers, 1,000,000 sessions), "
          f"{args.requests} requests each; target {TARGET_MS:.0f} ms")
    print(f"{'page':<38} {'baseline ms':>12} {'median ms':>10} {'max ms':>8} {'KB':>7}")
    missed = []
    for name, r in full.items():
        b = base.get(name, {}).get("median_ms")
        print(f"{name:<38} {b if b is not None else float('nan'):>12.1f} {r['median_ms']:>10.1f} {r['max_ms']:>8.1f} "
              f"{r['bytes'] / 1024:>7.1f}")
        if r["median_ms"] > TARGET_MS and not name.startswith("download:"):  # (a file, not a page)
            missed.append(name)
    print("PASS: every page under the target" if not missed else f"FAIL: over {TARGET_MS:.0f} ms: {', '.join(missed)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"database": database, "scale": args.scale, "baseline": base,
                                               "results": full, "missed": missed}, indent=2))
    return 3 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
