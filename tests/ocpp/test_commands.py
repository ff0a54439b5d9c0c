"""OCPI commands end to end: an eMSP posts START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION and UNLOCK_CONNECTOR to the CPO's commands receiver; the CPO answers a
CommandResponse, sends the matching OCPP CALL to an `ocpp`-library charge point over a real
WebSocket, and POSTs the CommandResult to the command's response_url (a recording server)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from charge_points import COMMANDED, DRIVER_TAG, PASSWORD, charge_point, iso, past
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from evroam.demo import load_demo
from harness import auth, free_socket, serve_app, wait_for

EMSP_TOKEN = "emsp-token-c"
OTHER_TOKEN = "other-emsp-token-c"
TOKEN = {"country_code": "DE", "party_id": "MSP", "uid": DRIVER_TAG, "type": "RFID",
         "contract_id": "DE-MSP-C00001-1", "issuer": "MSP", "valid": True, "whitelist": "ALLOWED",
         "last_updated": "2024-05-01T10:00:00Z"}


class ResultsReceiver:
    """The eMSP's response_url: records every CommandResult POSTed to /results/{name}."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = {}
        self.sock = free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/results/{name}")
        async def receive(name: str, request: Request):
            self.received.setdefault(name, []).append(await request.json())
            return JSONResponse({"status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})

        return app

    def response_url(self, name: str) -> str:
        return f"{self.url}/results/{name}"

    async def result(self, name: str, timeout: float = 10.0) -> dict:  # noqa: ASYNC109
        return (await wait_for(lambda: self.received.get(name), timeout=timeout))[0]


@pytest.fixture
async def results():
    receiver = ResultsReceiver()
    server, task = await serve_app(receiver.app(), receiver.sock)
    yield receiver
    server.should_exit = True
    await task


async def cpo_with_charger(make_instance, **extra):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",),
                              extra={"session_push_interval": 0, **extra})
    assert await load_demo(cpo.platform)
    await cpo.add_partner("emsp", EMSP_TOKEN, [("EMSP", "DE", "MSP")])
    await cpo.add_partner("other", OTHER_TOKEN, [("EMSP", "FR", "OTH")])
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})
    return cpo


async def command(cpo, name: str, body: dict, token: str = EMSP_TOKEN) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{cpo.url}/ocpi/2.2.1/cpo/commands/{name}", json=body, headers=auth(token))


async def boot(cp, version: str) -> None:
    if version == "1.6":
        assert (await cp.call(call16.BootNotification(charge_point_model="DC-150",
                                                      charge_point_vendor="Acme"))).status == "Accepted"
        await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    else:
        assert (await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                                       reason="PowerUp"))).status == "Accepted"
        await cp.call(call201.StatusNotification(timestamp=iso(past(0)), connector_status="Available", evse_id=1,
                                                 connector_id=1))


def start_body(results, name: str = "start", **extra) -> dict:
    return {"response_url": results.response_url(name), "token": TOKEN, "location_id": "EVR-GENT-1",
            "evse_uid": "EVR-GENT-1-E3", "authorization_reference": "AUTH-REF-1", **extra}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_remote_start_and_stop_through_ocpi_commands(make_instance, results, version):
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)

        response = await command(cpo, "START_SESSION", start_body(results))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        assert response.headers["OCPI-to-party-id"] == "MSP"

        result = await results.result("start")
        assert result["result"] == "ACCEPTED"
        action, payload = cp.received[0]
        if version == "1.6":
            assert action == "RemoteStartTransaction"
            assert payload["id_tag"] == DRIVER_TAG and payload["connector_id"] == 1
            started = await cp.call(call16.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                            timestamp=iso(past(1))))
            assert started.id_tag_info["status"] == "Accepted"
            tx_id = str(started.transaction_id)
        else:
            assert action == "RequestStartTransaction"
            assert payload["id_token"] == {"id_token": DRIVER_TAG, "type": "ISO14443"} and payload["evse_id"] == 1
            tx_id = "TX-REMOTE-1"
            answer = await cp.call(call201.TransactionEvent(
                event_type="Started", timestamp=iso(past(1)), trigger_reason="RemoteStart", seq_no=0,
                transaction_info={"transaction_id": tx_id, "remote_start_id": payload["remote_start_id"],
                                  "charging_state": "Charging"},
                evse={"id": 1, "connector_id": 1}, id_token={"id_token": DRIVER_TAG, "type": "ISO14443"}))
            assert answer.id_token_info["status"] == "Accepted"
        tx = await cpo.platform.charging.get_transaction("CP-1", tx_id)
        session = await cpo.platform.charging.get_session(tx.session_id)
        assert session["auth_method"] == "COMMAND"
        assert session["authorization_reference"] == "AUTH-REF-1"
        assert (session["cdr_token"]["country_code"], session["cdr_token"]["party_id"]) == ("DE", "MSP")
        assert session["evse_uid"] == "EVR-GENT-1-E3"

        # another eMSP cannot stop it: for that party the session does not exist
        stop = {"response_url": results.response_url("stop"), "session_id": tx.session_id}
        response = await command(cpo, "STOP_SESSION", stop, token=OTHER_TOKEN)
        assert response.json()["data"]["result"] == "UNKNOWN_SESSION"
        response = await command(cpo, "STOP_SESSION", {**stop, "session_id": "no-such-session"})
        assert response.json()["data"]["result"] == "UNKNOWN_SESSION"

        response = await command(cpo, "STOP_SESSION", stop)
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("stop"))["result"] == "ACCEPTED"
        action, payload = cp.received[-1]
        if version == "1.6":
            assert action == "RemoteStopTransaction" and payload["transaction_id"] == int(tx_id)
        else:
            assert action == "RequestStopTransaction" and payload["transaction_id"] == tx_id
    assert "stop" not in {k for k, v in results.received.items() if len(v) > 1}


