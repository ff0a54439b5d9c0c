"""The outbox: pushes survive a receiver that is down and a restart of the sender, are
delivered in per-object order, and are never dropped; refused pushes are kept as failed."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness import free_socket, serve_app, wait_for


class Receiver:
    """A partner's locations receiver that records what it gets; it can be down or refuse."""

    def __init__(self) -> None:
        probe = free_socket()  # reserve a port, then release it: a down receiver refuses connections
        self.port = probe.getsockname()[1]
        probe.close()
        self.sock = None
        self.received: list[tuple[str, str, dict | None]] = []
        self.refuse = False
        self.server = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/locations/{path:path}", methods=["PUT", "PATCH"])
        async def receive(path: str, request: Request):
            body = await request.json()
            if self.refuse:
                return JSONResponse({"status_code": 2001, "status_message": "no", "timestamp": "2024-01-01T00:00:00Z"},
                                    status_code=400)
            self.received.append((request.method, path, body))
            return JSONResponse({"status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})

        return app

    async def up(self):
        if self.sock is None:
            import socket

            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.port))
            s.listen(16)
            s.setblocking(False)
            self.sock = s
        self.server, self.task = await serve_app(self.app(), self.sock)

    async def down(self):
        if self.server:
            self.server.should_exit = True
            await self.task
            self.server, self.sock = None, None


@pytest.fixture
async def receiver():
    r = Receiver()
    yield r
    await r.down()
    if r.sock:
        r.sock.close()


async def _setup(make_instance, receiver):
    from evroam.demo import demo_objects

    cpo = await make_instance("cpo")
    await cpo.add_partner("emsp", "tok", [("EMSP", "DE", "MSP")], endpoints=[
        {"identifier": "locations", "role": "RECEIVER", "url": f"http://127.0.0.1:{receiver.port}/locations"}])
    locations, _ = demo_objects()
    await cpo.platform.locations.import_locations(locations[:1])
    return cpo


async def _pending(cpo) -> int:
    async with cpo.platform.store.connect() as conn:
        return (await cpo.platform.store.outbox.counts(conn)).get(1, {}).get("pending", 0)


async def test_delivery_after_receiver_was_down_keeps_order(make_instance, receiver):
    cpo = await _setup(make_instance, receiver)  # receiver is down: the PUT waits
    for status in ("CHARGING", "AVAILABLE", "OUTOFORDER"):
        await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E1", status)
    await asyncio.sleep(0.5)
    assert await _pending(cpo) == 4
    async with cpo.platform.store.connect() as conn:
        msgs = await cpo.platform.store.outbox.messages(conn, status="pending")
    assert max(m["attempts"] for m in msgs) >= 1 and "ConnectError" in (msgs[-1]["last_error"] or "")

    await receiver.up()
    await wait_for(lambda: len(receiver.received) == 4)
    methods = [(m, p) for m, p, _ in receiver.received]
    assert methods == [("PUT", "NL/EVR/EVR-GENT-1"), ("PATCH", "NL/EVR/EVR-GENT-1/EVR-GENT-1-E1"),
                       ("PATCH", "NL/EVR/EVR-GENT-1/EVR-GENT-1-E1"), ("PATCH", "NL/EVR/EVR-GENT-1/EVR-GENT-1-E1")]
    assert [b["status"] for _, _, b in receiver.received[1:]] == ["CHARGING", "AVAILABLE", "OUTOFORDER"]
    await wait_for(lambda: _pending_is_zero(cpo))


async def _pending_is_zero(cpo) -> bool:
    return await _pending(cpo) == 0


async def test_pushes_survive_a_restart(make_instance, receiver):
    cpo = await _setup(make_instance, receiver)
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E2", "BLOCKED")
    await cpo.stop()  # the sender goes away with two pushes undelivered
    await receiver.up()
    await asyncio.sleep(0.3)
    assert receiver.received == []
    await cpo.start()  # same database: the worker resumes from the table
    await wait_for(lambda: len(receiver.received) == 2)
    assert receiver.received[1][2]["status"] == "BLOCKED"


async def test_refused_push_is_kept_as_failed_and_does_not_block(make_instance, receiver):
    receiver.refuse = True
    await receiver.up()
    cpo = await _setup(make_instance, receiver)

    async def failed():
        async with cpo.platform.store.connect() as conn:
            return (await cpo.platform.store.outbox.counts(conn)).get(1, {}).get("failed")

    await wait_for(failed)
    receiver.refuse = False
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E1", "CHARGING")
    await wait_for(lambda: len(receiver.received) == 1)
    async with cpo.platform.store.connect() as conn:
        failed_msgs = await cpo.platform.store.outbox.messages(conn, status="failed")
    assert failed_msgs[0]["method"] == "PUT" and "2001" in failed_msgs[0]["last_error"]
