"""OCPI commands end to end: an eMSP posts START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION and UNLOCK_CONNECTOR to the CPO's commands receiver; the CPO answers a
CommandResponse, sends the matching OCPP CALL to an `ocpp`-library charge point (OCPP 1.6,
2.0.1 and 2.1) over a real WebSocket, and POSTs the CommandResult to the command's response_url
(a recording server). Chargers that refuse, answer with a CALLERROR, stay silent or are offline
give the results and responses the OCPI commands module defines."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from charge_points import COMMANDED, DRIVER_TAG, PASSWORD, charge_point, iso, past
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ocpp.exceptions import GenericError, NotImplementedError, NotSupportedError
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from evroam.demo import load_demo
from harness import auth, free_socket, serve_app, wait_for

EMSP_TOKEN = "emsp-token-c"
OTHER_TOKEN = "other-emsp-token-c"
TOKEN = {"country_code": "DE", "party_id": "MSP", "uid": DRIVER_TAG, "type": "RFID",
         "contract_id": "DE-MSP-C00001-1", "issuer": "MSP", "valid": True, "whitelist": "ALLOWED",
         "last_updated": "2024-05-01T10:00:00Z"}
CALLS = {"1.6": call16, "2.0.1": call201, "2.1": call21}
START_ACTION = {"1.6": "RemoteStartTransaction", "2.0.1": "RequestStartTransaction", "2.1": "RequestStartTransaction"}


class ResultsReceiver:
    """The eMSP's response_url: records every CommandResult POSTed to /results/{name}."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = {}
        self.refused = 0  # POSTs answered 503 while `down`
        self.down = False
        self.sock = free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/results/{name}")
        async def receive(name: str, request: Request):
            if self.down:
                self.refused += 1
                return JSONResponse({"detail": "down for maintenance"}, status_code=503)
            self.received.setdefault(name, []).append(await request.json())
            return JSONResponse({"status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})

        return app

    def response_url(self, name: str) -> str:
        return f"{self.url}/results/{name}"

    async def result(self, name: str, timeout: float = 10.0) -> dict:  # noqa: ASYNC109
        return (await wait_for(lambda: self.received.get(name), timeout=timeout))[0]


@asynccontextmanager
async def results_receiver():
    receiver = ResultsReceiver()
    server, task = await serve_app(receiver.app(), receiver.sock)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def results():
    async with results_receiver() as receiver:
        yield receiver


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
        call = CALLS[version]
        assert (await cp.call(call.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                                    reason="PowerUp"))).status == "Accepted"
        await cp.call(call.StatusNotification(timestamp=iso(past(0)), connector_status="Available", evse_id=1,
                                              connector_id=1))


async def start_transaction(cp, version: str, remote_start_id: int | None, tx_id: str = "TX-REMOTE-1") -> dict:
    """The charger starts the transaction it was asked for: 1.6 StartTransaction, 2.x a
    TransactionEvent Started with the remoteStartId. Returns the idTagInfo / idTokenInfo."""
    if version == "1.6":
        started = await cp.call(call16.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                        timestamp=iso(past(1))))
        return {**started.id_tag_info, "transaction_id": str(started.transaction_id)}
    answer = await cp.call(CALLS[version].TransactionEvent(
        event_type="Started", timestamp=iso(past(1)), trigger_reason="RemoteStart", seq_no=0,
        transaction_info={"transaction_id": tx_id, "remote_start_id": remote_start_id, "charging_state": "Charging"},
        evse={"id": 1, "connector_id": 1}, id_token={"id_token": DRIVER_TAG, "type": "ISO14443"}))
    return {**answer.id_token_info, "transaction_id": tx_id}


