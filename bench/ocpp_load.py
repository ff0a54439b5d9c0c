"""Benchmark: OCPP 1.6 MeterValues under load, and idle connections, on one `evroam serve`.

What it measures:

1. load: K chargers (default 1,000) connect to a real `evroam serve` process over WebSocket (HTTP
   Basic, subprotocol ocpp1.6), boot, start a transaction, then send MeterValues (2 sampled
   values each) back to back for S seconds, each charger waiting for the CALLRESULT of one before
   sending the next (closed loop). Messages/s, latency p50/p99 (CALL -> CALLRESULT), the server's
   CPU (share of one core) and RSS. Then the database is checked: every acknowledged MeterValues
   must be stored (meter value rows == acknowledged x samples).
   The idTag is one nobody knows, so the transactions have no Session.
   With --sessions, a second run ("sessions") whose idTag is one of our own tokens: every
   transaction has a Session, recomputed and pushed on a timer (session_push_interval 5 s).
2. bare: the same load against a minimal server on the bare `ocpp` library (bench/ocpp_bare_server.py:
   no persistence, no authentication), and the ratio evroam / bare.
3. idle: N chargers (default 10,000) connect, boot and send one Heartbeat, then stay connected;
   the server's RSS before and with them, per connection, and the time to connect them all.

The load generator (bench/ocpp_load_client.py: raw `websockets` clients, OCPP-J frames) runs in
its own process. The machine's cores are shared: the server is pinned to CPU 0 and the
generator to CPU 1 (when there are at least 2), so they do not compete for one core.

    .venv/bin/python bench/ocpp_load.py                       # 1,000 chargers, 10 s, 10,000 idle
    .venv/bin/python bench/ocpp_load.py --chargers 200 --seconds 5 --skip-idle
    .venv/bin/python bench/ocpp_load.py --idle 2000 --skip-bare --json result.json
    .venv/bin/python bench/ocpp_load.py --skip-idle --sessions     # also transactions with Sessions

The chargers' passwords are hashed with a small scrypt cost (n=2^6) so that 10,000 handshakes take
seconds: with the production cost (n=2^14) each first connection costs ~0.17 s of CPU. Everything
listens on 127.0.0.1; the processes and the temporary folder are removed at the end, whatever happens.

Targets: evroam / bare >= 1.0 with every meter value stored; 10,000 idle chargers on one process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent
PREFIX = "BENCH-"
PASSWORD = "bench-password"
DRIVER_TAG = "BENCH-DRIVER-TAG"  # one of our own tokens: its transactions get a Session
PUSH_INTERVAL = 5.0  # session_push_interval of the server: Sessions recomputed during the window
SAMPLES = 2
TARGET_RATIO = 1.0
TARGET_IDLE = 10_000
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cheap_hash(password: str) -> str:
    """The format of evroam.services.passwords.hash_password, with a small cost (see the docstring)."""
    n, r, p = 2**6, 8, 1
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def cpus() -> tuple[set[int] | None, int | None]:
    """(server CPUs, generator CPU): separate cores when there are two or more."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return {available[0]}, available[1]


# ------------------------------------------------------------------ /proc sampling


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------ setup


async def prepare_database(url: str, count: int) -> None:
    """Migrate, load the demo locations, register `count` chargers (one transaction), each mapped
    to one of the demo EVSEs, each with its own password."""
    from evroam.app import Platform
    from evroam.demo import load_demo
    from evroam.settings import Settings

    platform = Platform(Settings(database_url=url))
    try:
        await platform.start()
        await load_demo(platform)
        await platform.tokens.add_own({"uid": DRIVER_TAG, "whitelist": "ALWAYS"})
        s = platform.settings
        async with platform.store.connect() as conn:
            locations = await platform.store.locations.all(conn, owners=[(s.country_code, s.party_id)])
        evses = [(loc["id"], e["uid"]) for loc in locations for e in loc.get("evses") or []]
        async with platform.store.begin() as conn:
            for i in range(count):
                location_id, evse_uid = evses[i % len(evses)]
                await platform.store.chargers.create(conn, f"{PREFIX}{i:05d}", status="ACCEPTED",
                                                     password_hash=cheap_hash(PASSWORD), location_id=location_id,
                                                     evses={1: evse_uid})
    finally:
        await platform.close()


