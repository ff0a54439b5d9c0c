"""Test harness: real evroam instances on real sockets, inside the test's event loop."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from evroam.app import Platform, create_app, http_config
from evroam.model.partners import PartnerStatus
from evroam.ocpi.transport.auth import authorization_header
from evroam.settings import Settings


def free_socket() -> socket.socket:
    return _listening(0)


def _listening(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve_app(app, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task]:
    platform = getattr(getattr(app, "state", None), "platform", None)
    if platform is not None:  # an evroam application: served as `evroam serve` serves it
        config = http_config(app, platform.settings, log_level="warning", timeout_graceful_shutdown=5)
    else:
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                timeout_graceful_shutdown=5, proxy_headers=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    if platform is not None:
        app.state.http_server = server  # as `evroam serve` does (live event streams end at shutdown)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    return server, task


@dataclass
class Instance:
    """One evroam process-equivalent: its own database, settings, HTTP server."""

    db_path: Path
    country_code: str = "NL"
    party_id: str = "EVR"
    roles: tuple[str, ...] = ("CPO", "EMSP")
    extra: dict[str, Any] = field(default_factory=dict)
    database_url: str | None = None

    platform: Platform | None = None
    server: uvicorn.Server | None = None
    task: asyncio.Task | None = None
    port: int = 0
    sock: socket.socket | None = None
    ocpp_port: int = 0
    ocpp_sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ocpp_url(self) -> str:
        """Where chargers connect: append the charge point id."""
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp/"

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url or f"sqlite+aiosqlite:///{self.db_path}",
            http_port=self.port, ocpp_port=self.ocpp_port, country_code=self.country_code, party_id=self.party_id,
            roles=list(self.roles), outbox_poll_seconds=0.2, outbox_backoff_base=0.1, outbox_backoff_max=0.5,
            ocpi_timeout=5.0, admin_token="admin-secret", **self.extra,
        )

    async def start(self, *, serve: bool = True) -> Instance:
        if self.sock is None:
            self.sock = free_socket()
            self.port = self.sock.getsockname()[1]
        if self.ocpp_sock is None and "CPO" in self.roles:
            self.ocpp_sock = free_socket()
            self.ocpp_port = self.ocpp_sock.getsockname()[1]
        self.platform = Platform(self.settings())
        await self.platform.start()
        if serve:
            app = create_app(self.platform)
            self.server, self.task = await serve_app(app, self.sock)
            if self.ocpp_sock is not None:
                await self.platform.gateway.start(sock=self.ocpp_sock)
        return self

    async def stop(self) -> None:
        """Stop serving and close; the listening socket is kept so a restart reuses the port."""
        if self.server is not None:
            self.server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 15)
            except TimeoutError:  # never hang a test run on shutdown; say which step stalled
                self.server.force_exit = True
                await asyncio.wait_for(self.task, 5)
                raise AssertionError("the HTTP server did not shut down within 15 s") from None
            self.server = self.task = None
            # uvicorn closes the socket it served on; make a new one on the same port
            self.sock = None
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(128)
            sock.setblocking(False)
            self.sock = sock
        if self.platform is not None:
            gateway_served = self.platform._gateway is not None and self.platform.gateway.port is not None
            try:
                await asyncio.wait_for(self.platform.close(), 15)
            except TimeoutError:
                raise AssertionError("the platform (gateway, outbox, store) did not close within 15 s") from None
            self.platform = None
            if gateway_served:  # the OCPP server closed its socket too: a new one on the same port
                self.ocpp_sock = _listening(self.ocpp_port)

    async def close(self) -> None:
        await self.stop()
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.ocpp_sock is not None:
            self.ocpp_sock.close()
            self.ocpp_sock = None

    async def add_partner(self, name: str, token: str, roles: list[tuple[str, str, str]],
                          endpoints: list[dict[str, str]] | None = None, outgoing_token: str = "to-partner",
                          version: str = "2.2.1") -> int:
        """A registered partner written straight into the store (for module tests)."""
        store = self.platform.store
        async with store.begin() as conn:
            partner = await store.partners.create(conn, name, status=PartnerStatus.REGISTERED)
            await store.partners.update(
                conn, partner.pk, token=token, outgoing_token=outgoing_token, outgoing_encoding="base64",
                version=version, roles=[{"role": r, "country_code": cc, "party_id": pid,
                                         "business_details": {"name": name}} for r, cc, pid in roles],
                endpoints=endpoints or [],
            )
        return partner.pk


def auth(token: str, encoding: str = "base64") -> dict[str, str]:
    return {"Authorization": authorization_header(token, encoding)}


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):  # noqa: ASYNC109
    """Await until `predicate()` (sync or async) is truthy; returns its value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


EXAMPLES = Path(os.environ.get("EVROAM_OCPI_EXAMPLES", Path(__file__).resolve().parent / "data" / "ocpi-examples"))


def postgres_url() -> str | None:
    """PostgreSQL for the store tests (CI sets it; locally they skip without it)."""
    return os.environ.get("EVROAM_TEST_POSTGRES_URL")


def redis_url() -> str | None:
    return os.environ.get("EVROAM_TEST_REDIS_URL")


def example_dir(version: str = "2.2.1") -> Path:
    """The OCPI specification's examples (kept with the suite in tests/data; see its README)."""
    return EXAMPLES / version


__all__ = ["Instance", "auth", "wait_for", "example_dir", "serve_app", "free_socket", "httpx"]
