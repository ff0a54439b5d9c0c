"""OCPP 2.1 command paths. A 2.1 charger gets the 2.0.1 messages built with the `ocpp.v21`
classes (and validated by the charge point against the 2.1 schemas). What 2.1 adds and the
platform uses: statusInfo reasons in answers become the CommandResult's message, the
remoteStartId alone pairs a transaction with its START_SESSION (the idToken may come later),
SignV2G20Certificate can be triggered. The OCPI commands and the operator commands common to
all versions are also run against 2.1 in test_commands.py and test_commands_operator.py."""

from __future__ import annotations

import pytest
from charge_points import DRIVER_TAG, charge_point, iso, past
from ocpp.v21 import call as call21
from test_commands import (
    ERRING,
    TOKEN,
    boot,
    command,
    cpo_with_charger,
    pending_remote_starts,
    reserve_body,
    results_receiver,
    start_body,
    unlock_body,
)
from test_commands_operator import admin

from evroam.ocpp import commands as ocpp_commands


@pytest.fixture
async def results():
    async with results_receiver() as receiver:
        yield receiver


def text(result: dict) -> str:
    return result["message"][0]["text"]


async def test_every_ocpi_command_on_an_ocpp21_charger(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", version="2.1", cls=ERRING["2.1"]) as cp:
        await boot(cp, "2.1")

        assert (await command(cpo, "START_SESSION", start_body(results))).json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("start"))["result"] == "ACCEPTED"
        action, payload = cp.received[-1]
        assert action == "RequestStartTransaction"
        assert payload["id_token"] == {"id_token": DRIVER_TAG, "type": "ISO14443"} and payload["evse_id"] == 1
        # Started without an idToken: the remoteStartId alone says whose transaction it is
        answer = await cp.call(call21.TransactionEvent(
            event_type="Started", timestamp=iso(past(2)), trigger_reason="RemoteStart", seq_no=0,
            transaction_info={"transaction_id": "TX-21", "remote_start_id": payload["remote_start_id"],
                              "charging_state": "EVConnected"}, evse={"id": 1, "connector_id": 1}))
        assert answer.id_token_info is None
        tx = await cpo.platform.charging.get_transaction("CP-1", "TX-21")
        session = await cpo.platform.charging.get_session(tx.session_id)
        assert (session["auth_method"], session["authorization_reference"]) == ("COMMAND", "AUTH-REF-1")
        assert session["cdr_token"]["contract_id"] == "DE-MSP-C00001-1"
        assert await pending_remote_starts(cpo) == []

        cp.answers["RequestStopTransaction"] = "Rejected"
        cp.status_info["RequestStopTransaction"] = {"reason_code": "TxNotFound",
                                                    "additional_info": "no such transaction here"}
        stop = {"response_url": results.response_url("stop"), "session_id": tx.session_id}
        assert (await command(cpo, "STOP_SESSION", stop)).json()["data"]["result"] == "ACCEPTED"
        result = await results.result("stop")
        assert result["result"] == "REJECTED"
        assert text(result) == "the charge point answered Rejected (TxNotFound: no such transaction here)"
        assert cp.received[-1] == ("RequestStopTransaction", {"transaction_id": "TX-21"})

        app_token = {**TOKEN, "uid": "APP-USER-7", "type": "APP_USER"}
        assert (await command(cpo, "RESERVE_NOW", reserve_body(results, token=app_token))).json()["data"][
            "result"] == "ACCEPTED"
        assert (await results.result("reserve"))["result"] == "ACCEPTED"
        action, payload = cp.received[-1]
        assert action == "ReserveNow"
        assert payload["id_token"] == {"id_token": "APP-USER-7", "type": "Central"} and payload["evse_id"] == 1

        cp.errors["CancelReservation"] = RuntimeError("reservation table locked")
        cancel = {"response_url": results.response_url("cancel"), "reservation_id": "RES-1"}
        assert (await command(cpo, "CANCEL_RESERVATION", cancel)).json()["data"]["result"] == "ACCEPTED"
        result = await results.result("cancel")
        assert result["result"] == "FAILED" and "CancelReservation with error InternalError" in text(result)
        async with cpo.platform.store.connect() as conn:  # not canceled: the charger failed to
            assert (await cpo.platform.store.reservations.find(conn, "DE", "MSP", "RES-1")).status == "ACCEPTED"

        cp.answers["UnlockConnector"] = "OngoingAuthorizedTransaction"
        assert (await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results))).json()["data"]["result"] == "ACCEPTED"
        result = await results.result("unlock")
        assert result["result"] == "REJECTED" and text(result) == \
            "the charge point answered OngoingAuthorizedTransaction"
        assert cp.received[-1] == ("UnlockConnector", {"evse_id": 1, "connector_id": 1})


async def test_triggers_that_only_ocpp21_has(make_instance):
    with pytest.raises(ocpp_commands.Unsupported, match="cannot trigger 'SignV2G20Certificate'"):
        ocpp_commands.trigger_message("2.0.1", "SignV2G20Certificate", evse_number=None)
    assert type(ocpp_commands.trigger_message("2.1", "signv2g20certificate", evse_number=None)).__module__ \
        == "ocpp.v21.call"
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", version="2.1", cls=ERRING["2.1"]) as cp:
        await boot(cp, "2.1")
        reply = await admin(cpo, "POST", "/trigger", json={"message": "signv2g20certificate"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["ocpp_version"] == "2.1" and reply.json()["answer"]["status"] == "Accepted"
        assert cp.received[-1] == ("TriggerMessage", {"requested_message": "SignV2G20Certificate"})
        cp.errors["Reset"] = RuntimeError("busy")
        reply = await admin(cpo, "POST", "/reset", json={"hard": False})
        assert reply.status_code == 502 and "InternalError" in reply.json()["detail"]
        assert cp.received[-1] == ("Reset", {"type": "OnIdle"})
