"""Nothing acknowledged is lost: OCPI commands the CPO accepted still get their CommandResult
when the platform restarts while the charger's answer is awaited (TIMEOUT at the command's
deadline), when the eMSP is unreachable for a while (the outbox retries, across a restart too),
and a remote start accepted before a restart is still paired with the transaction the charger
starts after it (the Session carries the command's token and authorization reference)."""

from __future__ import annotations

import asyncio

import pytest
from charge_points import COMMANDED, DRIVER_TAG, charge_point
from test_commands import (
    START_ACTION,
    boot,
    command,
    cpo_with_charger,
    pending_remote_starts,
    reserve_body,
    results_receiver,
    start_body,
    start_transaction,
    stored_commands,
    unlock_body,
)

from harness import wait_for


@pytest.fixture
async def results():
    async with results_receiver() as receiver:
        yield receiver


async def test_results_owed_at_a_restart_are_sent_as_timeout_at_their_deadline(make_instance, results):
    cpo = await cpo_with_charger(make_instance, command_timeout=3)
    loop = asyncio.get_running_loop()
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        cp.silent.add("RemoteStartTransaction")  # (the charger then handles nothing else: 1.6 is one at a time)
        sent_at = loop.time()
        assert (await command(cpo, "START_SESSION", start_body(results))).json()["data"] == \
            {"result": "ACCEPTED", "timeout": 3}
        assert (await command(cpo, "RESERVE_NOW", reserve_body(results))).json()["data"]["result"] == "ACCEPTED"
        await wait_for(lambda: cp.received)
        await cpo.stop()  # the process goes away while both wait for the charger's answer
    assert results.received == {}

    await cpo.start()
    waiting = await stored_commands(cpo)
    assert sorted((c.command, c.status) for c in waiting) == [("RESERVE_NOW", "WAITING"), ("START_SESSION", "WAITING")]
    assert await cpo.platform.commands.resume() == 0  # already resumed by the server: not twice

    assert (await results.result("start"))["result"] == "TIMEOUT"
    assert loop.time() - sent_at >= 2.9  # at the deadline, not at the restart
    result = await results.result("reserve")
    assert result == {"result": "TIMEOUT", "message": [{"language": "en",
                                                        "text": "the charge point did not answer in time"}]}
    async with cpo.platform.store.connect() as conn:
        assert (await cpo.platform.store.reservations.find(conn, "DE", "MSP", "RES-1")).status == "TIMEOUT"
    done = await stored_commands(cpo)
    assert {(c.command, c.status, c.result) for c in done} == {("START_SESSION", "DONE", "TIMEOUT"),
                                                               ("RESERVE_NOW", "DONE", "TIMEOUT")}
    async with cpo.platform.store.begin() as conn:  # a result is given once, whoever comes second
        assert await cpo.platform.store.received_commands.finish(conn, done[0].pk, "ACCEPTED", None) is None
    await asyncio.sleep(0.5)
    assert {k: len(v) for k, v in results.received.items()} == {"start": 1, "reserve": 1}


async def test_a_deadline_passed_while_the_platform_was_down_gives_timeout_at_once(make_instance, results):
    cpo = await cpo_with_charger(make_instance, command_timeout=1)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["2.0.1"], version="2.0.1") as cp:
        await boot(cp, "2.0.1")
        cp.silent.add("UnlockConnector")
        assert (await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results))).json()["data"]["result"] == "ACCEPTED"
        await wait_for(lambda: cp.received)
        await cpo.stop()
    await asyncio.sleep(1.2)
    assert results.received == {}
    await cpo.start()
    assert (await results.result("unlock", timeout=3))["result"] == "TIMEOUT"


async def test_a_result_survives_an_emsp_outage_and_a_restart(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    results.down = True
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        assert (await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results))).json()["data"]["result"] == "ACCEPTED"
        await wait_for(lambda: results.refused >= 2)  # answered by the charger, refused by the eMSP, retried
        assert [(c.status, c.result) for c in await stored_commands(cpo)] == [("DONE", "ACCEPTED")]
        await cpo.stop()
    await cpo.start()
    refused = results.refused
    await wait_for(lambda: results.refused > refused)  # the restarted outbox keeps trying
    results.down = False
    assert (await results.result("unlock"))["result"] == "ACCEPTED"
    await asyncio.sleep(0.5)
    assert len(results.received["unlock"]) == 1


@pytest.mark.parametrize(("version", "answered_before_restart"), [("1.6", True), ("2.0.1", False)])
async def test_a_remote_start_accepted_before_a_restart_is_paired_after_it(make_instance, results, version,
                                                                          answered_before_restart):
    """The charger starts the transaction after the platform restarted: its Session is the
    command's (auth_method COMMAND, the eMSP's authorization_reference and token), whether the
    charger's Accepted arrived before the restart or went with the old connection (then the
    eMSP gets TIMEOUT, and still the session)."""
    cpo = await cpo_with_charger(make_instance, command_timeout=2)
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)
        if not answered_before_restart:
            cp.silent.add(START_ACTION[version])
        assert (await command(cpo, "START_SESSION", start_body(results))).json()["data"]["result"] == "ACCEPTED"
        if answered_before_restart:
            assert (await results.result("start"))["result"] == "ACCEPTED"
        await wait_for(lambda: cp.received)
        remote_start_id = cp.received[0][1].get("remote_start_id")
        await cpo.stop()

    await cpo.start()
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)
        info = await start_transaction(cp, version, remote_start_id)
        assert info["status"] == "Accepted"
    tx = await cpo.platform.charging.get_transaction("CP-1", info["transaction_id"])
    session = await cpo.platform.charging.get_session(tx.session_id)
    assert session["auth_method"] == "COMMAND"
    assert session["authorization_reference"] == "AUTH-REF-1"
    # the command's token (the CPO never had it in its tokens): stored with the expectation
    assert (session["cdr_token"]["uid"], session["cdr_token"]["contract_id"]) == (DRIVER_TAG, "DE-MSP-C00001-1")
    assert await pending_remote_starts(cpo) == []  # used once
    if not answered_before_restart:
        assert (await results.result("start"))["result"] == "TIMEOUT"
    assert len(results.received["start"]) == 1
