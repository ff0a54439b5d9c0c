"""OCPI commands against the session in progress (OCPI 2.2.1 commands module, CPO side): an eMSP
may unlock the connector of an EVSE only when no session is in progress there or the session is
its own driver's, and may stop only its own drivers' sessions. Anything else gets its
CommandResponse at once (REJECTED with a message for UNLOCK_CONNECTOR, UNKNOWN_SESSION for
STOP_SESSION: for that eMSP the session does not exist) and the `ocpp`-library charge point
receives no CALL. Our own drivers' sessions belong to no partner, even one whose stored roles
name our party."""

from __future__ import annotations

import asyncio

import pytest
from charge_points import COMMANDED, DRIVER_TAG, charge_point, iso, past
from ocpp.v16 import call as call16
from test_commands import (
    EMSP_TOKEN,
    OTHER_TOKEN,
    TOKEN,
    boot,
    command,
    cpo_with_charger,
    results_receiver,
    unlock_body,
)

from harness import auth, httpx

HOSTILE_TOKEN = "hostile-emsp-token-c"
LOCAL_TAG = "LOCAL-DRIVER-1"


@pytest.fixture
async def results():
    async with results_receiver() as receiver:
        yield receiver


async def push_token(cpo, token: dict, bearer: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.put(f"{cpo.url}/ocpi/2.2.1/cpo/tokens/{token['country_code']}/{token['party_id']}/"
                           f"{token['uid']}", json=token, headers=auth(bearer))
    assert r.status_code == 201, r.text


async def start(cp, connector_id: int, tag: str) -> int:
    started = await cp.call(call16.StartTransaction(connector_id=connector_id, id_tag=tag, meter_start=0,
                                                    timestamp=iso(past(1))))
    assert started.id_tag_info["status"] == "Accepted"
    return started.transaction_id


def sent(cp, action: str) -> list[dict]:
    return [payload for name, payload in cp.received if name == action]


def rejected(response: httpx.Response) -> str:
    """The message of a REJECTED CommandResponse (answered with OCPI status 1000)."""
    assert response.status_code == 200 and response.json()["status_code"] == 1000, response.text
    data = response.json()["data"]
    assert data["result"] == "REJECTED", data
    return data["message"][0]["text"]


async def test_only_the_emsp_of_the_session_in_progress_unlocks_or_stops(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    # a partner whose stored roles name our party (NL/CPO) beside its own
    await cpo.add_partner("hostile", HOSTILE_TOKEN, [("EMSP", "NL", "CPO"), ("EMSP", "BE", "HOS")])
    await push_token(cpo, TOKEN, EMSP_TOKEN)  # eMSP A (DE/MSP)'s driver
    await cpo.platform.tokens.add_own({"uid": LOCAL_TAG})  # one of our own drivers
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        tx_a = await start(cp, 1, DRIVER_TAG)  # A's session on EVSE EVR-GENT-1-E3
        tx_local = await start(cp, 2, LOCAL_TAG)  # our driver's on EVR-GENT-1-E1
        session_a = (await cpo.platform.charging.get_transaction("CP-1", str(tx_a))).session_id
        session_local = (await cpo.platform.charging.get_transaction("CP-1", str(tx_local))).session_id

        # eMSP B (FR/OTH) cannot unlock A's driver's connector, nor stop A's session
        text = rejected(await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, "b-unlock"), token=OTHER_TOKEN))
        assert "another eMSP" in text
        stop_a = {"response_url": results.response_url("b-stop"), "session_id": session_a}
        response = await command(cpo, "STOP_SESSION", stop_a, token=OTHER_TOKEN)
        assert response.json()["data"]["result"] == "UNKNOWN_SESSION"

        # nobody's partner can unlock or stop our own driver's session, not even one claiming our party
        local_unlock = unlock_body(results, "local-unlock", evse_uid="EVR-GENT-1-E1")
        for token in (EMSP_TOKEN, OTHER_TOKEN, HOSTILE_TOKEN):
            assert "another eMSP" in rejected(await command(cpo, "UNLOCK_CONNECTOR", local_unlock, token=token))
            stop_local = {"response_url": results.response_url("local-stop"), "session_id": session_local}
            response = await command(cpo, "STOP_SESSION", stop_local, token=token)
            assert response.json()["data"]["result"] == "UNKNOWN_SESSION", token
        await asyncio.sleep(0.3)
        assert sent(cp, "UnlockConnector") == [] and sent(cp, "RemoteStopTransaction") == []
        assert results.received == {}  # no command was accepted: no CommandResult follows

        # A unlocks its own driver's connector
        response = await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, "a-unlock"))
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("a-unlock"))["result"] == "ACCEPTED"
        assert sent(cp, "UnlockConnector") == [{"connector_id": 1}]

        # once our driver's session has ended, the EVSE is free: anyone may unlock it
        await cp.call(call16.StopTransaction(meter_stop=1000, timestamp=iso(past(0)), transaction_id=tx_local))
        response = await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, "b-free", evse_uid="EVR-GENT-1-E1"),
                                 token=OTHER_TOKEN)
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("b-free"))["result"] == "ACCEPTED"
        assert sent(cp, "UnlockConnector") == [{"connector_id": 1}, {"connector_id": 2}]
