"""Remote commands we send as the eMSP: START_SESSION and STOP_SESSION end to end through a real
evroam CPO to an OCPP 1.6 charge point (the session is linked to its command by the
authorization_reference); against a stub CPO every other state (REJECTED, TIMEOUT, FAILED, a
late result) and every error of our CommandResult endpoint (unknown id 2003, another partner
403, a bad body 2001); commands at our own chargers; the `evroam commands` CLI."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points
from charge_points import COMMANDED, DRIVER_TAG, PASSWORD, charge_point, iso, past, roaming_pair
from cpo_records import location, session
from ocpp.v16 import call  # noqa: E402
from stub_cpo import StubCpo  # noqa: E402

from evroam.demo import load_demo
from evroam.model.common import utcnow
from evroam.services.errors import Invalid, NotFound
from harness import auth, httpx, wait_for

STUB = ("NL", "STB")


async def our_token(inst, uid: str = DRIVER_TAG) -> dict:
    s = inst.platform.settings
    async with inst.platform.store.connect() as conn:
        return await inst.platform.store.tokens.get(conn, s.country_code, s.party_id, uid, "RFID")


async def state_of(inst, command_id: str) -> str:
    async with inst.platform.store.connect() as conn:
        return (await inst.platform.store.remote_commands.get(conn, command_id)).state


async def test_start_and_stop_through_a_cpo_to_an_ocpp_charger(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    token = await our_token(emsp)
    changes: list[tuple[str, str]] = []
    emsp.platform.bus.subscribe("remote_command.changed", lambda e: changes.append((e.data["command_id"],
                                                                                   e.data["state"])))
    service = emsp.platform.remote_commands
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

        record = await service.start_session(token=token, country_code="NL", party_id="CPO",
                                             location_id="EVR-GENT-1", evse_uid="EVR-GENT-1-E3")
        cid = record["id"]
        assert record["command"] == "START_SESSION" and record["partner"] == "cpo-partner"
        assert record["state"] == "ACCEPTED" and record["result"] is None
        assert record["response"]["result"] == "ACCEPTED"
        assert record["response"]["timeout"] == cpo.platform.settings.command_timeout
        assert record["token_uid"] == DRIVER_TAG and record["authorization_reference"] == cid
        # The charger got the remote start for the driver's token on the EVSE's connector.
        action, payload = await wait_for(lambda: next(iter(cp.received), None))
        assert action == "RemoteStartTransaction" and payload["id_tag"] == DRIVER_TAG
        assert payload["connector_id"] == 1
        # The CPO posts the CommandResult to our response_url.
        done = await wait_for(lambda: _final(service, cid), timeout=10)
        assert done["state"] == "ACCEPTED" and done["result"]["result"] == "ACCEPTED"

        # The charger starts the transaction: the CPO's Session carries our authorization_reference,
        # which links it to the command.
        t0 = past(5)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                    timestamp=iso(t0)))
        tx = await cpo.platform.charging.get_transaction("CP-1", str(start.transaction_id))
        linked = await wait_for(lambda: _with_session(service, cid), timeout=10)
        assert linked["session_id"] == tx.session_id
        async with emsp.platform.store.connect() as conn:
            at_emsp = await emsp.platform.store.sessions.get(conn, "NL", "CPO", tx.session_id)
        assert at_emsp["authorization_reference"] == cid and at_emsp["auth_method"] == "COMMAND"

        stop = await service.stop_session(country_code="NL", party_id="CPO", session_id=tx.session_id)
        assert stop["command"] == "STOP_SESSION" and stop["state"] == "ACCEPTED"
        assert stop["session_id"] == tx.session_id and stop["evse_uid"] == "EVR-GENT-1-E3"
        await wait_for(lambda: any(a == "RemoteStopTransaction" for a, _ in cp.received))
        assert next(p for a, p in cp.received if a == "RemoteStopTransaction") == {
            "transaction_id": start.transaction_id}
        assert (await wait_for(lambda: _final(service, stop["id"])))["result"]["result"] == "ACCEPTED"
    await emsp.platform.bus.drain()
    assert [s for c, s in changes if c == cid][:2] == ["REQUESTED", "ACCEPTED"]
    listed = await service.list()
    assert [r["id"] for r in listed] == [stop["id"], cid]


async def _final(service, command_id: str):
    record = await service.get(command_id)
    return record if record["result"] is not None else None


async def _with_session(service, command_id: str):
    record = await service.get(command_id)
    return record if record["session_id"] else None


# ---------------------------------------------------------------------------- against a stub CPO


@pytest.fixture
async def stub():
    cpo = await StubCpo(party=STUB).start()
    yield cpo
    await cpo.stop()


@pytest.fixture
async def emsp(make_instance, stub):
    inst = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",),
                               extra={"pull_interval": 0})
    inst.stub_pk = await inst.add_partner("stub", "stub-token-c", [("CPO", *STUB)], endpoints=stub.endpoints(),
                                          outgoing_token=stub.token)
    await inst.add_partner("other", "other-token-c", [("CPO", "FR", "OTH")])
    await inst.platform.locations.receive_put(*STUB, "LOC1", None, None, location(*STUB, "LOC1"))
    await inst.platform.tokens.add_own({"uid": DRIVER_TAG, "contract_id": "DE-MSP-C00001-1"})
    return inst


async def start(inst, **overrides):
    args = {"token": await our_token(inst), "country_code": STUB[0], "party_id": STUB[1], "location_id": "LOC1",
            "evse_uid": "E1", **overrides}
    return await inst.platform.remote_commands.start_session(**args)


async def test_the_command_sent_and_a_rejection(emsp, stub):
    stub.command_answer = {"result": "REJECTED", "timeout": 30, "message": [{"language": "en", "text": "busy"}]}
    record = await start(emsp, connector_id="1")
    [(command, body)] = stub.commands
    assert command == "START_SESSION"
    assert body["response_url"] == f"{emsp.url}/ocpi/2.2.1/emsp/commands/START_SESSION/{record['id']}"
    assert body["token"]["uid"] == DRIVER_TAG and body["token"]["party_id"] == "MSP"
    assert (body["location_id"], body["evse_uid"], body["connector_id"]) == ("LOC1", "E1", "1")
    assert body["authorization_reference"] == record["id"]
    assert record["state"] == "REJECTED" and record["response"]["message"][0]["text"] == "busy"
    assert record["deadline"] is None


async def test_no_result_in_time_is_a_timeout_and_a_late_result_still_counts(emsp, stub):
    stub.command_answer = {"result": "ACCEPTED", "timeout": 1}
    record = await start(emsp)
    assert record["state"] == "ACCEPTED"
    assert abs((utcnow() + timedelta(seconds=1) - _dt(record["deadline"])).total_seconds()) < 1
    # The server's deadline watch turns it into TIMEOUT without anyone asking.
    await wait_for(lambda: _is(state_of(emsp, record["id"]), "TIMEOUT"), timeout=5)
    got = await emsp.platform.remote_commands.get(record["id"])
    assert got["state"] == "TIMEOUT" and got["result"] is None
    # The CPO's result arrives after all: it is what happened at the charger.
    async with httpx.AsyncClient(headers=auth("stub-token-c")) as http:
        r = await http.post(f"{emsp.url}/ocpi/2.2.1/emsp/commands/START_SESSION/{record['id']}",
                            json={"result": "EVSE_OCCUPIED"})
    assert r.status_code == 200 and r.json()["status_code"] == 1000
    assert (await emsp.platform.remote_commands.get(record["id"]))["state"] == "EVSE_OCCUPIED"


async def test_an_unreachable_or_failing_cpo_gives_failed(emsp, stub):
    stub.command_http_status = 503
    record = await start(emsp)
    assert record["state"] == "FAILED" and record["response"] is None
    assert "HTTP 503" in record["result"]["message"][0]["text"]
    stub.command_http_status = 200
    stub.command_answer = {"status_code": 2003, "message": "unknown location"}
    record = await start(emsp)
    assert record["state"] == "FAILED" and "2003" in record["result"]["message"][0]["text"]
    stub.command_answer = {"result": "MAYBE", "timeout": 30}
    record = await start(emsp)
    assert record["state"] == "FAILED" and "not a CommandResponse" in record["result"]["message"][0]["text"]
    await stub.stop()
    record = await start(emsp)
    assert record["state"] == "FAILED" and "could not be reached" in record["result"]["message"][0]["text"]
    await stub.start()  # for the fixture's stop


async def test_command_result_endpoint_errors(emsp, stub):
    record = await start(emsp)
    url = f"{emsp.url}/ocpi/2.2.1/emsp/commands/START_SESSION/{record['id']}"
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{emsp.url}/ocpi/2.2.1/emsp/commands/START_SESSION/no-such-id",
                            headers=auth("stub-token-c"), json={"result": "ACCEPTED"})
        assert r.status_code == 404 and r.json()["status_code"] == 2003 and "no-such-id" in r.json()["status_message"]
        r = await http.post(f"{emsp.url}/ocpi/2.2.1/emsp/commands/STOP_SESSION/{record['id']}",
                            headers=auth("stub-token-c"), json={"result": "ACCEPTED"})
        assert r.status_code == 404 and r.json()["status_code"] == 2003
        r = await http.post(url, headers=auth("other-token-c"), json={"result": "REJECTED"})
        assert r.status_code == 403 and r.json()["status_code"] == 2000 and "not sent to you" in r.json()["status_message"]
        r = await http.post(url, headers=auth("guessed"), json={"result": "REJECTED"})
        assert r.status_code == 401
        r = await http.post(url, headers=auth("stub-token-c"), json={"result": "DONE"})
        assert r.status_code == 400 and r.json()["status_code"] == 2001 and "result" in r.json()["status_message"]
        r = await http.post(url, headers=auth("stub-token-c"), content=b"not json")
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        assert (await emsp.platform.remote_commands.get(record["id"]))["state"] == "ACCEPTED"
        r = await http.post(url, headers=auth("stub-token-c"),
                            json={"result": "ACCEPTED", "message": [{"language": "en", "text": "charging"}]})
        assert r.status_code == 200 and r.headers["ocpi-to-party-id"] == "STB"
    got = await emsp.platform.remote_commands.get(record["id"])
    assert got["state"] == "ACCEPTED" and got["result"]["message"][0]["text"] == "charging"
    # The endpoint is announced in our version details (commands, SENDER).
    async with httpx.AsyncClient(headers=auth("stub-token-c")) as http:
        details = (await http.get(f"{emsp.url}/ocpi/2.2.1")).json()["data"]
    assert {"identifier": "commands", "role": "SENDER", "url": f"{emsp.url}/ocpi/2.2.1/emsp/commands"} in \
        details["endpoints"]


async def test_commands_that_cannot_be_sent(emsp, stub):
    service = emsp.platform.remote_commands
    with pytest.raises(NotFound, match="location 'NOPE'"):
        await start(emsp, location_id="NOPE")
    with pytest.raises(ValueError, match="EVSE 'E9'"):
        await start(emsp, evse_uid="E9")
    with pytest.raises(ValueError, match="connector '7'"):
        await start(emsp, connector_id="7")
    with pytest.raises(ValueError, match="FR/OTH is not a registered CPO partner|offers no commands"):
        await emsp.platform.locations.receive_put("FR", "OTH", "L2", None, None, location("FR", "OTH", "L2"))
        await start(emsp, country_code="FR", party_id="OTH", location_id="L2")
    foreign = {**await our_token(emsp), "country_code": "NL", "party_id": "XXX"}
    with pytest.raises(Invalid, match="NL/XXX"):
        await start(emsp, token=foreign)
    with pytest.raises(Invalid, match="token"):
        await start(emsp, token={"uid": DRIVER_TAG})
    with pytest.raises(NotFound, match="session 'S9'"):
        await service.stop_session(country_code=STUB[0], party_id=STUB[1], session_id="S9")
    ended = session(*STUB, "S1", status="COMPLETED")
    await emsp.platform.received.session_put(*STUB, "S1", ended)
    with pytest.raises(ValueError, match="has ended"):
        await service.stop_session(country_code=STUB[0], party_id=STUB[1], session_id="S1")
    assert stub.commands == [] and await service.list() == []


async def test_commands_at_our_own_chargers_go_to_the_charger(make_instance):
    both = await make_instance("both", country_code="NL", party_id="EVR", roles=("CPO", "EMSP"),
                               extra={"pull_interval": 0})
    assert await load_demo(both.platform)
    await both.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                     evses={1: "EVR-GENT-1-E3"})
    await both.platform.tokens.add_own({"uid": DRIVER_TAG, "contract_id": "NL-EVR-C00001-1"})
    token = await our_token(both)
    service = both.platform.remote_commands
    async with charge_point(both, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="AC", charge_point_vendor="Acme"))
        record = await service.start_session(token=token, country_code="NL", party_id="EVR",
                                             location_id="EVR-GENT-1", evse_uid="EVR-GENT-1-E3")
        assert record["partner"] == "(local)" and record["state"] == "ACCEPTED"
        done = await wait_for(lambda: _final(service, record["id"]))
        assert done["state"] == "ACCEPTED" and "Accepted" in done["result"]["message"][0]["text"]
        assert cp.received[0][0] == "RemoteStartTransaction" and cp.received[0][1]["id_tag"] == DRIVER_TAG

        cp.answers["RemoteStartTransaction"] = "Rejected"
        record = await service.start_session(token=token, country_code="NL", party_id="EVR",
                                             location_id="EVR-GENT-1", evse_uid="EVR-GENT-1-E3")
        assert (await wait_for(lambda: _final(service, record["id"])))["state"] == "REJECTED"
    with pytest.raises(ValueError, match="operator command"):
        await service.unlock_connector(country_code="NL", party_id="EVR", location_id="EVR-GENT-1",
                                       evse_uid="EVR-GENT-1-E3", connector_id="1")
    # The charger is gone: the command fails, with the reason.
    record = await service.start_session(token=token, country_code="NL", party_id="EVR",
                                         location_id="EVR-GENT-1", evse_uid="EVR-GENT-1-E3")
    done = await wait_for(lambda: _final(service, record["id"]))
    assert done["state"] == "FAILED" and "not connected" in done["result"]["message"][0]["text"]


async def _cli(db: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evroam.cli", *args, "--db", db, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", "EVROAM_COUNTRY_CODE": "DE", "EVROAM_PARTY_ID": "MSP",
             "EVROAM_ROLES": "EMSP"})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_commands_cli(emsp, stub):
    import json

    db = emsp.settings().database_url
    # The CLI's response_url must reach the running server: the same public URL.
    os.environ["EVROAM_PUBLIC_URL"] = emsp.url
    try:
        stub.command_answer = {"result": "REJECTED", "timeout": 30}
        code, out, err = await _cli(db, "commands", "start", "--token", DRIVER_TAG, "--location", "NL/STB/LOC1",
                                    "--evse", "E1", "--json")
        assert code == 1, err
        rejected = json.loads(out)
        assert rejected["state"] == "REJECTED" and rejected["token_uid"] == DRIVER_TAG
        assert stub.commands[-1][1]["response_url"].startswith(f"{emsp.url}/ocpi/2.2.1/emsp/commands/START_SESSION/")

        stub.command_answer = {"result": "ACCEPTED", "timeout": 30}
        cli = asyncio.create_task(_cli(db, "commands", "start", "--token", DRIVER_TAG, "--location",
                                       "NL/STB/LOC1", "--evse", "E1"))
        await wait_for(lambda: len(stub.commands) == 2, timeout=30)
        cid = stub.commands[-1][1]["response_url"].rsplit("/", 1)[1]
        async with httpx.AsyncClient(headers=auth("stub-token-c")) as http:
            r = await http.post(stub.commands[-1][1]["response_url"], json={"result": "ACCEPTED"})
            assert r.status_code == 200
        code, out, err = await cli
        assert code == 0, out + err
        assert cid in out and "ACCEPTED" in out and "via stub" in out

        code, out, err = await _cli(db, "commands", "list")
        assert code == 0 and cid in out and "REJECTED" in out
        code, out, err = await _cli(db, "commands", "start", "--token", DRIVER_TAG, "--location", "LOC1")
        assert code == 1 and "COUNTRY/PARTY/ID" in err
    finally:
        os.environ.pop("EVROAM_PUBLIC_URL", None)


def _dt(value: str):
    from evroam.model.common import parse_datetime

    return parse_datetime(value)


async def _is(value, expected):
    return (await value) == expected


async def test_reserve_cancel_and_unlock_bodies(emsp, stub):
    service = emsp.platform.remote_commands
    expiry = utcnow().replace(microsecond=0) + timedelta(minutes=30)
    reserved = await service.reserve_now(token=await our_token(emsp), country_code=STUB[0], party_id=STUB[1],
                                         location_id="LOC1", evse_uid="e1", expiry_date=expiry,
                                         reservation_id="R-1")
    assert reserved["state"] == "ACCEPTED" and reserved["reservation_id"] == "R-1"
    await service.cancel_reservation(country_code=STUB[0], party_id=STUB[1], reservation_id="R-1")
    await service.unlock_connector(country_code=STUB[0], party_id=STUB[1], location_id="LOC1", evse_uid="E1",
                                   connector_id="1")
    (c1, reserve), (c2, cancel), (c3, unlock) = stub.commands
    assert (c1, c2, c3) == ("RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")
    assert reserve["reservation_id"] == "R-1" and reserve["evse_uid"] == "E1"  # as the CPO spells it
    assert _dt(reserve["expiry_date"]) == expiry and reserve["token"]["uid"] == DRIVER_TAG
    assert reserve["response_url"].endswith(f"/RESERVE_NOW/{reserved['id']}")
    assert cancel["reservation_id"] == "R-1" and set(cancel) == {"response_url", "reservation_id"}
    assert (unlock["location_id"], unlock["evse_uid"], unlock["connector_id"]) == ("LOC1", "E1", "1")
    # A CPO may cancel a reservation itself later, at the same response_url (CANCELED_RESERVATION).
    async with httpx.AsyncClient(headers=auth("stub-token-c")) as http:
        for result in ("ACCEPTED", "CANCELED_RESERVATION"):
            r = await http.post(reserve["response_url"], json={"result": result})
            assert r.status_code == 200
    assert (await service.get(reserved["id"]))["state"] == "CANCELED_RESERVATION"
