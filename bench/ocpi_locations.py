"""Benchmark: GET of our OCPI 2.2.1 locations sender endpoint (CPO), page after page.

What it measures: requests/s and latency (p50, p99) of

    GET /ocpi/2.2.1/cpo/locations?offset=O&limit=100

over N stored locations (default 10,000; 2-4 EVSEs each, about 2.6 KB of JSON per location,
so a page is about 265 KB), at concurrency 1, for the first page (offset 0) and the last page
(offset N - 100), against a real `evroam serve` process. In the same run it measures a trivial
endpoint that returns the same bytes from memory in a minimal app served the same way (uvicorn
in its own process, same event loop and HTTP parser): the ceiling of this machine. The client
is a keep-alive HTTP/1.1 client on a blocking socket in this process; the servers run in their
own processes. The server's CPU time per request is shown too (Linux): it depends least on
whatever else the machine is doing.

    .venv/bin/python bench/ocpi_locations.py                     # SQLite in a temporary folder
    .venv/bin/python bench/ocpi_locations.py --locations 300 --requests 50
    .venv/bin/python bench/ocpi_locations.py --loop uvloop       # both servers on uvloop
    .venv/bin/python bench/ocpi_locations.py --db postgresql+asyncpg://user:pw@127.0.0.1/postgres
    PYTHONPATH=/path/to/other-checkout/src .venv/bin/python bench/ocpi_locations.py   # compare code

With a PostgreSQL URL the bench creates a temporary database on that server (the role needs
CREATEDB), VACUUM ANALYZEs it after loading, and drops it at the end. Everything listens on
127.0.0.1 only; the server processes and temporary files are removed when the bench ends,
whatever happens.

Target: >= 400 requests/s with p99 < 10 ms at both offsets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

HOST = "127.0.0.1"
COUNTRY_CODE, PARTY_ID = "NL", "EVR"  # our party (the CPO being benchmarked)
PARTNER_TOKEN = "bench-partner-token-c-0123456789abcdefghijklmnopqrstu"
TARGET_RPS, TARGET_P99_MS = 400.0, 10.0
PATH = "/ocpi/2.2.1/cpo/locations"
# The uvicorn settings of `evroam.app.serve`, for the ceiling's process. The event loop is the one
# `evroam serve` runs on (asyncio.run in the CLI), or uvloop with --loop uvloop for both servers.
UVICORN_KW = {"http": "httptools", "access_log": False, "log_level": "warning", "lifespan": "on"}
# `evroam serve`, on the standard event loop as the CLI runs it, or on uvloop (the policy is set
# before the CLI's asyncio.run creates its loop).
LAUNCH = {
    "asyncio": "from evroam.cli import main; main()",
    "uvloop": "import asyncio, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
              "from evroam.cli import main; main()",
}


# ================================================================== data


_CITIES = [
    # (city, country, postal code prefix, latitude, longitude, time zone)
    ("Amsterdam", "NLD", "10", 52.3676, 4.9041, "Europe/Amsterdam"),
    ("Rotterdam", "NLD", "30", 51.9244, 4.4777, "Europe/Amsterdam"),
    ("Utrecht", "NLD", "35", 52.0907, 5.1214, "Europe/Amsterdam"),
    ("Eindhoven", "NLD", "56", 51.4416, 5.4697, "Europe/Amsterdam"),
    ("Groningen", "NLD", "97", 53.2194, 6.5665, "Europe/Amsterdam"),
    ("Gent", "BEL", "90", 51.0543, 3.7174, "Europe/Brussels"),
    ("Antwerpen", "BEL", "20", 51.2194, 4.4025, "Europe/Brussels"),
    ("Brussel", "BEL", "10", 50.8503, 4.3517, "Europe/Brussels"),
    ("Köln", "DEU", "50", 50.9375, 6.9603, "Europe/Berlin"),
    ("Düsseldorf", "DEU", "40", 51.2277, 6.7735, "Europe/Berlin"),
]
_STREETS = ["Stationsplein", "Kerkstraat", "Marktplein", "Industrieweg", "Havenstraat", "Dorpsstraat",
            "Schoolstraat", "Molenweg", "Parallelweg", "Beatrixlaan", "Julianastraat", "Europaweg",
            "Hoofdstraat", "Nieuwe Binnenweg", "Koningin Wilhelminalaan", "Burgemeester de Withstraat"]
_SITES = ["P+R", "Parkeergarage", "Supermarkt", "Station", "Winkelcentrum", "Hotel", "Sportpark", "Kantoor",
          "Snellaadstation", "Ziekenhuis", "Gemeentehuis", "Bouwmarkt"]
_OPERATORS = [
    {"name": "evroam Charging B.V.", "website": "https://www.evroam.example/",
     "logo": {"url": "https://cdn.evroam.example/img/logo/evroam-256.png",
              "thumbnail": "https://cdn.evroam.example/img/logo/evroam-64.png",
              "category": "OPERATOR", "type": "png", "width": 256, "height": 256}},
    {"name": "Stadsladen Noord", "website": "https://stadsladen-noord.example/"},
    {"name": "Rijnmond Laadnet", "website": "https://rijnmond-laadnet.example/"},
]
_FACILITIES = ["HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "TRAIN_STATION",
               "PARKING_LOT", "BUS_STOP", "WIFI", "FUEL_STATION"]
_PARKING = ["ON_STREET", "PARKING_LOT", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "ALONG_MOTORWAY"]
_STATUSES = ["AVAILABLE"] * 6 + ["CHARGING"] * 3 + ["OUTOFORDER", "INOPERATIVE", "RESERVED", "BLOCKED"]
# (standard, format, power type, volts, amps, watts, tariff id)
_AC = [("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 400, 32, 22080, "AC-STANDARD"),
       ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 400, 16, 11040, "AC-STANDARD"),
       ("IEC_62196_T2", "CABLE", "AC_1_PHASE", 230, 32, 7360, "AC-STANDARD"),
       ("DOMESTIC_F", "SOCKET", "AC_1_PHASE", 230, 16, 3680, "AC-SLOW")]
_DC = [("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 500, 300000, "DC-HPC"),
       ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 250, 150000, "DC-FAST"),
       ("CHADEMO", "CABLE", "DC", 500, 125, 50000, "DC-FAST")]
_AC_CAPS = ["RFID_READER", "REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE", "RESERVABLE", "CHARGING_PROFILE_CAPABLE"]
_DC_CAPS = ["RFID_READER", "REMOTE_START_STOP_CAPABLE", "CREDIT_CARD_PAYABLE", "CONTACTLESS_CARD_SUPPORT",
            "CHARGING_PROFILE_CAPABLE"]
T_AND_C = "https://www.evroam.example/legal/charging-terms.pdf"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _coord(rng: random.Random, base: float, spread: float) -> str:
    return f"{base + rng.uniform(-spread, spread):.6f}"


def make_location(rng: random.Random, index: int) -> tuple[dict[str, Any], datetime]:
    """One realistic location of ours (fields in the model's order, as stored by the service)."""
    city, country, postal, lat, lon, tz = rng.choice(_CITIES)
    updated = EPOCH + timedelta(minutes=index)  # creation order == last_updated order
    stamp = _stamp(updated)
    loc_id = f"LOC-{index:06d}"
    latitude, longitude = _coord(rng, lat, 0.08), _coord(rng, lon, 0.12)
    fast = rng.random() < 0.3
    terms = rng.random() < 0.3
    evses = []
    for e in range(rng.randint(2, 4)):
        connectors = []
        kinds = ([rng.choice(_DC), rng.choice(_DC)] if fast else [rng.choice(_AC)])[: rng.randint(1, 2)]
        if not fast and rng.random() < 0.15:
            kinds.append(rng.choice(_AC))
        for c, (standard, fmt, power, volts, amps, watts, tariff) in enumerate(kinds, start=1):
            connector: dict[str, Any] = {
                "id": str(c), "standard": standard, "format": fmt, "power_type": power, "max_voltage": volts,
                "max_amperage": amps, "max_electric_power": watts, "tariff_ids": [tariff],
            }
            if terms:
                connector["terms_and_conditions"] = T_AND_C
            connector["last_updated"] = stamp
            connectors.append(connector)
        evse: dict[str, Any] = {
            "uid": f"{loc_id}-E{e + 1}",
            "evse_id": f"{COUNTRY_CODE}*{PARTY_ID}*E{index:06d}{e + 1}",
            "status": rng.choice(_STATUSES),
            "capabilities": rng.sample(_DC_CAPS if fast else _AC_CAPS, k=rng.randint(2, 4)),
            "connectors": connectors,
        }
        if rng.random() < 0.2:
            evse["floor_level"] = rng.choice(["-1", "0", "1", "2"])
        if rng.random() < 0.5:
            evse["coordinates"] = {"latitude": _coord(rng, float(latitude), 0.0002),
                                   "longitude": _coord(rng, float(longitude), 0.0002)}
        evse["physical_reference"] = f"{rng.randint(1, 40)}{'ABCD'[e]}"
        if rng.random() < 0.3:
            evse["parking_restrictions"] = ["EV_ONLY"] + (["PLUGGED"] if rng.random() < 0.5 else [])
        evse["last_updated"] = stamp
        evses.append(evse)
    loc: dict[str, Any] = {
        "country_code": COUNTRY_CODE, "party_id": PARTY_ID, "id": loc_id, "publish": True,
        "name": f"{rng.choice(_SITES)} {city} {rng.choice(_STREETS)}",
        "address": f"{rng.choice(_STREETS)} {rng.randint(1, 250)}",
        "city": city,
        "postal_code": f"{postal}{rng.randint(10, 99)}" + (f" {rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}"
                                                          f"{rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}"
                                                          if country == "NLD" else ""),
        "country": country,
        "coordinates": {"latitude": latitude, "longitude": longitude},
        "parking_type": rng.choice(_PARKING),
        "evses": evses,
    }
    if rng.random() < 0.3:
        loc["directions"] = [
            {"language": "nl", "text": "Ingang via de slagboom, laadpalen op de begane grond links."},
            {"language": "en", "text": "Enter through the barrier, chargers on the ground floor to the left."},
        ]
    loc["operator"] = rng.choice(_OPERATORS)
    loc["owner"] = {"name": f"Gemeente {city}"}
    loc["facilities"] = rng.sample(_FACILITIES, k=rng.randint(1, 4))
    loc["time_zone"] = tz
    if rng.random() < 0.7:
        loc["opening_times"] = {"twentyfourseven": True}
    else:
        loc["opening_times"] = {
            "twentyfourseven": False,
            "regular_hours": [{"weekday": d, "period_begin": "07:00", "period_end": "23:00"} for d in range(1, 8)],
        }
        loc["charging_when_closed"] = True
    if rng.random() < 0.2:
        loc["images"] = [{"url": f"https://cdn.evroam.example/img/locations/{loc_id}/entrance.jpg",
                          "thumbnail": f"https://cdn.evroam.example/img/locations/{loc_id}/entrance-thumb.jpg",
                          "category": "ENTRANCE", "type": "jpeg", "width": 1280, "height": 960}]
    if rng.random() < 0.4:
        loc["energy_mix"] = {
            "is_green_energy": True,
            "energy_sources": [{"source": "WIND", "percentage": 60.0}, {"source": "SOLAR", "percentage": 40.0}],
            "supplier_name": "Groene Stroom Coöperatie", "energy_product_name": "Wind & Zon 100%",
        }
    loc["last_updated"] = stamp
    return loc, updated


def make_locations(count: int, seed: int) -> list[tuple[dict[str, Any], datetime]]:
    rng = random.Random(seed)
    return [make_location(rng, i) for i in range(count)]


def check_sample(items: list[tuple[dict[str, Any], datetime]], every: int) -> int:
    """Validate every `every`-th location through the model: it must be valid and already in
    the model's canonical form (what the location service would store). Returns the count."""
    from evroam.model.locations import Location

    checked = 0
    for data, _ in items[::every]:
        canonical = Location.model_validate(data).to_dict()
        if canonical != data:
            raise SystemExit(f"generated location {data['id']} is not in canonical form")
        checked += 1
    return checked


async def build_database(url: str, items: list[tuple[dict[str, Any], datetime]], token: str) -> None:
    """Migrate, insert the locations in bulk through the store, register a partner with `token`."""
    from evroam.model.partners import PartnerStatus
    from evroam.store import Store

    store = Store(url)
    try:
        await store.migrate()
        async with store.begin() as conn:
            if hasattr(store.locations, "insert_many"):
                for start in range(0, len(items), 2000):
                    await store.locations.insert_many(conn, COUNTRY_CODE, PARTY_ID, items[start:start + 2000])
            else:  # an older evroam (PYTHONPATH=other-checkout/src to compare commits)
                for data, updated in items:
                    await store.locations.put(conn, COUNTRY_CODE, PARTY_ID, data["id"], data, updated)
            partner = await store.partners.create(conn, "bench-emsp", status=PartnerStatus.REGISTERED)
            await store.partners.update(
                conn, partner.pk, token=token, outgoing_token="bench-outgoing", outgoing_encoding="base64",
                version="2.2.1", endpoints=[],
                roles=[{"role": "EMSP", "country_code": "DE", "party_id": "MSP",
                        "business_details": {"name": "Bench eMSP"}}],
            )
    finally:
        await store.close()


# ================================================================== databases


@contextmanager
def database(url: str | None, workdir: Path) -> Iterator[str]:
    """The database URL to benchmark on; temporary, removed at the end."""
    if url is None or url == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:" or path.exists():
            raise SystemExit(f"--db {url}: give a SQLite file that does not exist yet (it is removed at the end)")
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if backend != "postgresql":
        raise SystemExit(f"--db {url}: only SQLite and PostgreSQL are supported")
    import asyncpg

    name = f"evroam_bench_{uuid.uuid4().hex[:12]}"
    admin_dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def settle(url: str) -> None:
    """PostgreSQL: VACUUM ANALYZE the fresh tables, as autovacuum would soon do, so that the
    figures are those of a database in its steady state (visibility map set, statistics known)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    import asyncpg

    async def vacuum() -> None:
        conn = await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()

    asyncio.run(vacuum())


# ================================================================== processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_listening(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with socket.create_connection((HOST, server.port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{server.name} did not answer on {HOST}:{server.port} within {timeout:.0f} s:\n{server.log_tail()}")


@contextmanager
def spawn(name: str, argv: list[str], workdir: Path, ready_path: str, env: dict[str, str] | None = None,
          port: int | None = None) -> Iterator[Server]:
    """A server in its own process (its own interpreter and CPU time), stopped at the end."""
    log = workdir / f"{name}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVROAM_")}
    full_env.update(env or {})
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=workdir, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(name, port or 0, process, log)
    try:
        wait_listening(server, ready_path)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def evroam_server(url: str, workdir: Path, loop: str) -> Any:
    port = free_port()
    argv = [sys.executable, "-c", LAUNCH[loop], "serve", "--db", url,
            "--host", HOST, "--http-port", str(port), "--ocpp-port", str(free_port())]
    env = {"EVROAM_COUNTRY_CODE": COUNTRY_CODE, "EVROAM_PARTY_ID": PARTY_ID, "EVROAM_ROLES": '["CPO"]',
           "EVROAM_LOG_LEVEL": "WARNING", "EVROAM_ADMIN_TOKEN": "bench-admin-token",
           "EVROAM_OUTBOX_POLL_SECONDS": "3600"}
    return spawn("evroam", argv, workdir, "/health", env, port)


def ceiling_server(body_file: Path, headers_file: Path, workdir: Path, loop: str) -> Any:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve-ceiling", str(body_file),
            "--ceiling-headers", str(headers_file), "--port", str(port), "--loop", loop]
    return spawn("ceiling", argv, workdir, "/health", None, port)


def run_ceiling(body_file: Path, headers_file: Path, port: int, loop: str) -> None:
    """The ceiling's process: the same bytes from memory, on the same server stack (uvicorn with
    uvloop and httptools): a one-route FastAPI app at /fastapi and a bare ASGI answer at /asgi."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.responses import Response

    body = body_file.read_bytes()
    headers: dict[str, str] = orjson.loads(headers_file.read_bytes())
    api = FastAPI()

    @api.get("/fastapi")
    async def page() -> Response:
        return Response(body, media_type="application/json", headers=headers)

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/asgi":
            await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
            return
        await api(scope, receive, send)

    uvicorn.run(app, host=HOST, port=port, loop=loop, **UVICORN_KW)


