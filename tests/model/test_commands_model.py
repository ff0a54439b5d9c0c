"""Command request/response objects (OCPI 2.2.1 shape)."""

from __future__ import annotations

import pytest

from evroam.model.commands import (
    COMMAND_REQUESTS,
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)

RESPONSE_URL = "https://emsp.example.com/ocpi/emsp/2.2.1/commands/START_SESSION/1234"


def _starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


@pytest.fixture
def token(example):
    return example("token_example_2_full_rfid.json")


def test_start_session_round_trip(token):
    data = {
        "response_url": RESPONSE_URL,
        "token": token,
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "authorization_reference": "AUTH-42",
    }
    cmd = StartSession.model_validate(data)
    assert cmd.token.uid == "12345678905880"
    assert cmd.to_dict() == data


def test_start_session_minimal(token):
    data = {"response_url": RESPONSE_URL, "token": token, "location_id": "LOC1"}
    assert StartSession.model_validate(data).to_dict() == data


def test_start_session_connector_needs_evse(token, invalid):
    data = {"response_url": RESPONSE_URL, "token": token, "location_id": "LOC1", "connector_id": "1"}
    assert invalid(StartSession, data) == ["evse_uid: required when connector_id is set"]


def test_start_session_token_errors_name_the_path(token, invalid):
    del token["contract_id"]
    token["whitelist"] = "MAYBE"
    lines = invalid(StartSession, {"response_url": RESPONSE_URL, "token": token})
    assert _starts(lines, "token.contract_id: Field required")
    assert _starts(lines, "token.whitelist: Input should be")
    assert _starts(lines, "location_id: Field required")


def test_stop_session(invalid):
    data = {"response_url": RESPONSE_URL, "session_id": "101"}
    assert StopSession.model_validate(data).to_dict() == data
    assert invalid(StopSession, {"response_url": RESPONSE_URL, "session_id": "s" * 37}) == [
        "session_id: String should have at most 36 characters"
    ]
    assert invalid(StopSession, {"session_id": "101"}) == ["response_url: Field required"]


def test_reserve_now(token, invalid):
    data = {
        "response_url": RESPONSE_URL,
        "token": token,
        "expiry_date": "2020-03-09T11:17:09Z",
        "reservation_id": "R-1",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "authorization_reference": "AUTH-43",
    }
    cmd = ReserveNow.model_validate(data)
    assert cmd.expiry_date.hour == 11
    assert cmd.to_dict() == data
    bad = dict(data, expiry_date="tomorrow", reservation_id=17)
    lines = invalid(ReserveNow, bad)
    assert _starts(lines, "expiry_date: Value error")
    assert _starts(lines, "reservation_id: Input should be a valid string")


def test_reserve_now_normalises_offset_datetimes(token):
    data = {
        "response_url": RESPONSE_URL,
        "token": token,
        "expiry_date": "2020-03-09T12:17:09+01:00",
        "reservation_id": "R-1",
        "location_id": "LOC1",
    }
    assert ReserveNow.model_validate(data).to_dict()["expiry_date"] == "2020-03-09T11:17:09Z"


def test_cancel_reservation_and_unlock(invalid):
    cancel = {"response_url": RESPONSE_URL, "reservation_id": "R-1"}
    assert CancelReservation.model_validate(cancel).to_dict() == cancel
    unlock = {"response_url": RESPONSE_URL, "location_id": "LOC1", "evse_uid": "3256", "connector_id": "1"}
    assert UnlockConnector.model_validate(unlock).to_dict() == unlock
    del unlock["evse_uid"]
    assert invalid(UnlockConnector, unlock) == ["evse_uid: Field required"]


def test_command_requests_table_covers_every_command():
    assert set(COMMAND_REQUESTS) == set(CommandType)
    assert COMMAND_REQUESTS[CommandType.CANCEL_RESERVATION] is CancelReservation


def test_command_response(invalid):
    data = {
        "result": "ACCEPTED",
        "timeout": 30,
        "message": [{"language": "en", "text": "Sent to the charger"}],
    }
    resp = CommandResponse.model_validate(data)
    assert resp.result is CommandResponseType.ACCEPTED
    assert resp.to_dict() == data
    assert CommandResponse.model_validate({"result": "UNKNOWN_SESSION", "timeout": 0}).to_dict() == {
        "result": "UNKNOWN_SESSION",
        "timeout": 0,
    }
    # TIMEOUT was a 2.1.1 response value; in 2.2.1 it is a CommandResult.
    assert _starts(invalid(CommandResponse, {"result": "TIMEOUT", "timeout": 30}), "result: Input should be")
    assert invalid(CommandResponse, {"result": "ACCEPTED"}) == ["timeout: Field required"]
    assert _starts(invalid(CommandResponse, {"result": "ACCEPTED", "timeout": -1}), "timeout: ")


def test_command_result(invalid):
    data = {"result": "EVSE_OCCUPIED", "message": [{"language": "nl", "text": "EVSE is bezet"}]}
    res = CommandResult.model_validate(data)
    assert res.result is CommandResultType.EVSE_OCCUPIED
    assert res.to_dict() == data
    assert {v.value for v in CommandResultType} == {
        "ACCEPTED",
        "CANCELED_RESERVATION",
        "EVSE_OCCUPIED",
        "EVSE_INOPERATIVE",
        "FAILED",
        "NOT_SUPPORTED",
        "REJECTED",
        "TIMEOUT",
        "UNKNOWN_RESERVATION",
    }
    lines = invalid(CommandResult, {"result": "DONE", "message": [{"language": "english", "text": "x"}]})
    assert _starts(lines, "result: Input should be")
    assert _starts(lines, "message[0].language: String should have at most 2 characters")
