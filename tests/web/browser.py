"""What the back office's tests share: a network worth looking at (an evroam instance with the
demo locations and tariffs, accounts of each role, a connected `ocpp`-library charger with a
finished and a running session, a partner, a site, a driver) and, for the browser tests, the
system's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import sys
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))

from charge_points import PASSWORD, Profiled16, charge_point, iso, past  # noqa: E402
from ocpp.v16 import call  # noqa: E402

from evroam.demo import load_demo  # noqa: E402
from harness import Instance, wait_for  # noqa: E402

CHROMIUM = os.environ.get("EVROAM_CHROMIUM", "/usr/bin/chromium")
USERS = {"ada": ("admin", "ada-password-1"), "olly": ("operator", "olly-password-1"),
         "vic": ("viewer", "vic-password-1")}
DRIVER_TAG = "04A1B2C3D4"
CHARGER = "CP-1"
LOCATION = "EVR-GENT-1"
EVSE_1, EVSE_2 = "EVR-GENT-1-E3", "EVR-GENT-1-E1"  # OCPP connector 1 (DC, tariff DC-1) and 2


def chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (the dev extra)"
    return None


def screenshots_folder(tmp: Path) -> Path:
    """Where the tests put their screenshots: EVROAM_UI_SCREENSHOTS (e.g. docs/ui), else `tmp`."""
    folder = Path(os.environ.get("EVROAM_UI_SCREENSHOTS") or tmp)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def meter(at, wh: float, w: float | None = None, context: str = "Sample.Periodic") -> dict:
    values = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context}]
    if w is not None:
        values.append({"value": str(w), "measurand": "Power.Active.Import", "unit": "W", "context": context})
    return {"timestamp": iso(at), "sampledValue": values}


class Network:
    """The instance, its connected charger, and the ids the tests look at."""

    def __init__(self, instance: Instance, cp, finished: str, running: str, transaction_id: int) -> None:
        self.instance = instance
        self.cp = cp
        self.finished = finished  # a session with its CDR
        self.running = running  # a session still charging
        self.transaction_id = transaction_id

    @property
    def url(self) -> str:
        return self.instance.url

    @property
    def platform(self):
        return self.instance.platform


async def build_network(folder: Path, stack: AsyncExitStack) -> Network:
    instance = Instance(db_path=folder / "evroam.db", extra={"session_push_interval": 0})
    await instance.start()
    stack.push_async_callback(instance.close)
    p = instance.platform
    assert await load_demo(p)
    for name, (role, password) in USERS.items():
        await p.users.add(name, role, password)
    await p.chargers.add(CHARGER, password=PASSWORD, location_id=LOCATION, evses={1: EVSE_1, 2: EVSE_2})
    await p.drivers.add("Dana Driver", email="dana@example.com", token_uid=DRIVER_TAG)
    await instance.add_partner("roaming-emsp", "emsp-token", [("EMSP", "DE", "MSP")], version="2.2.1")
    await p.sites.set_site(LOCATION, capacity_kw=50.0)
    cp = await stack.enter_async_context(charge_point(instance, CHARGER, version="1.6", cls=Profiled16))
    assert (await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))).status \
        == "Accepted"
    for connector in (1, 2):
        await cp.call(call.StatusNotification(connector_id=connector, error_code="NoError", status="Available"))
    # a finished session: 30 minutes, 20 kWh, with power readings
    t0 = past(90)
    start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=1000,
                                                timestamp=iso(t0)))
    for minute in (5, 10, 15, 20, 25):
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                       meter_value=[meter(t0 + timedelta(minutes=minute), 1000 + minute * 666,
                                                          40000 - minute * 300)]))
    await cp.call(call.StopTransaction(meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=30)),
                                       transaction_id=start.transaction_id, id_tag=DRIVER_TAG, reason="Local"))
    finished = (await p.charging.get_transaction(CHARGER, str(start.transaction_id))).session_id
    # a running session on the same EVSE
    t1 = past(20)
    running_tx = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=50000,
                                                     timestamp=iso(t1)))
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    for minute in (2, 6, 10, 14):
        await cp.call(call.MeterValues(connector_id=1, transaction_id=running_tx.transaction_id,
                                       meter_value=[meter(t1 + timedelta(minutes=minute), 50000 + minute * 350,
                                                          21000 + minute * 100)]))
    running = (await p.charging.get_transaction(CHARGER, str(running_tx.transaction_id))).session_id

    async def facts_written():
        async with p.store.connect() as conn:
            return await p.store.statistics.per_day(conn, "2000-01-01", "2999-12-31")

    await wait_for(facts_written)
    return Network(instance, cp, finished, running, running_tx.transaction_id)


async def sign_in(url: str, name: str, password: str | None = None) -> httpx.AsyncClient:
    """An HTTP client signed in as `name` (its `csrf` attribute: the session's CSRF token)."""
    client = httpx.AsyncClient(base_url=url, timeout=15)
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    reply = await client.post("/login", data={"csrf": token, "username": name,
                                              "password": password or USERS[name][1], "next": "/"})
    assert reply.status_code == 303, reply.text
    overview = await client.get("/")
    client.csrf = re.search(r'data-csrf="([^"]+)"', overview.text).group(1)
    return client
