"""Chargers that misbehave without doing harm: messages queued while offline arriving late and
in a burst, resent messages, meter values out of order, a stop of a transaction we never saw,
and a reconnect in the middle of a transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from charge_points import DRIVER_TAG, charge_point, evse_status_at, iso, past, roaming_pair, wait_cdr
from ocpp.v16 import call

from harness import wait_for


def energy(ts, wh: int, context: str = "Sample.Periodic") -> list[dict]:
    return [{"timestamp": iso(ts), "sampledValue": [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context}]}]


async def test_offline_queue_in_a_burst_with_duplicates_and_readings_out_of_order(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(24 * 60)  # yesterday, while the charger was offline
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        start = call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=2000, timestamp=iso(t0))
        first, again = await cp.call(start), await cp.call(start)
        assert again.transaction_id == first.transaction_id  # the same transaction, not a second one
        tx_id = first.transaction_id
        later = call.MeterValues(connector_id=1, transaction_id=tx_id,
                                 meter_value=energy(t0 + timedelta(minutes=40), 14000))
        earlier = call.MeterValues(connector_id=1, transaction_id=tx_id,
                                   meter_value=energy(t0 + timedelta(minutes=20), 8000))
        stop = call.StopTransaction(meter_stop=14000, timestamp=iso(t0 + timedelta(minutes=50)),
                                    transaction_id=tx_id, reason="EVDisconnected")
        # the whole queue at once, the readings in the wrong order, one of them twice
        await asyncio.gather(cp.call(later), cp.call(earlier), cp.call(later), cp.call(stop))
        assert (await cp.call(stop)).id_tag_info is None  # a resent stop changes nothing
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    # 12 kWh in 40 minutes, then 10 minutes parked (billed as 15): 0.50 + 3.00 + 0.50 excl. VAT
    assert cdr["start_date_time"] == iso(t0) and cdr["end_date_time"] == iso(t0 + timedelta(minutes=50))
    assert cdr["total_energy"] == 12.0
    assert cdr["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.5}
    async with cpo.platform.store.connect() as conn:
        assert len(await cpo.platform.store.transactions.readings(conn, tx.pk)) == 2
        assert await cpo.platform.store.cdrs.all(conn) == [await cpo.platform.charging.get_cdr(tx.session_id)]


async def test_reconnect_in_the_middle_of_a_transaction_keeps_it(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        tx_id = (await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                     timestamp=iso(t0)))).transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=energy(t0 + timedelta(minutes=10), 5000)))
    await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "UNKNOWN"))  # offline meanwhile
    async with charge_point(cpo, "CP-1") as cp:  # back, without a new boot
        await wait_for(lambda: _is(evse_status_at(emsp, "EVR-GENT-1-E3"), "CHARGING"))  # last known status
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=energy(t0 + timedelta(minutes=20), 10000)))
        await cp.call(call.StopTransaction(meter_stop=10000, timestamp=iso(t0 + timedelta(minutes=20)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    assert cdr["total_energy"] == 10.0 and cdr["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.35}


async def test_stop_of_a_transaction_we_never_saw_is_answered_and_logged(make_instance):
    cpo, _emsp = await roaming_pair(make_instance)
    unknown = []
    cpo.platform.bus.subscribe("transaction.unknown", lambda e: unknown.append(e.data["transaction_id"]))
    async with charge_point(cpo, "CP-1") as cp:
        answer = await cp.call(call.StopTransaction(meter_stop=5000, timestamp=iso(past(5)), transaction_id=4711))
        assert answer.id_tag_info is None
        assert (await cp.call(call.Heartbeat())).current_time  # still talking
    assert unknown == ["4711"]
    frames = [e for e in await cpo.platform.ocpp_log.query(charger_id="CP-1") if e.action == "StopTransaction"]
    assert [e.direction for e in frames] == ["in", "out"] and "4711" in frames[0].frame


async def _is(value, expected):
    return (await value) == expected
