"""A tiny OCPP 1.6J charger, built on the `ocpp` library, for trying evroam out.

It connects to ws://127.0.0.1:9000/ocpp/CP-DEMO-1 with HTTP Basic auth (security profile 1),
boots, reports its connector, authorizes a driver's token, charges 12 kWh with meter values
every simulated 5 minutes, stops and disconnects. See docs/chargers.md for the setup.

    python docs/examples/ocpp16_simulator.py [--url ws://127.0.0.1:9000/ocpp/] [--id CP-DEMO-1]
                                             [--password demo-charger-pw] [--tag DEMO-TAG-1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from datetime import UTC, datetime, timedelta

from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def energy(at: datetime, wh: int, context: str = "Sample.Periodic") -> dict:
    return {"timestamp": iso(at), "sampledValue": [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context}]}


async def main(url: str, charger_id: str, password: str, tag: str) -> None:
    auth = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    async with connect(url + charger_id, subprotocols=["ocpp1.6"],
                       additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        cp = ChargePoint(charger_id, ws)
        serving = asyncio.create_task(cp.start())
        boot = await cp.call(call.BootNotification(charge_point_model="Sim-22", charge_point_vendor="evroam-docs"))
        print(f"BootNotification: {boot.status}, heartbeat every {boot.interval}s")
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        auth_result = await cp.call(call.Authorize(id_tag=tag))
        print(f"Authorize {tag}: {auth_result.id_tag_info['status']}")
        if auth_result.id_tag_info["status"] != "Accepted":
            serving.cancel()
            return
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        tx = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(start)))
        print(f"StartTransaction: id {tx.transaction_id}, {tx.id_tag_info['status']}")
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        for step in range(1, 6):
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx.transaction_id,
                                           meter_value=[energy(start + timedelta(minutes=5 * step), 2000 * step)]))
        end = start + timedelta(minutes=30)
        await cp.call(call.StopTransaction(meter_stop=12000, timestamp=iso(end), transaction_id=tx.transaction_id,
                                           id_tag=tag, reason="Local",
                                           transaction_data=[energy(end, 12000, "Transaction.End")]))
        print("StopTransaction: 12 kWh in 30 minutes")
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        serving.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp/")
    parser.add_argument("--id", default="CP-DEMO-1")
    parser.add_argument("--password", default="demo-charger-pw")
    parser.add_argument("--tag", default="DEMO-TAG-1")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.id, args.password, args.tag))