def _limits(server_cpus: set[int] | None, nofile: int):
    def apply() -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, nofile)), hard))
        if server_cpus:
            os.sched_setaffinity(0, server_cpus)
        os.setsid()  # its own process group: stopped with everything it started

    return apply


class Server:
    def __init__(self, argv: list[str], port: int, env: dict[str, str], server_cpus: set[int] | None,
                 nofile: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                     preexec_fn=_limits(server_cpus, nofile))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}): {log.read_text()[-2000:]}")
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not listen on {port}: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def evroam_server(db_url: str, tmp: Path, server_cpus, nofile: int, name: str) -> Server:
    port = free_port()
    env = {**os.environ, "EVROAM_DATABASE_URL": db_url, "EVROAM_LOG_LEVEL": "WARNING",
           "EVROAM_OCPP_HEARTBEAT_INTERVAL": "3600", "EVROAM_ROLES": "CPO",
           "EVROAM_SESSION_PUSH_INTERVAL": str(PUSH_INTERVAL)}
    argv = [sys.executable, "-c", "from evroam.cli import main; main()", "serve", "--host", HOST,
            "--http-port", str(free_port()), "--ocpp-port", str(port)]
    return Server(argv, port, env, server_cpus, nofile, tmp / f"{name}.log")


def bare_server(tmp: Path, server_cpus, nofile: int, uvloop: bool = False) -> Server:
    port = free_port()
    argv = [sys.executable, str(ROOT / "ocpp_bare_server.py"), "--host", HOST, "--port", str(port)]
    if uvloop:
        argv.append("--uvloop")
    return Server(argv, port, dict(os.environ), server_cpus, nofile, tmp / "bare.log")


def generator(url: str, chargers: int, mode: str, seconds: float, gen_cpu: int | None,
              id_tag: str | None = None) -> subprocess.Popen:
    argv = [sys.executable, str(ROOT / "ocpp_load_client.py"), "--url", url, "--prefix", PREFIX,
            "--chargers", str(chargers), "--password", PASSWORD, "--mode", mode, "--seconds", str(seconds),
            "--samples", str(SAMPLES)]
    if id_tag:
        argv += ["--id-tag", id_tag]
    if gen_cpu is not None:
        argv += ["--cpu", str(gen_cpu)]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)