# ================================================================== load generator


class Connection:
    """A keep-alive HTTP/1.1 client on a blocking socket: the least client-side work per request,
    so the figures are the server's (the client runs in this process, the server in its own)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(4 << 20)
        self.view = memoryview(self.buf)

    def close(self) -> None:
        self.view.release()
        self.sock.close()

    def request(self, raw: bytes) -> tuple[int, bytes, int, int]:
        """Send one request; (status, head, body offset, total length) of the answer in self.buf."""
        self.sock.sendall(raw)
        got = 0
        head_end = -1
        while head_end < 0:
            n = self.sock.recv_into(self.view[got:])
            if not n:
                raise ConnectionError("server closed the connection")
            got += n
            head_end = self.buf.find(b"\r\n\r\n", 0, got)
        head = bytes(self.buf[:head_end])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ConnectionError("answer without Content-Length")
        total = head_end + 4 + length
        if total > len(self.buf):
            raise ConnectionError(f"answer of {total} bytes is larger than the client buffer")
        while got < total:
            n = self.sock.recv_into(self.view[got:total])
            if not n:
                raise ConnectionError("server closed the connection mid-answer")
            got += n
        return int(head.split(b" ", 2)[1]), head, head_end + 4, total

    def get(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        status, head, start, total = self.request(raw)
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, bytes(self.buf[start:total])


def request_bytes(path: str, port: int, token: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: evroam-bench", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Token {base64.b64encode(token.encode()).decode()}")
        lines += ["X-Request-ID: 0b6ec6f9-2f5c-4a46-9b4a-4d7c1b7a3c51",
                  "X-Correlation-ID: 5e8e0e8b-2c55-4a77-9c42-7d3a7b3e1f10",
                  "OCPI-from-country-code: DE", "OCPI-from-party-id: MSP",
                  f"OCPI-to-country-code: {COUNTRY_CODE}", f"OCPI-to-party-id: {PARTY_ID}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Result:
    scenario: str
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    round_rates: list[float] = field(default_factory=list)
    bytes_per_response: int = 0
    cpu_seconds: float | None = 0.0  # the server's, over the measured requests

    @property
    def cpu_ms(self) -> float | None:
        """Server CPU time per request: what the machine's other load changes least."""
        if self.cpu_seconds is None or not self.latencies_ms:
            return None
        return self.cpu_seconds / len(self.latencies_ms) * 1000

    @property
    def rps(self) -> float:
        """The median of the rounds' rates: a round disturbed by something else running on the
        machine does not decide the figure."""
        return statistics.median(self.round_rates)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered))) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return self.pct(99)


