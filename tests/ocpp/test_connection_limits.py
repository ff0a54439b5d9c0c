"""What one charger connection may cost the central system, over real sockets: one live
connection per charger id (also when many connect at once), answers to nothing we asked dropped
(not kept in memory) and logged cut to a bounded size, frames bounded in size and in JSON
nesting (a format CALLERROR, never a recursion), and a charger flooding CALLs held back by not
reading its frames rather than queued without bound."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from charge_points import PASSWORD, basic
from ocpp.v16 import call
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evroam.demo import load_demo
from evroam.ocpp.connection import ChargerConnection
from harness import wait_for


async def _cpo(make_instance, **extra):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",), extra=extra)
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    return cpo


def _connect(cpo, version: str = "1.6", **kwargs):
    return connect(cpo.ocpp_url + "CP-1", subprotocols=[f"ocpp{version}"], additional_headers=basic("CP-1", PASSWORD),
                   **kwargs)


async def _answer(ws, within: float = 5.0) -> list:
    return orjson.loads(await asyncio.wait_for(ws.recv(), within))


async def _served(ws, message_id: str) -> bool:
    """Whether the central system still answers CALLs on this connection."""
    try:
        await ws.send(f'[2, "{message_id}", "Heartbeat", {{}}]')
        return (await _answer(ws, 2.0))[:2] == [3, message_id]
    except (ConnectionClosed, TimeoutError):
        return False


# ---------------------------------------------------------------------- one connection per charger


async def test_twenty_simultaneous_connects_leave_one_served_connection(make_instance):
    cpo = await _cpo(make_instance)
    sockets = await asyncio.gather(*[_connect(cpo) for _ in range(20)])
    try:
        gateway = cpo.platform.gateway
        await wait_for(lambda: gateway.is_connected("CP-1"))
        # the replaced ones are closed promptly (a normal closure saying why), not left running
        replaced = [ws for ws in sockets if ws.local_address != gateway.connections["CP-1"].websocket.remote_address]
        assert len(replaced) == 19
        await asyncio.wait_for(asyncio.gather(*[ws.wait_closed() for ws in replaced]), 5)
        assert {ws.close_code for ws in replaced} == {1000}
        assert {ws.close_reason for ws in replaced} == {"replaced by a new connection"}
        served = [ws for n, ws in enumerate(sockets) if await _served(ws, f"hb-{n}")]
        assert len(served) == 1 and served[0].local_address == gateway.connections["CP-1"].websocket.remote_address
        assert gateway.connected() == {"CP-1": "1.6"}
    finally:
        await asyncio.gather(*[ws.close() for ws in sockets])
    await wait_for(lambda: not cpo.platform.gateway.is_connected("CP-1"))


async def test_a_new_connection_replaces_the_old_one(make_instance):
    cpo = await _cpo(make_instance)
    async with _connect(cpo) as old:
        assert await _served(old, "old-1")
        async with _connect(cpo) as new:
            await asyncio.wait_for(old.wait_closed(), 5)
            assert old.close_code == 1000
            assert await _served(new, "new-1")
            assert cpo.platform.gateway.is_connected("CP-1")
    await wait_for(lambda: not cpo.platform.gateway.is_connected("CP-1"))


# ---------------------------------------------------------------------- answers to nothing we asked


def _result(message_id: str, size: int) -> str:
    return orjson.dumps([3, message_id, {"data": "x" * size}]).decode()


async def test_unsolicited_results_are_dropped_and_logged_cut(make_instance):
    cpo = await _cpo(make_instance, ocpp_log_max_frame_chars=4096)
    async with _connect(cpo) as ws:
        await wait_for(lambda: cpo.platform.gateway.is_connected("CP-1"))
        conn = cpo.platform.gateway.connections["CP-1"]
        for n in range(40):  # 40 MB of answers to CALLs we never sent
            await ws.send(_result(f"nobody-asked-{n}", 1_000_000))
        await ws.send('[4, "nobody-asked-either", "GenericError", "no", {}]')
        assert await _served(ws, "still-up")  # the frames before it have all been read
        assert conn._response_queue.qsize() == 0
        assert sum(len(e.frame) for e in cpo.platform.ocpp_log._queue) < 41 * 5000  # not 40 MB waiting
        log = [e for e in await cpo.platform.ocpp_log.query(charger_id="CP-1")
               if e.direction == "in" and e.message_type in (3, 4)]
        assert len(log) == 41  # logged (cut), each of them, with the message id
        assert log[0].unique_id == "nobody-asked-0"
        for n, entry in enumerate(log[:40]):
            sent = _result(f"nobody-asked-{n}", 1_000_000)
            assert entry.frame == sent[:4096] + f"…[cut: {len(sent) - 4096} of {len(sent)} characters not kept]"
        assert log[40].frame == '[4, "nobody-asked-either", "GenericError", "no", {}]'  # short: kept whole


async def test_only_the_awaited_answer_is_taken_and_only_once(make_instance):
    cpo = await _cpo(make_instance)
    gateway = cpo.platform.gateway
    async with _connect(cpo) as ws:
        await wait_for(lambda: gateway.is_connected("CP-1"))
        conn = gateway.connections["CP-1"]
        asked = asyncio.create_task(gateway.call("CP-1", call.GetConfiguration(key=["HeartbeatInterval"])))
        frame = await _answer(ws)
        assert frame[0] == 2 and frame[2] == "GetConfiguration"
        await ws.send(_result("a-guess", 100))  # not what we asked
        answer = [3, frame[1], {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}]
        for _ in range(5):  # the right answer, and then four more copies of it
            await ws.send(orjson.dumps(answer).decode())
        result = await asyncio.wait_for(asked, 5)
        assert result.configuration_key[0]["value"] == "300"
        assert await _served(ws, "hb-1")
        assert conn._response_queue.qsize() == 0  # the copies were not kept for the next CALL
        # an answer that comes after we stopped waiting is not kept either
        with pytest.raises(TimeoutError):
            await gateway.call("CP-1", call.GetConfiguration(), timeout=0.2)
        late = await _answer(ws)
        await ws.send(orjson.dumps([3, late[1], {"configurationKey": []}]).decode())
        assert await _served(ws, "hb-2")
        assert conn._response_queue.qsize() == 0
        # and the next CALL gets its own answer
        asked = asyncio.create_task(gateway.call("CP-1", call.GetConfiguration(key=["X"])))
        frame = await _answer(ws)
        await ws.send(orjson.dumps([3, frame[1], {"unknownKey": ["X"]}]).decode())
        assert (await asyncio.wait_for(asked, 5)).unknown_key == ["X"]


@pytest.mark.slow
async def test_four_hundred_unsolicited_megabyte_results_leave_memory_and_log_bounded(make_instance):
    cpo = await _cpo(make_instance)
    async with _connect(cpo) as ws:
        await wait_for(lambda: cpo.platform.gateway.is_connected("CP-1"))
        await _served(ws, "warm-up")
        before = _rss()
        for n in range(400):
            await ws.send(_result(f"nobody-asked-{n}", 1_000_000))
        await ws.send('[2, "still-up", "Heartbeat", {}]')
        assert (await _answer(ws, 30))[:2] == [3, "still-up"]
        await cpo.platform.ocpp_log.flush()
        assert _rss() - before < 150_000_000  # 400 MB were sent
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1", limit=1000)
    assert sum(len(e.frame) for e in log) < 400 * 70_000


def _rss() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------- frame size and nesting


async def test_a_frame_over_the_size_limit_closes_the_connection(make_instance):
    cpo = await _cpo(make_instance, ocpp_max_frame_bytes=65536)
    async with _connect(cpo, max_size=None) as ws:
        data = "x" * 60_000
        await ws.send(orjson.dumps([2, "fits", "DataTransfer", {"vendorId": "acme", "data": data}]).decode())
        assert (await _answer(ws))[:2] == [3, "fits"]
        await ws.send(orjson.dumps([2, "too-big", "DataTransfer", {"vendorId": "acme", "data": data * 2}]).decode())
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1009  # message too big
    assert not any(e.unique_id == "too-big" for e in await cpo.platform.ocpp_log.query(charger_id="CP-1"))


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("version", "code"), [("1.6", "FormationViolation"), ("2.0.1", "FormatViolation")])
async def test_deeply_nested_json_gets_a_format_error_promptly(make_instance, version, code):
    cpo = await _cpo(make_instance)
    async with _connect(cpo, version) as ws:
        frames = {
            "deep-100000": f'[2, "deep-100000", "DataTransfer", {{"vendorId": "acme", "data": {_nested(100_000)}}}]',
            "deep-1000": f'[2, "deep-1000", "DataTransfer", {{"vendorId": "acme", "data": {_nested(1000)}}}]',
            "deep-33": f'[2, "deep-33", "DataTransfer", {{"vendorId": "acme", "data": {_nested(31)}}}]',
            # not JSON to a strict parser (NaN), so it takes the lenient one: nesting checked there too
            "deep-nan": f'[2, "deep-nan", "DataTransfer", {{"vendorId": "acme", "data": {_nested(600)}, "x": NaN}}]',
            "deep-result": f'[3, "deep-result", {_nested(100_000)}]',
        }
        for message_id, frame in frames.items():
            await ws.send(frame)
            if message_id == "deep-result":
                assert await _served(ws, "after-result")
                continue
            answer = await _answer(ws, 2.0)
            assert answer[:3] == [4, message_id, code], (message_id, answer)
        # nesting within the limit is read as usual
        await ws.send(f'[2, "deep-ok", "DataTransfer", {{"vendorId": "acme", "data": {_nested(20)}}}]')
        assert (await _answer(ws))[1] == "deep-ok"
        assert await _served(ws, "still-up")
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1")
    assert max(len(e.frame) for e in log) < 70_000


async def test_an_overlong_message_id_is_refused(make_instance):
    cpo = await _cpo(make_instance)
    async with _connect(cpo) as ws:
        long_id = "m" * 100_000
        await ws.send(f'[2, "{long_id}", "Heartbeat", {{}}]')
        answer = await _answer(ws)
        assert answer[0] == 4 and answer[2] == "FormationViolation"
        assert await _served(ws, "x" * 36)  # the spec's 36 characters are fine


# ---------------------------------------------------------------------- a flood of CALLs


async def test_a_flood_of_calls_is_held_back_not_queued(make_instance, monkeypatch):
    cpo = await _cpo(make_instance, ocpp_max_pending_calls=4)
    real = ChargerConnection._dispatch

    async def slow(self, msg):  # a busy database: each CALL takes a few milliseconds
        await asyncio.sleep(0.003)
        await real(self, msg)

    monkeypatch.setattr(ChargerConnection, "_dispatch", slow)
    async with _connect(cpo) as ws:
        await wait_for(lambda: cpo.platform.gateway.is_connected("CP-1"))
        conn = cpo.platform.gateway.connections["CP-1"]
        most = 0

        async def watch():
            nonlocal most
            while True:
                most = max(most, conn._calls.qsize())
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        try:
            sent = 300
            await asyncio.gather(*[ws.send(f'[2, "flood-{n}", "Heartbeat", {{}}]') for n in range(sent)])
            answers = [(await _answer(ws))[:2] for _ in range(sent)]
        finally:
            watcher.cancel()
        assert answers == [[3, f"flood-{n}"] for n in range(sent)]  # every one answered, in order
        assert 1 <= most <= 4
