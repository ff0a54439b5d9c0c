"""A simulated OCPP 1.6J charger for `evroam demo`, built on the `ocpp` library's ChargePoint.

It connects with HTTP Basic auth, boots, reports its connectors Available, and then does what a
charger does when a CPO starts and stops charging remotely: on RemoteStartTransaction it
answers Accepted, starts a transaction for the given idTag and sends meter values while the car
charges (`charge()`); on RemoteStopTransaction it answers Accepted, stops the transaction with
its final meter reading and reports the connector Available again.

Time on the charger is simulated: the transaction starts `minutes` minutes in the past, so a
session of real seconds has realistic timestamps, energy and power (`minutes=0`: real time).

Run on its own, it is a charger to try remote commands with (real time, `--kwh` more on the
meter every `--interval` seconds while charging), until Ctrl-C:

    python -m evroam.demo.simulator --url ws://127.0.0.1:9000/ocpp/ --id CP-DEMO-1 --password demo-charger-pw
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _energy(at: datetime, wh: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {"timestamp": iso(at), "sampledValue": [
        {"value": f"{wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context}]}


@dataclass
class Transaction:
    connector_id: int
    id_tag: str
    transaction_id: int
    started: datetime  # on the charger's simulated clock
    meter_wh: float = 0.0
    readings: list[float] = field(default_factory=list)  # Wh sent in MeterValues


class SimulatedCharger(ChargePoint):
    """An OCPP 1.6 charge point that follows remote start and stop commands."""

    def __init__(self, charger_id: str, connection, *, connectors: int = 1, minutes: float = 30.0) -> None:
        super().__init__(charger_id, connection, response_timeout=15)
        self.connectors = connectors
        self.minutes = minutes
        self.transaction: Transaction | None = None
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.log: list[str] = []  # what happened, for the demo's output
        self._tasks: set[asyncio.Task] = set()

    def _later(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def boot(self) -> str:
        answer = await self.call(call.BootNotification(charge_point_model="Demo-DC-150",
                                                       charge_point_vendor="evroam-demo"))
        for connector in range(1, self.connectors + 1):
            await self.status(connector, "Available")
        self.log.append(f"BootNotification: {answer.status}")
        return answer.status

    async def status(self, connector: int, status: str) -> None:
        await self.call(call.StatusNotification(connector_id=connector, error_code="NoError", status=status))

    # ------------------------------------------------------------------ commands from the CPO

    @on("RemoteStartTransaction")
    async def _remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any):
        if self.transaction is not None:
            return call_result.RemoteStartTransaction(status="Rejected")
        self.log.append(f"RemoteStartTransaction for {id_tag}: Accepted")
        self._later(self._start(connector_id or 1, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def _remote_stop(self, transaction_id: int, **_: Any):
        tx = self.transaction
        if tx is None or tx.transaction_id != transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        self.log.append(f"RemoteStopTransaction {transaction_id}: Accepted")
        self._later(self._stop())
        return call_result.RemoteStopTransaction(status="Accepted")

    # ------------------------------------------------------------------ the transaction

    async def _start(self, connector: int, id_tag: str) -> None:
        await self.status(connector, "Preparing")
        started = (datetime.now(UTC) - timedelta(minutes=self.minutes)).replace(microsecond=0)
        answer = await self.call(call.StartTransaction(connector_id=connector, id_tag=id_tag, meter_start=0,
                                                       timestamp=iso(started)))
        self.log.append(f"StartTransaction: id {answer.transaction_id}, {answer.id_tag_info['status']}")
        if answer.id_tag_info["status"] != "Accepted":
            await self.status(connector, "Available")
            return
        self.transaction = Transaction(connector, id_tag, answer.transaction_id, started)
        await self.status(connector, "Charging")
        self.started.set()

    async def charge(self, kwh: list[float], *, of: int | None = None, pace: float = 0.0) -> None:
        """Send one MeterValues per reading (kWh on the meter), `pace` real seconds apart. The
        session's `of` readings (default: these) are spread evenly over the simulated session,
        the last one when it ends: the car charges until it is stopped (no parking time).
        Called again, it goes on where it stopped."""
        tx = self.transaction
        assert tx is not None, "no transaction"
        step = timedelta(minutes=self.minutes) / (of or len(kwh))
        for value in kwh:
            tx.meter_wh = value * 1000
            tx.readings.append(tx.meter_wh)
            at = tx.started + step * len(tx.readings) if self.minutes else datetime.now(UTC)
            await self.call(call.MeterValues(connector_id=tx.connector_id, transaction_id=tx.transaction_id,
                                             meter_value=[_energy(at, tx.meter_wh)]))
            if pace:
                await asyncio.sleep(pace)

    async def _stop(self) -> None:
        tx = self.transaction
        assert tx is not None
        ended = tx.started + timedelta(minutes=self.minutes) if self.minutes else datetime.now(UTC)
        await self.call(call.StopTransaction(meter_stop=round(tx.meter_wh), timestamp=iso(ended),
                                             transaction_id=tx.transaction_id, id_tag=tx.id_tag, reason="Remote",
                                             transaction_data=[_energy(ended, tx.meter_wh, "Transaction.End")]))
        await self.status(tx.connector_id, "Finishing")
        await self.status(tx.connector_id, "Available")
        self.log.append(f"StopTransaction: {tx.meter_wh / 1000:g} kWh")
        self.transaction = None
        self.stopped.set()


@contextlib.asynccontextmanager
async def connected(url: str, charger_id: str, password: str, **kwargs: Any):
    """A SimulatedCharger connected to `url` + charger_id and serving its side of the connection."""
    from websockets.asyncio.client import connect

    auth = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    ws = await connect(url + charger_id, subprotocols=["ocpp1.6"], additional_headers={"Authorization": f"Basic {auth}"})
    charger = SimulatedCharger(charger_id, ws, **kwargs)
    task = asyncio.get_running_loop().create_task(charger.start())
    try:
        yield charger
    finally:
        task.cancel()
        for pending in list(charger._tasks):
            pending.cancel()
        await ws.close()


async def run(url: str, charger_id: str, password: str, *, connectors: int = 1, kwh: float = 1.0,
              interval: float = 5.0) -> None:
    """Connect and follow remote starts and stops in real time, printing what happens."""
    async with connected(url, charger_id, password, connectors=connectors, minutes=0) as charger:
        await charger.boot()
        shown = 0
        while True:
            for line in charger.log[shown:]:
                print(f"{charger_id}: {line}", flush=True)
            shown = len(charger.log)
            tx = charger.transaction
            if tx is not None:
                await charger.charge([tx.meter_wh / 1000 + kwh], of=1)
                print(f"{charger_id}: MeterValues {tx.meter_wh / 1000:g} kWh", flush=True)
            await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="A simulated OCPP 1.6 charger that follows remote start and stop.")
    p.add_argument("--url", default="ws://127.0.0.1:9000/ocpp/", help="the OCPP server, without the charger id")
    p.add_argument("--id", default="CP-DEMO-1", help="charge point id (Basic-auth user)")
    p.add_argument("--password", default="demo-charger-pw")
    p.add_argument("--connectors", type=int, default=1)
    p.add_argument("--kwh", type=float, default=1.0, help="kWh added per meter value while charging")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between meter values")
    args = p.parse_args(argv)
    try:
        asyncio.run(run(args.url, args.id, args.password, connectors=args.connectors, kwh=args.kwh,
                        interval=args.interval))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