@dataclass
class Scenario:
    name: str
    port: int
    raw: bytes
    pid: int | None = None  # the server's process, for its CPU time


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None where /proc is not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def measure(scenarios: list[Scenario], requests: int, warmup: int, rounds: int) -> list[Result]:
    """Each scenario one request at a time on a keep-alive connection. The requests are split in
    rounds, and the scenarios take turns in each round, so that a slower moment of the machine
    weighs on all of them alike. Each round opens its connection anew (a connection left idle
    while the others run would be closed by the server's keep-alive timeout) and warms it up
    with a few requests that are not counted."""
    results = [Result(sc.name) for sc in scenarios]
    clock = time.perf_counter

    def run(sc: Scenario, conn: Connection, n: int, result: Result | None) -> None:
        cpu_before = cpu_seconds(sc.pid)
        started = clock()
        for _ in range(n):
            t0 = clock()
            status, _, start, total = conn.request(sc.raw)
            if status != 200:
                raise SystemExit(f"{sc.name}: HTTP {status}")
            if result is not None:
                result.latencies_ms.append((clock() - t0) * 1000)
        if result is not None:
            result.round_rates.append(n / (clock() - started))
            result.bytes_per_response = total - start
            cpu_after = cpu_seconds(sc.pid)
            if cpu_before is None or cpu_after is None or result.cpu_seconds is None:
                result.cpu_seconds = None
            else:
                result.cpu_seconds += cpu_after - cpu_before

    for sc in scenarios:
        conn = Connection(sc.port)
        try:
            run(sc, conn, warmup, None)
        finally:
            conn.close()
    for i in range(rounds):
        n = requests // rounds + (1 if i < requests % rounds else 0)
        for sc, result in zip(scenarios, results, strict=True):
            conn = Connection(sc.port)
            try:
                run(sc, conn, 3, None)
                run(sc, conn, n, result)
            finally:
                conn.close()
    return results


