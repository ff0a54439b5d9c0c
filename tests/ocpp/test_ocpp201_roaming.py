"""OCPP 2.0.1 end to end: TransactionEvents (Started without a token, the idToken in a later
event, charging, a resent event, parking, Ended) become a Session and a priced CDR at the eMSP."""

from __future__ import annotations

from datetime import timedelta

from charge_points import (
    DRIVER_TAG,
    charge_point,
    evse_status_at,
    iso,
    past,
    roaming_pair,
    session_at,
    wait_cdr,
)
from ocpp.v21 import call as call21
from ocpp.v201 import call

from harness import wait_for

RFID = {"id_token": DRIVER_TAG, "type": "ISO14443"}


def energy(ts, wh: float, context: str = "Sample.Periodic") -> list[dict]:
    return [{"timestamp": iso(ts), "sampled_value": [
        {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register",
         "unit_of_measure": {"unit": "kWh", "multiplier": 0} if wh < 100 else {"unit": "Wh"}}]}]


def event(kind: str, seq: int, ts, trigger: str, state: str, meter=None, **extra):
    return call.TransactionEvent(event_type=kind, timestamp=iso(ts), trigger_reason=trigger, seq_no=seq,
                                 transaction_info={"transaction_id": "TX-201-1", "charging_state": state,
                                                   **extra.pop("info", {})},
                                 meter_value=meter, **extra)


async def test_transaction_events_become_a_session_and_a_priced_cdr(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(90)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        boot = await cp.call(call.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                                   reason="PowerUp"))
        assert boot.status == "Accepted"
        await cp.call(call.StatusNotification(timestamp=iso(t0), connector_status="Available", evse_id=1,
                                              connector_id=1))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "AVAILABLE"))
        await cp.call(call.StatusNotification(timestamp=iso(t0), connector_status="Occupied", evse_id=1,
                                              connector_id=1))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "CHARGING"))
        assert (await cp.call(call.Authorize(id_token=RFID))).id_token_info["status"] == "Accepted"

        started = await cp.call(event("Started", 0, t0, "CablePluggedIn", "EVConnected",
                                      energy(t0, 500, "Transaction.Begin"), evse={"id": 1, "connector_id": 1}))
        assert started.id_token_info is None
        authorized = await cp.call(event("Updated", 1, t0 + timedelta(minutes=1), "Authorized", "EVConnected",
                                         id_token=RFID))
        assert authorized.id_token_info["status"] == "Accepted"
        tx = await cpo.platform.charging.get_transaction("CP-1", "TX-201-1")
        session = await wait_for(lambda: session_at(emsp, tx.session_id))
        assert session["status"] == "PENDING" and session["start_date_time"] == iso(t0)

        charging = event("Updated", 2, t0 + timedelta(minutes=15), "ChargingStateChanged", "Charging",
                         energy(t0 + timedelta(minutes=15), 10.5))
        await cp.call(charging)
        await cp.call(charging)  # resent: counted once
        await wait_for(lambda: _has(session_at(emsp, tx.session_id), lambda s: s["status"] == "ACTIVE" and s["kwh"] == 10))
        await cp.call(event("Updated", 3, t0 + timedelta(minutes=30), "ChargingStateChanged", "SuspendedEV",
                            energy(t0 + timedelta(minutes=30), 20500)))
        ended = await cp.call(event("Ended", 4, t0 + timedelta(minutes=40), "EVCommunicationLost", "EVConnected",
                                    energy(t0 + timedelta(minutes=40), 20500, "Transaction.End"),
                                    info={"stopped_reason": "EVDisconnected"}))
        assert ended.id_token_info is None
        cdr = await wait_cdr(emsp, tx.session_id)
    # DC-1: start 0.50 (20%) + 20 kWh x 0.25 (10%) + 10 min parking billed as 15 min x 2.00/h (20%)
    assert cdr["total_cost"] == {"excl_vat": 6.0, "incl_vat": 6.7}
    assert cdr["total_parking_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert cdr["total_energy"] == 20.0 and cdr["total_parking_time"] == 0.1667 and cdr["total_time"] == 0.6667
    assert cdr["start_date_time"] == iso(t0) and cdr["end_date_time"] == iso(t0 + timedelta(minutes=40))
    assert [p["dimensions"][0]["type"] for p in cdr["charging_periods"]][-1] == "PARKING_TIME"
    final = await wait_for(lambda: _has(session_at(emsp, tx.session_id), lambda s: s["status"] == "COMPLETED"))
    assert final["kwh"] == 20.0


async def test_ocpp21_charger_boots_and_reports_status(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    async with charge_point(cpo, "CP-1", version="2.1") as cp:
        assert cpo.platform.gateway.version("CP-1") == "2.1"
        boot = await cp.call(call21.BootNotification(charging_station={"model": "X", "vendor_name": "Acme"},
                                                     reason="PowerUp"))
        assert boot.status == "Accepted"
        await cp.call(call21.StatusNotification(timestamp=iso(past(0)), connector_status="Faulted", evse_id=1,
                                              connector_id=1))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "OUTOFORDER"))


async def _is(value, expected):
    return (await value) == expected


async def _has(value, predicate):
    found = await value
    return found if found is not None and predicate(found) else None