def read_event(gen: subprocess.Popen, timeout: float) -> dict[str, Any]:
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(gen.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError("the load generator did not answer in time")
    line = gen.stdout.readline()
    if not line:
        raise RuntimeError(f"the load generator exited ({gen.wait()})")
    event = orjson.loads(line)
    if event.get("event") == "error":
        raise RuntimeError(f"load generator: {event['error']}")
    return event


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# ------------------------------------------------------------------ runs


def load_run(name: str, server: Server, chargers: int, seconds: float, gen_cpu: int | None,
             id_tag: str | None = None) -> dict[str, Any]:
    gen = generator(f"ws://{HOST}:{server.port}/ocpp/", chargers, "load", seconds, gen_cpu, id_tag)
    try:
        ready = read_event(gen, timeout=300)
        rss_before = rss_mb(server.proc.pid)
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        gen.stdin.write("go\n")
        gen.stdin.flush()
        rss_peak = rss_before
        done = None
        while done is None:
            try:
                done = read_event(gen, timeout=0.5)
            except TimeoutError:
                if time.monotonic() - t0 > seconds + 120:
                    raise
                rss_peak = max(rss_peak, rss_mb(server.proc.pid))
        cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        rss_peak = max(rss_peak, rss_mb(server.proc.pid))
        gen.wait(timeout=60)
    finally:
        stop_process(gen)
    if done.get("failed"):
        raise RuntimeError(f"{name}: {done['failed']} chargers failed: {done['first_error']}")
    return {"server": name, "chargers": chargers, "connect_seconds": ready["connect_seconds"],
            "acked": done["acked"], "seconds": done["seconds"], "msgs_per_s": done["acked"] / done["seconds"],
            "p50_ms": done["p50"] * 1000, "p99_ms": done["p99"] * 1000,
            "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0), "rss_mb": rss_peak,
            "cpu_ms_per_msg": 1000 * (cpu1 - cpu0) / done["acked"] if done["acked"] else None}


def idle_run(server: Server, chargers: int, gen_cpu: int | None, hold: float = 3.0) -> dict[str, Any]:
    time.sleep(0.5)
    rss_before = rss_mb(server.proc.pid)
    gen = generator(f"ws://{HOST}:{server.port}/ocpp/", chargers, "idle", 0, gen_cpu)
    try:
        ready = read_event(gen, timeout=600)
        cpu0 = cpu_seconds(server.proc.pid)
        time.sleep(hold)
        cpu_idle = 100 * (cpu_seconds(server.proc.pid) - cpu0) / hold
        rss_with = rss_mb(server.proc.pid)
        gen.stdin.write("go\n")
        gen.stdin.flush()
        read_event(gen, timeout=120)
        gen.wait(timeout=60)
    finally:
        stop_process(gen)
    connected = ready["connected"]
    return {"chargers": chargers, "connected": connected, "failed": ready["failed"],
            "first_error": ready.get("first_error"), "connect_seconds": ready["connect_seconds"],
            "rss_before_mb": rss_before, "rss_mb": rss_with,
            "kb_per_connection": (rss_with - rss_before) * 1024 / connected if connected else None,
            "idle_cpu_percent": cpu_idle}


def stored_readings(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM ocpp_meter_values").fetchone()[0]


def stored_sessions(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def evroam_load(name: str, db_path: Path, db_url: str, tmp: Path, server_cpus, nofile: int, chargers: int,
                seconds: float, gen_cpu: int | None, id_tag: str | None, servers: list) -> tuple[dict, dict]:
    """One load run on evroam; then every acknowledged meter value must be in the database."""
    before = stored_readings(db_path)
    server = evroam_server(db_url, tmp, server_cpus, nofile, name)
    servers.append(server)
    row = load_run(name, server, chargers, seconds, gen_cpu, id_tag)
    server.stop()
    stored = stored_readings(db_path) - before
    expected = row["acked"] * SAMPLES
    print(f"{name}: {stored} meter value rows for {row['acked']} acknowledged MeterValues x {SAMPLES} samples = "
          f"{expected}: {'all stored' if stored >= expected else 'MISSING ' + str(expected - stored)}")
    return row, {"rows": stored, "expected": expected, "ok": stored >= expected}


# ------------------------------------------------------------------ report


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'server':<8} {'chargers':>8} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU %':>6} {'CPU ms/msg':>10} "
            f"{'RSS MB':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['server']:<8} {r['chargers']:>8} {r['msgs_per_s']:>9.0f} {r['p50_ms']:>8.1f} "
                     f"{r['p99_ms']:>8.1f} {r['cpu_percent']:>6.0f} {r['cpu_ms_per_msg'] or 0:>10.2f} "
                     f"{r['rss_mb']:>7.0f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chargers", type=int, default=1000, help="chargers sending MeterValues (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load window (default 10)")
    parser.add_argument("--idle", type=int, default=TARGET_IDLE, help="idle connected chargers (default 10000)")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--bare-uvloop", action="store_true",
                        help="run the bare server on uvloop too (by default: the library's defaults, asyncio's loop)")
    parser.add_argument("--sessions", action="store_true",
                        help="also a run whose transactions have Sessions (an accepted idTag; session_push_interval "
                             f"{PUSH_INTERVAL:.0f} s)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    server_cpus, gen_cpu = cpus()
    total = max(args.chargers, 0 if args.skip_idle else args.idle)
    nofile = total * 2 + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, nofile)), hard))
    if hard < total + 256:
        print(f"warning: the hard limit of open files ({hard}) is below {total} connections")
    print(f"cores: {os.cpu_count()}; server on CPU {sorted(server_cpus) if server_cpus else 'any'}, "
          f"load generator on CPU {gen_cpu if gen_cpu is not None else 'any'}")

    tmp = Path(tempfile.mkdtemp(prefix="evroam-ocpp-bench-"))
    result: dict[str, Any] = {"chargers": args.chargers, "seconds": args.seconds, "samples": SAMPLES}
    servers: list[Server] = []
    try:
        db_path = tmp / "bench.db"
        db_url = f"sqlite+aiosqlite:///{db_path}"
        t = time.perf_counter()
        asyncio.run(prepare_database(db_url, total))
        print(f"database: {total} chargers registered in {time.perf_counter() - t:.1f} s")

        rows = []
        row, result["persisted"] = evroam_load("evroam", db_path, db_url, tmp, server_cpus, nofile, args.chargers,
                                               args.seconds, gen_cpu, None, servers)
        rows.append(row)
        if args.sessions:
            sessions_before = stored_sessions(db_path)
            row, persisted = evroam_load("sessions", db_path, db_url, tmp, server_cpus, nofile, args.chargers,
                                         args.seconds, gen_cpu, DRIVER_TAG, servers)
            rows.append(row)
            result["persisted_sessions"] = persisted
            print(f"sessions: {stored_sessions(db_path) - sessions_before} Sessions for {args.chargers} transactions")

        if not args.skip_bare:
            bare = bare_server(tmp, server_cpus, nofile, args.bare_uvloop)
            servers.append(bare)
            rows.append(load_run("bare", bare, args.chargers, args.seconds, gen_cpu))
            bare.stop()
            result["ratio"] = rows[0]["msgs_per_s"] / rows[-1]["msgs_per_s"]
            if args.sessions:
                result["ratio_sessions"] = rows[1]["msgs_per_s"] / rows[-1]["msgs_per_s"]
        result["load"] = rows
        print()
        print(table(rows))
        if "ratio" in result:
            print(f"ratio evroam/bare: {result['ratio']:.2f}")
        if "ratio_sessions" in result:
            print(f"ratio evroam with Sessions/bare: {result['ratio_sessions']:.2f}")

        if not args.skip_idle:
            server = evroam_server(db_url, tmp, server_cpus, nofile, "evroam-idle")
            servers.append(server)
            idle = idle_run(server, args.idle, gen_cpu)
            server.stop()
            result["idle"] = idle
            print()
            print(f"idle: {idle['connected']}/{idle['chargers']} chargers connected in {idle['connect_seconds']:.1f} s; "
                  f"server RSS {idle['rss_before_mb']:.0f} MB -> {idle['rss_mb']:.0f} MB "
                  f"({idle['kb_per_connection'] or 0:.1f} KB per connection), CPU while idle "
                  f"{idle['idle_cpu_percent']:.0f} %")
            if idle["failed"]:
                print(f"  {idle['failed']} failed: {idle['first_error']}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    checks = [("every acknowledged meter value stored", result["persisted"]["ok"])]
    if "persisted_sessions" in result:
        checks.append(("every acknowledged meter value stored (Sessions)", result["persisted_sessions"]["ok"]))
    if "ratio" in result:
        checks.append((f"evroam/bare >= {TARGET_RATIO}", result["ratio"] >= TARGET_RATIO))
    if "idle" in result:
        checks.append((f"{TARGET_IDLE} idle chargers connected",
                       result["idle"]["connected"] >= TARGET_IDLE and not result["idle"]["failed"]))
    print()
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    result["checks"] = {name: ok for name, ok in checks}
    if args.json:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
