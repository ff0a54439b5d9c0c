"""OCPP 1.6 end to end: a charger built on the `ocpp` library connects to an evroam CPO over a
real WebSocket; a second evroam instance is the driver's eMSP. Boot, status, authorization, a
transaction with meter values, the stop, and the priced CDR at the eMSP."""

from __future__ import annotations

from datetime import timedelta

from charge_points import (
    DRIVER_TAG,
    cdr_at,
    charge_point,
    evse_status_at,
    iso,
    past,
    roaming_pair,
    session_at,
    session_statuses,
    wait_cdr,
)
from ocpp.v16 import call

from harness import wait_for


def energy(ts, wh: float, unit: str = "Wh", context: str = "Sample.Periodic") -> dict:
    value = wh / 1000 if unit == "kWh" else wh
    return {"timestamp": iso(ts), "sampledValue": [
        {"value": f"{value}", "measurand": "Energy.Active.Import.Register", "unit": unit, "context": context}]}


async def test_charge_and_the_priced_cdr_reaches_the_emsp(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    statuses = session_statuses(emsp)
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        boot = await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        assert boot.status == "Accepted" and boot.interval == cpo.platform.settings.ocpp_heartbeat_interval
        assert (await cp.call(call.Heartbeat())).current_time

        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "AVAILABLE"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "CHARGING"))

        assert (await cp.call(call.Authorize(id_tag=DRIVER_TAG))).id_tag_info["status"] == "Accepted"
        assert (await cp.call(call.Authorize(id_tag="UNKNOWN-TAG"))).id_tag_info["status"] == "Invalid"

        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=1000,
                                                    timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        tx_id = start.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=[energy(t0 + timedelta(minutes=10), 8500, unit="kWh")]))
        tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
        session_id = tx.session_id
        await wait_for(lambda: _has(session_at(emsp, session_id), lambda s: s["kwh"] == 7.5))
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=[energy(t0 + timedelta(minutes=20), 15000)]))
        stop = await cp.call(call.StopTransaction(
            meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=30)), transaction_id=tx_id, id_tag=DRIVER_TAG,
            reason="Local", transaction_data=[energy(t0 + timedelta(minutes=30), 21000, context="Transaction.End")]))
        assert stop.id_tag_info["status"] == "Accepted"
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

        cdr = await wait_cdr(emsp, session_id)
    # DC-1: 0.50 start (20% VAT) + 20 kWh x 0.25 (10% VAT) = 5.50 excl. VAT, 0.60 + 5.50 = 6.10 incl.
    assert cdr["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert cdr["total_energy"] == 20.0
    assert cdr["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert cdr["total_energy_cost"] == {"excl_vat": 5.0, "incl_vat": 5.5}
    assert cdr["total_time"] == 0.5 and cdr["total_parking_time"] == 0.0
    assert cdr["start_date_time"] == iso(t0) and cdr["end_date_time"] == iso(t0 + timedelta(minutes=30))
    assert cdr["cdr_token"] == {"country_code": "DE", "party_id": "MSP", "uid": DRIVER_TAG, "type": "RFID",
                                "contract_id": "DE-MSP-C00001-1"}
    assert cdr["auth_method"] == "WHITELIST"
    assert cdr["cdr_location"]["evse_uid"] == "EVR-GENT-1-E3" and cdr["cdr_location"]["connector_id"] == "1"
    assert [t["id"] for t in cdr["tariffs"]] == ["DC-1"]
    assert sum(d["volume"] for p in cdr["charging_periods"] for d in p["dimensions"] if d["type"] == "ENERGY") == 20.0

    session = await wait_for(lambda: _has(session_at(emsp, session_id), lambda s: s["status"] == "COMPLETED"))
    assert session["kwh"] == 20.0 and session["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert statuses[0] == "ACTIVE" and statuses[-1] == "COMPLETED"
    await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "UNKNOWN"))  # the charger went away

    # The CPO serves both through its sender interfaces, and the CDR was stored once.
    assert (await cpo.platform.charging.get_cdr(session_id))["total_cost"] == cdr["total_cost"]
    assert await cdr_at(emsp, session_id) == cdr


async def _is(value, expected):
    return (await value) == expected


async def _has(value, predicate):
    found = await value
    return found if found is not None and predicate(found) else None
