"""A populated evroam for the fuzz tests: demo locations and tariffs, a registered roaming
partner (token C), a driver with an API key, the admin token, and one charger of each OCPP
version mapped to demo EVSEs. `LiveServer` runs it on its own event loop in a background
thread, so that synchronous clients (schemathesis, requests) can call it over real sockets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from evroam.demo import load_demo
from harness import Instance, auth

T = TypeVar("T")

ADMIN_TOKEN = "admin-secret"  # what harness.Instance configures
PARTNER_TOKEN = "fuzz-partner-token-c"
PARTNER_CPO = ("DE", "FZC")  # the partner's CPO party: our eMSP receivers take its objects
PARTNER_EMSP = ("DE", "FZM")  # its eMSP party: our CPO tokens receiver takes its tokens
DRIVER_TAG = "FUZZ-DRIVER-1"
CHARGER_PASSWORD = "fuzz-charger-pass"
# charger id -> (OCPP version, location, {connector or EVSE number: EVSE uid}) on the demo data
CHARGERS = {
    "FUZZ-16": ("1.6", "EVR-GENT-1", {1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"}),
    "FUZZ-201": ("2.0.1", "EVR-STO-1", {1: "EVR-STO-1-E1", 2: "EVR-STO-1-E3"}),
}


# The fuzz sends wrong credentials among its requests (the driver API's security scheme): the
# throttling of wrong credentials would soon refuse this client address altogether (it is
# tested on its own), so it is off here (0). Settings a version does not know are ignored.
FUZZ_SETTINGS = {"throttle_failures": 0}


@dataclass
class Secrets:
    """What the clients of a populated instance authenticate with."""

    partner_token: str
    driver_key: str
    admin_token: str = ADMIN_TOKEN

    def headers(self, api: str) -> dict[str, str]:
        if api == "ocpi":
            return auth(self.partner_token)
        key = self.admin_token if api == "admin" else self.driver_key
        return {"Authorization": f"Bearer {key}"}


async def populate(inst: Instance) -> Secrets:
    """What `evroam serve --demo-data` loads, plus a partner, a driver and chargers."""
    platform = inst.platform
    assert await load_demo(platform)
    await inst.add_partner("fuzz-partner", PARTNER_TOKEN, [("CPO", *PARTNER_CPO), ("EMSP", *PARTNER_EMSP)])
    driver = await platform.drivers.add("fuzz driver", token_uid=DRIVER_TAG)
    for charger_id, (_version, location_id, evses) in CHARGERS.items():
        await platform.chargers.add(charger_id, password=CHARGER_PASSWORD, location_id=location_id, evses=evses)
    return Secrets(partner_token=PARTNER_TOKEN, driver_key=driver.api_key)


class LiveServer:
    """A populated evroam `Instance` serving on an event loop of its own in a daemon thread."""

    def __init__(self, db_path: Path) -> None:
        self.instance = Instance(db_path=db_path, extra=dict(FUZZ_SETTINGS))
        self.secrets: Secrets | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="evroam-live", daemon=True)

    @property
    def url(self) -> str:
        return self.instance.url

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(60):
            raise AssertionError("the evroam server did not start within 60 s")
        if self._error is not None:
            raise self._error
        return self

    def call(self, work: Callable[[Instance], Awaitable[T]], timeout: float = 30) -> T:
        """Run `work(instance)` on the server's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work(self.instance), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(60)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        try:
            await self.instance.start()
            self.secrets = await populate(self.instance)
        except BaseException as exc:  # reported to the thread that waits in start()
            self._error = exc
            self._ready.set()
            await self.instance.close()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.instance.close()


def rss_bytes() -> int:
    """Resident memory of this process (from /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


__all__ = ["LiveServer", "Secrets", "populate", "rss_bytes", "CHARGERS", "CHARGER_PASSWORD", "DRIVER_TAG"]
