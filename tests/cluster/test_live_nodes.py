"""The back office on several nodes: a browser connected to one node sees live what happens at a
charger connected to another (EVSE statuses, the charger going online and offline, meter values of
its session), and a Reset pressed there reaches the charger through the node that holds it. Real
`evroam serve` processes on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import orjson
import pytest
from nodes import Node, drop_database, fresh_database
from ocpp.v16 import call
from ocpp_chargers import charger16, iso

from evroam.app import Platform
from evroam.demo import load_demo
from evroam.model.common import parse_datetime, utcnow
from evroam.model.partners import PartnerStatus
from evroam.settings import Settings
from harness import postgres_url, redis_url, wait_for

pytestmark = [
    pytest.mark.skipif(not (postgres_url() and redis_url()),
                       reason="tests of several nodes need EVROAM_TEST_POSTGRES_URL and EVROAM_TEST_REDIS_URL"),
    pytest.mark.timeout(180),
]

PASSWORD = "charger-pass-1"
TAG = "04AAB0C1D2"


async def _signed_in(url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=20)
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    reply = await client.post("/login", data={"csrf": token, "username": "olly", "password": "olly-password-1"})
    assert reply.status_code == 303, reply.text
    client.csrf = re.search(r'data-csrf="([^"]+)"', (await client.get("/")).text).group(1)
    return client


async def _read(response: httpx.Response, out: list[tuple[str, dict]]) -> None:
    kind = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind:
            out.append((kind, orjson.loads(line[6:])))


async def test_a_browser_on_one_node_sees_a_charger_on_another_live(tmp_path):
    url = await fresh_database()
    prefix = f"evroam-live-{secrets.token_hex(4)}"
    a, b = (Node(f"node-{n}", url, tmp_path, prefix) for n in "ab")
    local = None
    try:
        await asyncio.gather(a.start(wait=False), b.start(wait=False))
        await asyncio.gather(a.ready(), b.ready())
        local = Platform(Settings(database_url=url, roles=["CPO"], admin_token="x", redis_url=None))
        await local.start()
        assert await load_demo(local)
        await local.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                 evses={1: "EVR-GENT-1-E1", 2: "EVR-GENT-1-E2"})
        await local.users.add("olly", "operator", "olly-password-1")
        async with local.store.begin() as conn:  # a driver's token an eMSP pushed (whitelist ALWAYS)
            partner = await local.store.partners.create(conn, "emsp", status=PartnerStatus.REGISTERED)
            await local.store.partners.update(conn, partner.pk, token="emsp-token", outgoing_token="to-emsp",
                                              outgoing_encoding="base64", version="2.2.1",
                                              roles=[{"role": "EMSP", "country_code": "DE", "party_id": "MSP",
                                                      "business_details": {"name": "eMSP"}}])
            await local.store.tokens.put(conn, "DE", "MSP", TAG, "RFID", {
                "country_code": "DE", "party_id": "MSP", "uid": TAG, "type": "RFID", "contract_id": "DE-MSP-C12345-6",
                "issuer": "MSP", "valid": True, "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z"},
                parse_datetime("2026-01-01T00:00:00Z"))
        local.bus.publish("partner.registered", partner_pk=partner.pk)
        await local.change_feed.flush()
        browser = await _signed_in(b.url)  # the operator's browser is on node b
        seen: list[tuple[str, dict]] = []
        async with browser.stream("GET", "/live?kinds=evse,charger,meter&chargers=CP-1") as stream:
            reader = asyncio.create_task(_read(stream, seen))
            await asyncio.sleep(0.3)
            async with charger16(f"ws://127.0.0.1:{a.ocpp_port}/ocpp/", "CP-1", PASSWORD) as cp:  # on node a
                await wait_for(lambda: ("charger", {"charger_id": "CP-1", "online": True}) in seen, timeout=15)
                await cp.call(call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted"))
                await wait_for(lambda: any(k == "evse" and d["evse_uid"] == "EVR-GENT-1-E2"
                                           and d["status"] == "OUTOFORDER" and d["charger_id"] == "CP-1"
                                           for k, d in seen), timeout=15)
                # a Reset pressed on node b reaches the charger held by node a
                reply = await browser.post("/chargers/CP-1/reset", data={"csrf": browser.csrf, "kind": "hard"},
                                           headers={"HX-Request": "true"})
                assert reply.status_code == 200 and "Reset (hard) sent" in reply.text, reply.text
                assert ("Reset", {"type": "Hard"}) in cp.received
                # the charger's page on node b shows the status node a received
                page = (await browser.get("/chargers/CP-1")).text
                assert re.search(r'data-evse="EVR-GENT-1/EVR-GENT-1-E2">OUTOFORDER<', page)
                # the meter values of a session at the charger reach the browser too
                start = await cp.call(call.StartTransaction(connector_id=1, id_tag=TAG, meter_start=0,
                                                            timestamp=iso(utcnow())))
                assert start.id_tag_info["status"] == "Accepted"
                await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
                    {"timestamp": iso(utcnow()), "sampledValue": [
                        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]))
                await wait_for(lambda: any(k == "meter" and d.get("power_w") == 7200.0 for k, d in seen), timeout=15)
            await wait_for(lambda: ("charger", {"charger_id": "CP-1", "online": False}) in seen, timeout=15)
            reader.cancel()
        await browser.aclose()
        for node in (a, b):
            assert "Traceback" not in node.log(), node.log()[-3000:]
    finally:
        for node in (a, b):
            node.kill()
        for node in (a, b):
            if node.proc is not None:
                await node.proc.wait()
        if local is not None:
            await local.close()
        await drop_database(url)