def check_page(port: int, token: str, offset: int, limit: int, total: int) -> tuple[bytes, dict[str, str]]:
    """One page through the endpoint, checked against what was stored; returns body and headers."""
    conn = Connection(port)
    try:
        status, headers, body = conn.get(request_bytes(f"{PATH}?offset={offset}&limit={limit}", port, token))
    finally:
        conn.close()
    if status != 200:
        raise SystemExit(f"GET offset={offset}: HTTP {status}: {body[:300]!r}")
    doc = orjson.loads(body)
    ids = [loc["id"] for loc in doc["data"]]
    expected = [f"LOC-{i:06d}" for i in range(offset, min(offset + limit, total))]
    problems = []
    if doc["status_code"] != 1000:
        problems.append(f"status_code {doc['status_code']}")
    if ids != expected:
        problems.append(f"ids {ids[:2]}... expected {expected[:2]}...")
    if headers.get("x-total-count") != str(total):
        problems.append(f"X-Total-Count {headers.get('x-total-count')}")
    has_next = offset + limit < total
    if ("link" in headers) != has_next:
        problems.append(f"Link header {'missing' if has_next else 'present'}: {headers.get('link')}")
    for name in ("x-limit", "x-request-id", "x-correlation-id", "ocpi-from-country-code", "ocpi-to-party-id"):
        if name not in headers:
            problems.append(f"{name} missing")
    if problems:
        raise SystemExit(f"GET offset={offset}: " + "; ".join(problems))
    return body, headers


