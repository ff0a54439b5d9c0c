"""The reference server of bench/ocpp_load.py: a minimal OCPP 1.6 central system on the bare `ocpp`
library (an `ocpp.v16.ChargePoint` subclass per connection on a `websockets` server), answering
BootNotification, Heartbeat, StartTransaction and MeterValues with nothing stored and no
authentication. It shows what the library and the WebSocket stack cost on this machine.

    python bench/ocpp_bare_server.py --port 9100 [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from datetime import UTC, datetime

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import serve

_TX = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BareCharger(ChargePoint):
    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_):
        return call_result.BootNotification(current_time=_now(), interval=3600, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=_now())

    @on(Action.start_transaction)
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_):
        return call_result.StartTransaction(transaction_id=next(_TX), id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, **_):
        return call_result.MeterValues()


async def _handle(websocket) -> None:
    charger = BareCharger(websocket.request.path.rsplit("/", 1)[-1], websocket)
    try:
        await charger.start()
    except Exception:  # the connection closed
        pass


async def main(host: str, port: int) -> None:
    async with serve(_handle, host, port, subprotocols=["ocpp1.6"], compression=None, open_timeout=120):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's own loop")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(main(args.host, args.port))
    else:
        asyncio.run(main(args.host, args.port))