class Erring:
    """Mixin for a COMMANDED charge point: the actions in `errors` are answered with a CALLERROR
    (the exception the handler raises: an OCPPError gives its code, anything else InternalError);
    2.x answers carry `status_info[action]` when set."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.errors: dict[str, Exception] = {}
        self.status_info: dict[str, dict] = {}

    async def _answer(self, action: str, payload: dict, result, **fields):
        if action in self.errors:
            self.received.append((action, payload))
            raise self.errors[action]
        if action in self.status_info:
            fields["status_info"] = self.status_info[action]
        return await super()._answer(action, payload, result, **fields)


ERRING = {version: type(f"Erring{cls.__name__}", (Erring, cls), {}) for version, cls in COMMANDED.items()}


async def stored_commands(cpo) -> list:
    async with cpo.platform.store.connect() as conn:
        return await cpo.platform.store.received_commands.recent(conn)


async def pending_remote_starts(cpo, charger_id: str = "CP-1") -> list:
    from evroam.model.common import utcnow

    async with cpo.platform.store.connect() as conn:
        return await cpo.platform.store.remote_starts.pending(conn, charger_id, utcnow())


def start_body(results, name: str = "start", **extra) -> dict:
    return {"response_url": results.response_url(name), "token": TOKEN, "location_id": "EVR-GENT-1",
            "evse_uid": "EVR-GENT-1-E3", "authorization_reference": "AUTH-REF-1", **extra}


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_remote_start_and_stop_through_ocpi_commands(make_instance, results, version):
    cpo = await cpo_with_charger(make_instance)
    async with charge_point(cpo, "CP-1", version=version, cls=COMMANDED[version]) as cp:
        await boot(cp, version)

        response = await command(cpo, "START_SESSION", start_body(results))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        assert response.headers["OCPI-to-party-id"] == "MSP"

        result = await results.result("start")
        assert result == {"result": "ACCEPTED", "message": [{"language": "en",
                                                             "text": "the charge point answered Accepted"}]}
        action, payload = cp.received[0]
        assert action == START_ACTION[version]
        if version == "1.6":
            assert payload == {"id_tag": DRIVER_TAG, "connector_id": 1}
        else:
            assert payload["id_token"] == {"id_token": DRIVER_TAG, "type": "ISO14443"} and payload["evse_id"] == 1
            assert 0 < payload["remote_start_id"] < 2**31
        info = await start_transaction(cp, version, payload.get("remote_start_id"))
        assert info["status"] == "Accepted"
        tx_id = info["transaction_id"]
        assert await pending_remote_starts(cpo) == []  # used once
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


def reserve_body(results, name: str = "reserve", **extra) -> dict:
    return {"response_url": results.response_url(name), "token": TOKEN, "expiry_date": iso(past(-30)),
            "reservation_id": "RES-1", "location_id": "EVR-GENT-1", "evse_uid": "EVR-GENT-1-E3", **extra}


def unlock_body(results, name: str = "unlock", **extra) -> dict:
    return {"response_url": results.response_url(name), "location_id": "EVR-GENT-1", "evse_uid": "EVR-GENT-1-E3",
            "connector_id": "1", **extra}


async def test_commands_for_an_offline_charger_are_rejected_at_once(make_instance, results):
    """The CPO cannot send the command to the charge point: the CommandResponse says REJECTED
    (with the reason), no CommandResult follows and nothing is stored."""
    cpo = await cpo_with_charger(make_instance)
    for name, body in [("START_SESSION", start_body(results)), ("RESERVE_NOW", reserve_body(results)),
                       ("UNLOCK_CONNECTOR", unlock_body(results))]:
        response = await command(cpo, name, body)
        assert response.status_code == 200 and response.json()["status_code"] == 1000
        data = response.json()["data"]
        assert data["result"] == "REJECTED" and "offline" in data["message"][0]["text"], name
    await asyncio.sleep(0.3)
    assert results.received == {}
    assert await stored_commands(cpo) == [] and await pending_remote_starts(cpo) == []
    async with cpo.platform.store.connect() as conn:
        assert await cpo.platform.store.reservations.find(conn, "DE", "MSP", "RES-1") is None


async def test_a_charger_that_never_answers_gives_timeout(make_instance, results):
    cpo = await cpo_with_charger(make_instance, command_timeout=1)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await boot(cp, "1.6")
        cp.silent.add("RemoteStartTransaction")
        response = await command(cpo, "START_SESSION", start_body(results))
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 1}
        result = await results.result("start")
        assert result["result"] == "TIMEOUT" and "did not answer" in result["message"][0]["text"]
    assert [(c.command, c.status, c.result) for c in await stored_commands(cpo)] == \
        [("START_SESSION", "DONE", "TIMEOUT")]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_charger_rejection_and_callerror_become_results(make_instance, results, version):
    """Rejected -> REJECTED (and the refused start is not waited for); a CALLERROR -> FAILED,
    or NOT_SUPPORTED when the charger says it does not implement / support the action (OCPI:
    "the requested command is not supported by this Charge Point"); each with a message."""
    cpo = await cpo_with_charger(make_instance)
    start = START_ACTION[version]
    async with charge_point(cpo, "CP-1", version=version, cls=ERRING[version]) as cp:
        await boot(cp, version)
        cp.answers[start] = "Rejected"
        assert (await command(cpo, "START_SESSION", start_body(results, "rejected"))).json()["data"]["result"] \
            == "ACCEPTED"
        assert await results.result("rejected") == {
            "result": "REJECTED", "message": [{"language": "en", "text": "the charge point answered Rejected"}]}
        assert await pending_remote_starts(cpo) == []

        cp.errors[start] = RuntimeError("relay welded")  # the library answers InternalError
        await command(cpo, "START_SESSION", start_body(results, "internal"))
        result = await results.result("internal")
        assert result["result"] == "FAILED"
        assert result["message"][0]["text"].startswith(f"the charge point answered {start} with error InternalError")
        assert await pending_remote_starts(cpo) == []

        cp.errors["UnlockConnector"] = NotImplementedError(description="no lock motor")
        await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, "not-implemented"))
        assert await results.result("not-implemented") == {"result": "NOT_SUPPORTED", "message": [{
            "language": "en", "text": "the charge point answered UnlockConnector with error NotImplemented: "
                                      "no lock motor"}]}

        cp.errors["ReserveNow"] = NotSupportedError(description="reservations are off")
        await command(cpo, "RESERVE_NOW", reserve_body(results, "not-supported"))
        result = await results.result("not-supported")
        assert result["result"] == "NOT_SUPPORTED" and "NotSupported" in result["message"][0]["text"]
        async with cpo.platform.store.connect() as conn:
            assert (await cpo.platform.store.reservations.find(conn, "DE", "MSP", "RES-1")).status == "NOT_SUPPORTED"

        cp.errors["ReserveNow"] = GenericError(description="storage full")
        await command(cpo, "RESERVE_NOW", reserve_body(results, "generic"))
        result = await results.result("generic")
        assert result["result"] == "FAILED" and "GenericError: storage full" in result["message"][0]["text"]
        assert [a for a, _ in cp.received] == [start, start, "UnlockConnector", "ReserveNow", "ReserveNow"]
    assert sorted((c.command, c.result) for c in await stored_commands(cpo)) == [
        ("RESERVE_NOW", "FAILED"), ("RESERVE_NOW", "NOT_SUPPORTED"), ("START_SESSION", "FAILED"),
        ("START_SESSION", "REJECTED"), ("UNLOCK_CONNECTOR", "NOT_SUPPORTED")]
    await asyncio.sleep(0.3)
    assert all(len(v) == 1 for v in results.received.values())  # each result sent once


async def test_bad_requests(make_instance, results):
    cpo = await cpo_with_charger(make_instance)
    response = await command(cpo, "START_SESSION", start_body(results, location_id="NO-SUCH-LOCATION"))
    assert response.status_code == 404 and response.json()["status_code"] == 2003
    assert response.json()["data"]["result"] == "REJECTED"  # the spec's UNLOCK_CONNECTOR example
    response = await command(cpo, "START_SESSION", {"token": TOKEN, "location_id": "EVR-GENT-1"})
    assert response.status_code == 400 and response.json()["status_code"] == 2001
    assert "response_url" in response.json()["status_message"]
    response = await command(cpo, "MAKE_COFFEE", start_body(results))
    assert response.status_code == 404 and response.json()["status_code"] == 2001
    # a token of another eMSP: rejected by the CPO (OCPI: an eMSP uses only its own tokens)
    for name, body in [("START_SESSION", start_body(results)), ("RESERVE_NOW", reserve_body(results))]:
        response = await command(cpo, name, body, token=OTHER_TOKEN)
        assert response.status_code == 200 and response.json()["status_code"] == 1000
        data = response.json()["data"]
        assert data["result"] == "REJECTED" and "DE/MSP is not one of your eMSP parties" in data["message"][0]["text"]
    response = await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, evse_uid="NO-SUCH-EVSE"))
    assert response.status_code == 404 and response.json()["status_code"] == 2003
    assert response.json()["data"]["result"] == "REJECTED"
    response = await command(cpo, "UNLOCK_CONNECTOR", unlock_body(results, connector_id="9"))
    assert response.json()["status_code"] == 2003 and "connector '9'" in response.json()["status_message"]
    assert await stored_commands(cpo) == [] and await pending_remote_starts(cpo) == []  # nothing stored
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{cpo.url}/ocpi/2.2.1", headers=auth(EMSP_TOKEN))
    assert {"identifier": "commands", "role": "RECEIVER", "url": f"{cpo.url}/ocpi/2.2.1/cpo/commands"} \
        in response.json()["data"]["endpoints"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
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
        async with cpo.platform.store.connect() as conn:
            assert (await cpo.platform.store.reservations.get(conn, stored.pk)).status == "CANCELED"

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