# ================================================================== report


def report(results: list[Result], ceiling: Result, pages: list[Result]) -> bool:
    rows = [("scenario", "req/s", "p50 ms", "p99 ms", "bytes/resp", "vs ceiling", "server CPU ms/req")]
    for r in results:
        rows.append((r.scenario, f"{r.rps:,.0f}", f"{r.p50:.2f}", f"{r.p99:.2f}", f"{r.bytes_per_response:,}",
                     f"{r.rps / ceiling.rps:.0%}", "-" if r.cpu_ms is None else f"{r.cpu_ms:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    ok = all(r.rps >= TARGET_RPS and r.p99 < TARGET_P99_MS for r in pages)
    first, last = pages[0], pages[-1]
    print()
    print(f"last page / first page: {last.rps / first.rps:.0%} of the rate, p99 {last.p99:.2f} vs {first.p99:.2f} ms")
    print(f"target: >= {TARGET_RPS:.0f} req/s and p99 < {TARGET_P99_MS:.0f} ms at both offsets: "
          f"{'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locations", type=int, default=10_000, help="stored locations (default 10000)")
    parser.add_argument("--requests", type=int, default=2_000, help="measured requests per scenario (default 2000)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up requests per scenario (default requests/10, 20..200)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="the requests of each scenario are split in this many rounds, scenarios taking turns; "
                             "req/s is the median round (default 5)")
    parser.add_argument("--limit", type=int, default=100, help="page size (default 100)")
    parser.add_argument("--db", default=None,
                        help="database: sqlite (default, temporary file), a SQLite URL of a new file, or a "
                             "PostgreSQL URL (a temporary database is created on that server and dropped)")
    parser.add_argument("--loop", choices=sorted(LAUNCH), default="asyncio",
                        help="event loop of both servers: asyncio (default: what `evroam serve` runs on) or uvloop")
    parser.add_argument("--seed", type=int, default=2024, help="random seed of the generated locations")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--check", action="store_true", help="exit with status 3 when the target is missed")
    parser.add_argument("--serve-ceiling", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-headers", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_ceiling:
        run_ceiling(args.serve_ceiling, args.ceiling_headers, args.port, args.loop)
        return 0
    if args.locations < args.limit or args.limit < 1:
        parser.error("--locations must be at least --limit (and --limit at least 1)")
    if args.rounds < 1 or args.requests < args.rounds:
        parser.error("--requests must be at least --rounds (and --rounds at least 1)")
    warmup = args.warmup if args.warmup is not None else max(20, min(200, args.requests // 10))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (servers, files) when terminated

    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="evroam-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        url = stack.enter_context(database(args.db, workdir))

        t0 = time.perf_counter()
        items = make_locations(args.locations, args.seed)
        checked = check_sample(items, max(1, args.locations // 200))
        asyncio.run(build_database(url, items, PARTNER_TOKEN))
        settle(url)
        size = sum(len(orjson.dumps(d)) for d, _ in items[: args.limit])
        print(f"database: {args.locations:,} locations ({sum(len(d['evses']) for d, _ in items):,} EVSEs, "
              f"{checked} validated through the model), first page {size / 1000:,.0f} KB, "
              f"built in {time.perf_counter() - t0:.1f} s on {url.split('://')[0]}", flush=True)
        del items

        evroam = stack.enter_context(evroam_server(url, workdir, args.loop))
        deep = args.locations - args.limit
        body, headers = check_page(evroam.port, PARTNER_TOKEN, 0, args.limit, args.locations)
        check_page(evroam.port, PARTNER_TOKEN, deep, args.limit, args.locations)
        (workdir / "page.json").write_bytes(body)
        keep = {k: v for k, v in headers.items() if k not in ("content-length", "content-type", "date", "server")}
        (workdir / "headers.json").write_bytes(orjson.dumps(keep))
        ceiling = stack.enter_context(ceiling_server(workdir / "page.json", workdir / "headers.json", workdir,
                                                     args.loop))

        print(f"server: evroam serve (pid {evroam.process.pid}), ceiling (pid {ceiling.process.pid}); "
              f"concurrency 1, keep-alive, {warmup} warm-up + {args.requests:,} requests per scenario "
              f"in {args.rounds} rounds, {args.loop} event loop", flush=True)
        print()
        scenarios = [Scenario(f"locations offset={offset}", evroam.port,
                              request_bytes(f"{PATH}?offset={offset}&limit={args.limit}", evroam.port, PARTNER_TOKEN),
                              evroam.process.pid)
                     for offset in (0, deep)]
        scenarios += [Scenario("ceiling (FastAPI route)", ceiling.port, request_bytes("/fastapi", ceiling.port, None),
                               ceiling.process.pid),
                      Scenario("ceiling (bare ASGI)", ceiling.port, request_bytes("/asgi", ceiling.port, None),
                               ceiling.process.pid)]
        *pages, ceil, bare = measure(scenarios, args.requests, warmup, args.rounds)
        ok = report([*pages, ceil, bare], ceil, pages)
        if args.json:
            args.json.write_bytes(orjson.dumps({
                "locations": args.locations, "limit": args.limit, "requests": args.requests, "db": url.split("://")[0],
                "loop": args.loop,
                "cpus": os.cpu_count(), "pass": ok,
                "rounds": args.rounds,
                "results": [{"scenario": r.scenario, "rps": r.rps, "round_rps": r.round_rates, "p50_ms": r.p50,
                             "p99_ms": r.p99, "bytes": r.bytes_per_response, "server_cpu_ms": r.cpu_ms}
                            for r in [*pages, ceil, bare]],
            }, option=orjson.OPT_INDENT_2))
    return 3 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
