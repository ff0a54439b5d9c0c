"""The load generator of bench/ocpp_load.py, run in its own process: K OCPP 1.6 chargers on raw
`websockets` clients sending OCPP-J frames (no message classes, no validation: low client
overhead). It talks to its parent by lines of JSON on stdout and waits for "go" on stdin.

- mode "load": every charger connects (HTTP Basic, subprotocol ocpp1.6), sends BootNotification
  and StartTransaction; then ("go") sends MeterValues back to back for `--seconds`, each after the
  CALLRESULT of the one before (closed loop). Reports acknowledged MeterValues, latencies
  (CALL -> CALLRESULT) and the time of the measured window.
- mode "idle": every charger connects, boots and sends one Heartbeat, then stays connected
  until "go" (the parent measures the server meanwhile), then all connections close.

    python bench/ocpp_load_client.py --url ws://127.0.0.1:9000/ocpp/ --prefix BENCH- --chargers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
from websockets.asyncio.client import connect

ID_TAG = "BENCH-UNKNOWN-TAG"


def emit(**event) -> None:
    sys.stdout.write(orjson.dumps(event).decode() + "\n")
    sys.stdout.flush()


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Charger:
    def __init__(self, charger_id: str, url: str, password: str) -> None:
        self.id = charger_id
        self.url = url + charger_id
        self.headers = {"Authorization": "Basic " + base64.b64encode(f"{charger_id}:{password}".encode()).decode()}
        self.ws = None
        self._next = 0

    async def open(self) -> None:
        self.ws = await connect(self.url, subprotocols=["ocpp1.6"], additional_headers=self.headers,
                                compression=None, open_timeout=120, ping_interval=None, close_timeout=2,
                                max_queue=4)

    async def call(self, action: str, payload: dict) -> list:
        self._next += 1
        unique_id = str(self._next)
        await self.ws.send(orjson.dumps([2, unique_id, action, payload]).decode())
        while True:
            frame = orjson.loads(await self.ws.recv())
            if frame[0] == 2:  # a CALL from the central system: accept it, empty answer
                await self.ws.send(orjson.dumps([3, frame[1], {}]).decode())
                continue
            if frame[1] != unique_id:
                continue
            if frame[0] != 3:
                raise RuntimeError(f"{self.id}: {action} answered with {frame}")
            return frame

    async def boot(self) -> None:
        await self.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Load-1"})

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def _gather_limited(coros, limit: int) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)


async def _wait_go() -> None:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit("stopped by the parent")


async def run_load(chargers: list[Charger], seconds: float, samples: int, connect_limit: int, id_tag: str) -> None:
    t0 = time.perf_counter()
    errors = [e for e in await _gather_limited([c.open() for c in chargers], connect_limit) if e is not None]
    if errors:
        emit(event="error", error=f"{len(errors)} connections failed: {errors[0]!r}")
        return
    connected = time.perf_counter() - t0
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

    async def prepare(c: Charger) -> int:
        await c.boot()
        frame = await c.call("StartTransaction", {"connectorId": 1, "idTag": id_tag, "meterStart": 0,
                                                  "timestamp": iso(start)})
        return frame[2]["transactionId"]

    tx_ids = await _gather_limited([prepare(c) for c in chargers], connect_limit)
    errors = [e for e in tx_ids if isinstance(e, BaseException)]
    if errors:
        emit(event="error", error=f"{len(errors)} chargers failed to start: {errors[0]!r}")
        return
    emit(event="ready", connect_seconds=connected)
    await _wait_go()
    latencies: list[float] = []
    acked = [0]
    deadline = time.perf_counter() + seconds

    async def meter(c: Charger, tx_id: int) -> None:
        n = 0
        clock = time.perf_counter
        while clock() < deadline:
            n += 1
            at = iso(start + timedelta(seconds=n))
            sampled = [{"value": str(n * 10), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                        "context": "Sample.Periodic"},
                       {"value": "11000", "measurand": "Power.Active.Import", "unit": "W",
                        "context": "Sample.Periodic"}][:samples]
            sent = clock()
            await c.call("MeterValues", {"connectorId": 1, "transactionId": tx_id,
                                         "meterValue": [{"timestamp": at, "sampledValue": sampled}]})
            latencies.append(clock() - sent)
            acked[0] += 1

    began = time.perf_counter()
    results = await asyncio.gather(*(meter(c, t) for c, t in zip(chargers, tx_ids, strict=True)),
                                   return_exceptions=True)
    elapsed = time.perf_counter() - began
    failed = [r for r in results if isinstance(r, BaseException)]
    await _gather_limited([c.close() for c in chargers], connect_limit)
    latencies.sort()
    emit(event="done", acked=acked[0], seconds=elapsed, failed=len(failed),
         first_error=repr(failed[0]) if failed else None,
         p50=latencies[len(latencies) // 2] if latencies else None,
         p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None)


async def run_idle(chargers: list[Charger], connect_limit: int) -> None:
    t0 = time.perf_counter()

    async def up(c: Charger) -> None:
        await c.open()
        await c.boot()
        await c.call("Heartbeat", {})

    results = await _gather_limited([up(c) for c in chargers], connect_limit)
    failed = [r for r in results if isinstance(r, BaseException)]
    emit(event="ready", connect_seconds=time.perf_counter() - t0, connected=len(chargers) - len(failed),
         failed=len(failed), first_error=repr(failed[0]) if failed else None)
    await _wait_go()
    await _gather_limited([c.close() for c in chargers], connect_limit)
    emit(event="done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/ocpp/ (the charger id is appended)")
    parser.add_argument("--prefix", default="BENCH-")
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--password", default="bench-password")
    parser.add_argument("--mode", choices=["load", "idle"], default="load")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=2, choices=[1, 2])
    parser.add_argument("--connect-limit", type=int, default=200, help="connections opened at once")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--id-tag", default=ID_TAG, help="idTag of the transactions (default: one nobody knows)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.chargers * 2 + 1024)), hard))
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    chargers = [Charger(f"{args.prefix}{i:05d}", args.url, args.password) for i in range(args.chargers)]
    if args.mode == "load":
        asyncio.run(run_load(chargers, args.seconds, args.samples, args.connect_limit, args.id_tag))
    else:
        asyncio.run(run_idle(chargers, args.connect_limit))


if __name__ == "__main__":
    main()
