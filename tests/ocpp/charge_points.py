"""Charge points for the tests, built on the `ocpp` library's own ChargePoint classes, talking
to a real evroam instance over a real WebSocket with HTTP Basic auth."""

from __future__ import annotations

import asyncio
import base64
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v201 import ChargePoint as ChargePoint201
from websockets.asyncio.client import connect

from evroam.demo import load_demo
from evroam.ocpi.credentials import handshake
from harness import wait_for

DRIVER_TAG = "04A1B2C3D4"
PASSWORD = "charger-pass-1"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def past(minutes: float) -> datetime:
    """A whole-second instant `minutes` ago."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)


@asynccontextmanager
async def charge_point(instance, charger_id: str, *, version: str = "1.6", password: str | None = PASSWORD):
    """A connected ChargePoint of the given OCPP version, serving its side of the connection."""
    cls = {"1.6": ChargePoint16, "2.0.1": ChargePoint201, "2.1": ChargePoint21}[version]
    headers = basic(charger_id, password) if password is not None else {}
    ws = await connect(instance.ocpp_url + charger_id, subprotocols=[f"ocpp{version}"], additional_headers=headers)
    cp = cls(charger_id, ws, response_timeout=10)
    task = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()


async def roaming_pair(make_instance, *, whitelist: str = "ALWAYS", cpo_extra: dict | None = None):
    """A CPO (demo locations and tariffs) and an eMSP registered with each other; the eMSP's
    driver token pushed to the CPO; charger CP-1 maps connector/EVSE 1 to the DC EVSE of
    EVR-GENT-1 (tariff DC-1: 0.50 start + 0.25/kWh, parking 2.00/h)."""
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",),
                              extra={"session_push_interval": 0, **(cpo_extra or {})})
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    assert await load_demo(cpo.platform)
    _, token_a = await handshake.invite(cpo.platform, "emsp-partner")
    await handshake.register_with(emsp.platform, "cpo-partner", cpo.versions_url, token_a)
    await emsp.platform.tokens.add_own({"uid": DRIVER_TAG, "contract_id": "DE-MSP-C00001-1", "whitelist": whitelist})

    async def token_at_cpo():
        async with cpo.platform.store.connect() as conn:
            return await cpo.platform.store.tokens.get(conn, "DE", "MSP", DRIVER_TAG, "RFID")

    await wait_for(token_at_cpo)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})
    return cpo, emsp


async def evse_status_at(emsp, evse_uid: str, location_id: str = "EVR-GENT-1") -> str | None:
    async with emsp.platform.store.connect() as conn:
        loc = await emsp.platform.store.locations.get(conn, "NL", "CPO", location_id)
    if loc is None:
        return None
    return next((e["status"] for e in loc["evses"] if e["uid"] == evse_uid), None)


async def cdr_at(emsp, cdr_id: str):
    async with emsp.platform.store.connect() as conn:
        return await emsp.platform.store.cdrs.get(conn, "NL", "CPO", cdr_id)


async def session_at(emsp, session_id: str):
    async with emsp.platform.store.connect() as conn:
        return await emsp.platform.store.sessions.get(conn, "NL", "CPO", session_id)


async def wait_cdr(emsp, cdr_id: str, timeout: float = 10.0):  # noqa: ASYNC109
    return await wait_for(lambda: cdr_at(emsp, cdr_id), timeout=timeout)


def session_statuses(emsp) -> list[str]:
    """The statuses of the Sessions the eMSP receives, in order."""
    seen: list[str] = []
    emsp.platform.bus.subscribe("session.received", lambda e: seen.append(e.data["status"]))
    return seen