async def test_start_rejected_when_the_charger_is_offline(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    response = await command(cpo, "START_SESSION", start_body(results))
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["result"] == "REJECTED" and "offline" in data["message"][0]["text"]
    await asyncio.sleep(0.3)
    assert results.received == {}


async def test_a_charger_that_never_answers_gives_timeout(make_instance, results):
    cpo = await cpo_with_charger(make_instance, command_timeout=1)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        cp.silent.add("RemoteStartTransaction")
        response = await command(cpo, "START_SESSION", start_body(results))
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 1}
        assert (await results.result("start"))["result"] == "TIMEOUT"


async def test_charger_rejection_and_callerror_become_results(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        cp.answers["RemoteStartTransaction"] = "Rejected"
        await command(cpo, "START_SESSION", start_body(results, "rejected"))
        assert (await results.result("rejected"))["result"] == "REJECTED"


async def test_bad_requests(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    response = await command(cpo, "START_SESSION", start_body(results, location_id="NO-SUCH-LOCATION"))
    assert response.status_code == 404 and response.json()["status_code"] == 2003
    response = await command(cpo, "START_SESSION", {"token": TOKEN, "location_id": "EVR-GENT-1"})
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert "response_url" in response.json()["status_message"]
    response = await command(cpo, "MAKE_COFFEE", start_body(results))
    assert response.status_code == 404 and response.json()["status_code"] == 2001
    response = await command(cpo, "START_SESSION", start_body(results), token=OTHER_TOKEN)
    assert response.status_code == 403  # a token of another eMSP
    response = await command(cpo, "UNLOCK_CONNECTOR", {"response_url": results.response_url("u"),
                                                       "location_id": "EVR-GENT-1", "evse_uid": "NO-SUCH-EVSE",
                                                       "connector_id": "1"})
    assert response.json()["status_code"] == 2003
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{cpo.url}/ocpi/2.2.1", headers=auth(EMSP_TOKEN))
    assert {"identifier": "commands", "role": "RECEIVER", "url": f"{cpo.url}/ocpi/2.2.1/cpo/commands"} \
        in response.json()["data"]["endpoints"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_reserve_cancel_and_unlock(make_instance, results, version):
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)
        reserve = {"response_url": results.response_url("reserve"), "token": TOKEN,
                   "expiry_date": iso(past(-30)), "reservation_id": "RES-1", "location_id": "EVR-GENT-1",
                   "evse_uid": "EVR-GENT-1-E3"}
        assert (await command(cpo, "RESERVE_NOW", reserve)).json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("reserve"))["result"] == "ACCEPTED"
        action, payload = cp.received[-1]
        assert action == "ReserveNow"
        async with cpo.platform.store.connect() as conn:
            stored = await cpo.platform.store.reservations.find(conn, "DE", "MSP", "RES-1")
        assert stored.status == "ACCEPTED"
        if version == "1.6":
            assert payload["reservation_id"] == stored.pk and payload["connector_id"] == 1
            assert payload["id_tag"] == DRIVER_TAG
        else:
            assert payload["id"] == stored.pk and payload["evse_id"] == 1
            assert payload["id_token"]["id_token"] == DRIVER_TAG

        cp.answers["ReserveNow"] = "Occupied"
        await command(cpo, "RESERVE_NOW", {**reserve, "reservation_id": "RES-2",
                                           "response_url": results.response_url("occupied")})
        assert (await results.result("occupied"))["result"] == "EVSE_OCCUPIED"

        cancel = {"response_url": results.response_url("cancel"), "reservation_id": "RES-1"}
        assert (await command(cpo, "CANCEL_RESERVATION", cancel, token=OTHER_TOKEN)).json()["data"]["result"] \
            == "ACCEPTED"
        assert (await results.result("cancel"))["result"] == "UNKNOWN_RESERVATION"  # not that eMSP's
        cancel["response_url"] = results.response_url("cancel-mine")
        assert (await command(cpo, "CANCEL_RESERVATION", cancel)).json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("cancel-mine"))["result"] == "ACCEPTED"
        assert cp.received[-1] == ("CancelReservation", {"reservation_id": stored.pk})

        unlock = {"response_url": results.response_url("unlock"), "location_id": "EVR-GENT-1",
                  "evse_uid": "EVR-GENT-1-E3", "connector_id": "1"}
        assert (await command(cpo, "UNLOCK_CONNECTOR", unlock)).json()["data"]["result"] == "ACCEPTED"
        assert (await results.result("unlock"))["result"] == "ACCEPTED"
        action, payload = cp.received[-1]
        assert action == "UnlockConnector"
        assert payload == ({"connector_id": 1} if version == "1.6" else {"evse_id": 1, "connector_id": 1})
        cp.answers["UnlockConnector"] = "UnlockFailed"
        await command(cpo, "UNLOCK_CONNECTOR", {**unlock, "response_url": results.response_url("unlock-failed")})
        assert (await results.result("unlock-failed"))["result"] == "FAILED"
