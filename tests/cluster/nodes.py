"""Real `evroam serve` processes sharing one PostgreSQL database and one Redis, a TCP proxy in
front of their OCPP ports (as a load balancer would be), and an eMSP that records every push it
receives: what the tests of several nodes are built from."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url

from harness import free_socket, postgres_url, redis_url, serve_app

ADMIN = "cluster-admin-token"


def _port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


async def fresh_database() -> str:
    """A new, empty PostgreSQL database on the test server (dropped by `drop_database`)."""
    import asyncpg

    base = make_url(postgres_url())
    name = f"evroam_nodes_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(host=base.host or "127.0.0.1", port=base.port or 5432, user=base.username,
                                 password=base.password, database=base.database)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    base = make_url(postgres_url())
    conn = await asyncpg.connect(host=base.host or "127.0.0.1", port=base.port or 5432, user=base.username,
                                 password=base.password, database=base.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class Node:
    """One `evroam serve` process."""

    name: str
    database_url: str
    folder: Path
    prefix: str
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=_port)
    ocpp_port: int = field(default_factory=_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self, *, wait: bool = True) -> Node:
        env = {**os.environ, "EVROAM_REDIS_URL": redis_url() or "", "EVROAM_REDIS_PREFIX": self.prefix,
               "EVROAM_NODE_NAME": self.name, "EVROAM_ADMIN_TOKEN": ADMIN, "EVROAM_ROLES": "CPO",
               "EVROAM_OUTBOX_POLL_SECONDS": "0.2", "EVROAM_OUTBOX_BACKOFF_BASE": "0.1",
               "EVROAM_OUTBOX_BACKOFF_MAX": "0.5", "EVROAM_SESSION_PUSH_INTERVAL": "0",
               "EVROAM_LOAD_REPLAN_DELAY": "0.05", "EVROAM_LOG_LEVEL": "INFO", **self.env}
        log = open(self.folder / f"{self.name}.log", "ab")  # noqa: SIM115, ASYNC230 - a local file, closed below
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evroam", "serve", "--db", self.database_url, "--http-port", str(self.http_port),
            "--ocpp-port", str(self.ocpp_port), cwd=self.folder, env=env, stdout=log, stderr=log,
            stdin=asyncio.subprocess.DEVNULL)
        log.close()
        if wait:
            await self.ready()
        return self

    async def ready(self, timeout: float = 60) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"node {self.name} exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
                with suppress(httpx.HTTPError):
                    reply = await http.get(f"{self.url}/health")
                    if reply.status_code == 200:
                        return reply.json()
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"node {self.name} not ready:\n{self.log()[-3000:]}")
                await asyncio.sleep(0.2)

    def log(self) -> str:
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{self.url}/health")).json()

    async def admin(self, method: str, path: str, **kwargs) -> httpx.Response:
        async with httpx.AsyncClient(timeout=40) as http:
            return await http.request(method, f"{self.url}/admin/api{path}",
                                      headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs)

    def kill(self) -> None:
        """kill -9: no goodbye to the other nodes, no clean shutdown."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class TcpProxy:
    """A TCP load balancer in front of several backends: each new connection goes to the first
    backend (in `order`) that accepts it; a connection whose backend dies is closed (the client
    reconnects and lands on a live one)."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = list(backends)
        self.order = list(range(len(backends)))
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()
        self.routed: list[int] = []  # backend port of each connection

    async def start(self) -> TcpProxy:
        sock = free_socket()
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._client, sock=sock)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for index in self.order:
            port = self.backends[index]
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            self.routed.append(port)
            break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        tasks = [asyncio.create_task(_pipe(reader, up_writer)), asyncio.create_task(_pipe(up_reader, writer))]
        self._pipes.update(tasks)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
            self._pipes.discard(task)
        for w in (writer, up_writer):
            with suppress(Exception):
                w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(Exception):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@dataclass
class RecordingEmsp:
    """An eMSP that answers every push with success and records it: (method, path, body)."""

    port: int = 0
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    server: Any = None
    task: Any = None

    async def start(self) -> RecordingEmsp:
        app = FastAPI()

        @app.api_route("/ocpi/{rest:path}", methods=["GET", "PUT", "PATCH", "POST", "DELETE"])
        async def anything(rest: str, request: Request):
            body = await request.body()
            self.received.append((request.method, "/" + rest, body.decode() if body else None))
            return JSONResponse({"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z",
                                 "data": {"result": "ACCEPTED"} if request.method == "POST" else None},
                                status_code=201 if request.method == "POST" else 200)

        sock = free_socket()
        self.port = sock.getsockname()[1]
        self.server, self.task = await serve_app(app, sock)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            await self.task

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ocpi/2.2.1"

    def endpoints(self) -> list[dict[str, str]]:
        return [{"identifier": m, "role": "RECEIVER", "url": f"{self.url}/{m}"}
                for m in ("locations", "tariffs", "sessions", "cdrs")]

    def of(self, method: str, part: str) -> list[tuple[str, str, Any]]:
        """The pushes of one method whose path contains `part` (e.g. "/cdrs")."""
        return [r for r in self.received if r[0] == method and part in r[1]]
