"""`ocpp`-library 1.6 charge points for the tests of several nodes: connected to any URL (a node,
or the TCP proxy in front of the nodes), and one that reconnects by itself, as real chargers do,
when its connection drops."""

from __future__ import annotations

import asyncio
import base64
import sys
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from ocpp.v16 import call
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points
from charge_points import Profiled16, iso  # noqa: E402

__all__ = ["ReconnectingCharger", "charger16", "iso"]


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@asynccontextmanager
async def charger16(base_url: str, charger_id: str, password: str, *, boot: bool = True):
    """A connected OCPP 1.6 charge point (answers commands and charging profiles)."""
    ws = await connect(base_url + charger_id, subprotocols=["ocpp1.6"], additional_headers=_basic(charger_id, password))
    cp = Profiled16(charger_id, ws, response_timeout=15)
    task = asyncio.create_task(cp.start())
    try:
        if boot:
            await cp.call(call.BootNotification(charge_point_model="Cluster", charge_point_vendor="evroam-tests"))
        yield cp
    finally:
        task.cancel()
        await ws.close()


class ReconnectingCharger:
    """A 1.6 charge point that, when its connection drops, connects again (to the same URL: the
    load balancer picks a live node) and goes on. `send` retries a CALL on the new connection
    until it is answered, as a charger resends what was not acknowledged."""

    def __init__(self, base_url: str, charger_id: str, password: str) -> None:
        self.url = base_url + charger_id
        self.charger_id = charger_id
        self.password = password
        self.cp: Profiled16 | None = None
        self.connections = 0
        self.received: list[tuple[str, dict]] = []  # every CALL of the central system, all connections
        self.profile_log: list[tuple[float, str, dict]] = []
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stop = False

    async def start(self) -> ReconnectingCharger:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._connected.wait(), 20)
        return self

    async def _run(self) -> None:
        while not self._stop:
            try:
                ws = await connect(self.url, subprotocols=["ocpp1.6"],
                                   additional_headers=_basic(self.charger_id, self.password), open_timeout=5)
            except (OSError, TimeoutError, ConnectionClosed, Exception):  # noqa: BLE001 - retry like a charger
                await asyncio.sleep(0.3)
                continue
            cp = Profiled16(self.charger_id, ws, response_timeout=10)
            cp.received = self.received
            cp.profile_log = self.profile_log
            if self.cp is not None:  # what it knows of its profiles survives a reconnection
                cp.tx_limits, cp.max_limit, cp.default_limit = self.cp.tx_limits, self.cp.max_limit, \
                    self.cp.default_limit
            self.cp = cp
            self.connections += 1
            runner = asyncio.create_task(cp.start())
            self._connected.set()
            with suppress(Exception):
                await runner
            self._connected.clear()
            await asyncio.sleep(0.2)

    async def send(self, payload, *, attempts: int = 40):
        """Send a CALL and return its answer, on whatever connection is up (again after a drop)."""
        last: BaseException | None = None
        for _ in range(attempts):
            await asyncio.wait_for(self._connected.wait(), 30)
            try:
                return await self.cp.call(payload, suppress=False)
            except (ConnectionClosed, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.3)
        raise AssertionError(f"{type(payload).__name__} never answered: {last!r}")

    async def stop(self) -> None:
        self._stop = True
        if self.cp is not None:
            with suppress(Exception):
                await self.cp._connection.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
