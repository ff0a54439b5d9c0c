"""A tiny OCPP 1.6J charger that is started and stopped remotely, as for a driver paying ad hoc:
it boots, reports connector 1 Available, and waits. On RemoteStartTransaction it starts a
transaction with the idTag it was given and reports meter values (1 kWh per simulated minute,
every 2 s); on RemoteStopTransaction (or Ctrl-C) it stops the transaction. See docs/payments.md.

    python docs/examples/adhoc_charger.py [--url ws://127.0.0.1:9000/ocpp/] [--id CP-PAY-1]
                                          [--password demo-charger-pw]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from datetime import UTC, datetime, timedelta

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import connect


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Charger(ChargePoint):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.stop_asked = asyncio.Event()

    @on("RemoteStartTransaction")
    async def remote_start(self, id_tag, connector_id=None, **_):
        self.started.put_nowait(id_tag)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def remote_stop(self, transaction_id, **_):
        self.stop_asked.set()
        return call_result.RemoteStopTransaction(status="Accepted")


async def main(url: str, charger_id: str, password: str) -> None:
    auth = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    async with connect(url + charger_id, subprotocols=["ocpp1.6"],
                       additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        cp = Charger(charger_id, ws)
        serving = asyncio.create_task(cp.start())
        await cp.call(call.BootNotification(charge_point_model="Sim-DC", charge_point_vendor="evroam-docs"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        print("Available; waiting for a paid start")
        tag = await cp.started.get()
        t0, wh = datetime.now(UTC), 0
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(t0)))
        print(f"transaction {start.transaction_id} for {tag}: {start.id_tag_info['status']}")
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        minute = 0
        while not cp.stop_asked.is_set():
            try:
                await asyncio.wait_for(cp.stop_asked.wait(), timeout=2)
            except TimeoutError:
                minute += 1
                wh += 1000
                await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
                    {"timestamp": iso(t0 + timedelta(minutes=minute)), "sampledValue": [
                        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
                print(f"  {wh / 1000:.0f} kWh")
        await cp.call(call.StopTransaction(meter_stop=wh, timestamp=iso(t0 + timedelta(minutes=minute)),
                                           transaction_id=start.transaction_id, reason="Remote"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        print(f"stopped at {wh / 1000:.0f} kWh")
        serving.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp/")
    parser.add_argument("--id", default="CP-PAY-1")
    parser.add_argument("--password", default="demo-charger-pw")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.id, args.password))
