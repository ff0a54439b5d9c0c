"""The OCPP gateway: who may connect (password, unknown ids, subprotocols, pending approval),
CALLERRORs for malformed frames on a connection that stays up, the transaction log, missed
heartbeats, and CALLs from the central system to a charger."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from charge_points import PASSWORD, basic, charge_point, evse_status_at, roaming_pair
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evroam.demo import load_demo
from evroam.ocpp.gateway import ChargerNotConnected
from harness import wait_for


async def _cpo(make_instance, **extra):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",), extra=extra)
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    return cpo


async def _refused(cpo, charger_id: str, *, subprotocols=("ocpp1.6",), headers=None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await connect(cpo.ocpp_url + charger_id, subprotocols=list(subprotocols), additional_headers=headers or {})
    return refused.value.response.status_code


async def test_handshake_refuses_wrong_password_unknown_ids_and_other_subprotocols(make_instance):
    cpo = await _cpo(make_instance)
    assert await _refused(cpo, "CP-1", headers=basic("CP-1", "wrong-password")) == 401
    assert await _refused(cpo, "CP-1") == 401  # no credentials
    assert await _refused(cpo, "CP-1", headers=basic("CP-2", PASSWORD)) == 401  # user name must be the id
    assert await _refused(cpo, "CP-9", headers=basic("CP-9", PASSWORD)) == 404
    assert await _refused(cpo, "CP-1", subprotocols=("ocpp1.5",), headers=basic("CP-1", PASSWORD)) == 400
    # the newest version both sides speak is chosen
    ws = await connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6", "ocpp2.0.1"],
                       additional_headers=basic("CP-1", PASSWORD))
    assert ws.subprotocol == "ocpp2.0.1"
    await ws.close()


async def test_unknown_charger_waits_as_pending_until_approved(make_instance):
    cpo = await _cpo(make_instance, ocpp_unknown_chargers="pending")
    async with charge_point(cpo, "CP-NEW", password=None) as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        assert boot.status == "Pending"
        assert (await cp.call(call.Authorize(id_tag="ANY"))).id_tag_info["status"] == "Invalid"
    assert (await cpo.platform.chargers.get_record("CP-NEW")).status == "PENDING"
    await cpo.platform.chargers.add("CP-NEW", password="new-password", location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E1"})
    await cpo.platform.chargers.approve("CP-NEW")
    async with charge_point(cpo, "CP-NEW", password="new-password") as cp:
        assert (await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))).status == "Accepted"


MALFORMED = [
    ("not json at all", "-1", "FormationViolation"),
    ('{"an": "object"}', "-1", "ProtocolError"),
    ('[2, "m1", "Heartbeat"]', "m1", "ProtocolError"),  # no payload
    ('[2, "m2", "FlyToTheMoon", {}]', "m2", "NotSupported"),
    ('[2, "m3", "ReserveNow", {}]', "m3", "NotImplemented"),  # a 1.6 action, but sent the other way
    ('[2, "m4", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]',
     "m4", "TypeConstraintViolation"),
    ('[2, "m5", "BootNotification", {"chargePointVendor": "A"}]', "m5", "ProtocolError"),  # required field missing
    ('[2, "m6", "Heartbeat", {"unexpected": 1}]', "m6", "FormationViolation"),
    ('[2, "m7", "Heartbeat", []]', "m7", "FormationViolation"),
    ('[9, "m8", "Heartbeat", {}]', "m8", "NotSupported"),  # no such message type
    # MeterValues and Heartbeat take a fast path; what it does not plainly accept still gets the
    # library's judgement
    ('[2, "m9", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2024-05-06T08:00:00Z", '
     '"sampledValue": [{"value": "1", "unit": "Parsec"}]}]}]', "m9", "FormationViolation"),  # not in the enum
    ('[2, "m10", "MeterValues", {"connectorId": 1, "transactionId": "7", "meterValue": []}]', "m10",
     "TypeConstraintViolation"),
    ('[2, "m11", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2024-05-06T08:00:00Z", '
     '"sampledValue": [{"value": "1"}], "extra": 1}]}]', "m11", "FormationViolation"),
    ('[2, "m12", "MeterValues", {"connectorId": 1}]', "m12", "ProtocolError"),  # meterValue missing
    ('[2, "m13", "MeterValues", {"connectorId": true, "meterValue": [{"timestamp": "2024-05-06T08:00:00Z", '
     '"sampledValue": [{"value": "1"}]}]}]', "m13", "TypeConstraintViolation"),
]


async def test_malformed_frames_get_a_callerror_and_the_connection_stays_up(make_instance):
    cpo = await _cpo(make_instance)
    async with connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6"],
                       additional_headers=basic("CP-1", PASSWORD)) as ws:
        for frame, message_id, code in MALFORMED:
            await ws.send(frame)
            answer = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert answer[:3] == [4, message_id, code], (frame, answer)
        # still up, and a CALL resent with the same message id gets the same answer, handled once
        await ws.send('[2, "hb-1", "Heartbeat", {}]')
        first = await asyncio.wait_for(ws.recv(), 5)
        await ws.send('[2, "hb-1", "Heartbeat", {}]')
        assert await asyncio.wait_for(ws.recv(), 5) == first and orjson.loads(first)[0] == 3
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1")
    assert [e.frame for e in log if e.direction == "in"] == [f for f, _, _ in MALFORMED] + [
        '[2, "hb-1", "Heartbeat", {}]'] * 2
    assert len([e for e in log if e.direction == "out"]) == len(MALFORMED) + 2


async def test_ocpp2_malformed_frames_use_the_2x_error_codes(make_instance):
    cpo = await _cpo(make_instance)
    async with connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp2.0.1"],
                       additional_headers=basic("CP-1", PASSWORD)) as ws:
        for frame, code in [("nonsense", "FormatViolation"), ('[2, "x1", "Heartbeat", {"a": 1}]', "FormatViolation"),
                            ('[2, "x2", "GetVariables", {}]', "NotImplemented"), ('[5, "x3"]', "MessageTypeNotSupported")]:
            await ws.send(frame)
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))[2] == code, frame
        await ws.send('[2, "x4", "Heartbeat", {}]')
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))[0] == 3


async def test_every_frame_in_and_out_is_logged_and_queryable(make_instance):
    cpo = await _cpo(make_instance)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await cp.call(call.Heartbeat())
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1")
    assert [(e.direction, e.action, e.message_type) for e in log] == [
        ("in", "BootNotification", 2), ("out", "BootNotification", 3), ("in", "Heartbeat", 2),
        ("out", "Heartbeat", 3)]
    assert log[0].unique_id == log[1].unique_id and '"chargePointVendor":"V"' in log[0].frame
    since = log[2].at  # (the boot's answer may fall in the same millisecond)
    assert await cpo.platform.ocpp_log.query(charger_id="CP-1", since=since) == [e for e in log if e.at >= since]
    assert await cpo.platform.ocpp_log.query(charger_id="CP-1", until=since) == [e for e in log if e.at < since]
    assert await cpo.platform.ocpp_log.query(charger_id="other") == []


async def test_missed_heartbeats_make_the_charger_offline(make_instance):
    cpo, emsp = await roaming_pair(make_instance, cpo_extra={"ocpp_heartbeat_interval": 1,
                                                             "ocpp_offline_after_missed": 1.5})
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "AVAILABLE"))
        # then silence: no heartbeats
        await wait_for(lambda: not cpo.platform.gateway.is_connected("CP-1"), timeout=15)
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "UNKNOWN"))


class Answering(ChargePoint):
    @on("GetConfiguration")
    async def on_get_configuration(self, key=None):
        return call_result.GetConfiguration(configuration_key=[{"key": "HeartbeatInterval", "readonly": False,
                                                                "value": "300"}])


async def test_services_send_calls_to_a_charger_of_its_version(make_instance):
    cpo = await _cpo(make_instance)
    gateway = cpo.platform.gateway
    with pytest.raises(ChargerNotConnected):
        await gateway.call("CP-1", call.GetConfiguration())
    ws = await connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6"], additional_headers=basic("CP-1", PASSWORD))
    cp = Answering("CP-1", ws)
    task = asyncio.create_task(cp.start())
    try:
        await wait_for(lambda: gateway.is_connected("CP-1"))
        assert gateway.version("CP-1") == "1.6" and gateway.connected() == {"CP-1": "1.6"}
        result = await gateway.call("CP-1", call.GetConfiguration(key=["HeartbeatInterval"]))
        assert result.configuration_key[0]["value"] == "300"
        with pytest.raises(OcppNotImplemented):  # the charger answers CALLERROR NotImplemented
            await gateway.call("CP-1", call.ClearCache())
        with pytest.raises(ValueError):
            await gateway.call("CP-1", call201.ClearCache())
        with pytest.raises(TimeoutError):
            await gateway.call("CP-1", call.GetConfiguration(), timeout=0.0001)
    finally:
        task.cancel()
        await ws.close()
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1")
    assert ("out", "GetConfiguration") in [(e.direction, e.action) for e in log]
    assert ("in", "GetConfiguration") in [(e.direction, e.action) for e in log]  # the answer


async def _is(value, expected):
    return (await value) == expected


async def test_heartbeats_are_stored_in_batches(make_instance):
    cpo = await _cpo(make_instance)
    chargers = cpo.platform.chargers
    async with connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6"],
                       additional_headers=basic("CP-1", PASSWORD)) as ws:
        await wait_for(lambda: cpo.platform.gateway.is_connected("CP-1"))
        await chargers.flush_seen()
        connected_at = await wait_for(lambda: _last_seen(chargers))
        await asyncio.sleep(0.01)
        for n in range(3):
            await ws.send(f'[2, "hb-{n}", "Heartbeat", {{}}]')
            answer = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert answer[:2] == [3, f"hb-{n}"] and set(answer[2]) == {"currentTime"}
        assert await _last_seen(chargers) == connected_at  # not one write per heartbeat
        assert await chargers.flush_seen() == 1  # three heartbeats: one row, in one statement for all
        assert await _last_seen(chargers) > connected_at
        assert await chargers.flush_seen() == 0


async def _last_seen(chargers):
    return (await chargers.get_record("CP-1")).last_seen_at


async def test_verified_passwords_are_remembered_not_verified_again(make_instance, monkeypatch):
    import evroam.services.chargers as chargers_module

    cpo = await _cpo(make_instance)
    checks: list[str] = []
    real = chargers_module.verify_password

    def counting(password, stored):
        checks.append(password)
        return real(password, stored)

    monkeypatch.setattr(chargers_module, "verify_password", counting)
    for _ in range(3):  # a charger reconnecting: scrypt once
        async with connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6"],
                           additional_headers=basic("CP-1", PASSWORD)):
            pass
    assert len(checks) == 1
    for _ in range(2):  # a wrong password stays refused (and is not hashed again for a while)
        assert await _refused(cpo, "CP-1", headers=basic("CP-1", "wrong-password")) == 401
    assert len(checks) == 2
    await cpo.platform.chargers.update("CP-1", password="a-new-password")
    assert await _refused(cpo, "CP-1", headers=basic("CP-1", PASSWORD)) == 401  # the old one no longer opens
    async with connect(cpo.ocpp_url + "CP-1", subprotocols=["ocpp1.6"],
                       additional_headers=basic("CP-1", "a-new-password")):
        pass
    assert len(checks) == 4
    assert not any(PASSWORD in repr(k) or PASSWORD in repr(v) for k, v in cpo.platform.chargers._verified.items())
