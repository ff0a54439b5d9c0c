"""OCPP 1.6 end to end: a charger built on the `ocpp` library connects to an evroam CPO over a
real WebSocket; a second evroam instance is the driver's eMSP. Boot, status, authorization, a
transaction with meter values, the stop, and the priced CDR at the eMSP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
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

from evroam.model.common import parse_datetime
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


async def _session_pushes(cpo, session_id: str) -> list[dict]:
    async with cpo.platform.store.connect() as conn:
        rows = await cpo.platform.store.outbox.messages(conn, limit=1000)
    return sorted((r for r in rows if r["object_key"] == f"sessions:{session_id}"), key=lambda r: r["pk"])


def _energy_volume(periods: list[dict]) -> float:
    return round(sum(d["volume"] for p in periods for d in p["dimensions"] if d["type"] == "ENERGY"), 4)


async def test_session_pushed_at_the_interval_as_patches_then_completed_with_the_cdr(make_instance):
    cpo, emsp = await roaming_pair(make_instance, cpo_extra={"session_push_interval": 0.3})
    events: list[tuple[str, dict]] = []
    for topic in ("session.started", "session.updated", "session.completed", "session.meter"):
        cpo.platform.bus.subscribe(topic, lambda e: events.append((e.topic, e.data)))
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                    timestamp=iso(t0)))
        tx_id = start.transaction_id
        session_id = (await cpo.platform.charging.get_transaction("CP-1", str(tx_id))).session_id
        # eight readings back to back (1 kWh a minute, 11 kW, 16 A on three phases): coalesced
        for minute in range(1, 9):
            at = iso(t0 + timedelta(minutes=minute))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=[{
                "timestamp": at, "sampledValue": [
                    {"value": str(minute * 1000), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"},
                    *({"value": "16", "measurand": "Current.Import", "unit": "A", "phase": p} for p in ("L1", "L2")),
                    {"value": "15.5", "measurand": "Current.Import", "unit": "A", "phase": "L3"}]}]))
        await wait_for(lambda: _has(session_at(emsp, session_id), lambda s: s["kwh"] == 8.0))
        pushes = await _session_pushes(cpo, session_id)
        assert pushes[0]["method"] == "PUT" and all(p["method"] == "PATCH" for p in pushes[1:])
        assert 2 <= len(pushes) <= 4  # the start, then at most one per 0.3 s, not one per reading
        gaps = [(b["created_at"] - a["created_at"]).total_seconds() for a, b in zip(pushes[1:], pushes[2:], strict=False)]
        assert all(gap >= 0.25 for gap in gaps), gaps
        for p in pushes[1:]:  # only what changed, with last_updated; periods appended
            body = orjson.loads(p["body"])
            assert "last_updated" in body and set(body) <= {"kwh", "total_cost", "status", "charging_periods",
                                                             "last_updated"}
            assert "cdr_token" not in body and "location_id" not in body
        at_emsp = await session_at(emsp, session_id)
        assert at_emsp["status"] == "ACTIVE" and _energy_volume(at_emsp["charging_periods"]) == 8.0
        assert at_emsp == await cpo.platform.charging.get_session(session_id)  # the same copy on both sides

        # later readings (the first one due at once, the interval having passed): appended periods
        # hold only the energy since the push before
        await asyncio.sleep(0.35)
        for minute in (9, 10):
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=[
                energy(t0 + timedelta(minutes=minute), minute * 1000)]))
        await wait_for(lambda: _has(session_at(emsp, session_id), lambda s: s["kwh"] == 10.0))
        later = [orjson.loads(p["body"]) for p in (await _session_pushes(cpo, session_id))[len(pushes):]]
        assert 1 <= len(later) <= 2 and later[-1]["kwh"] == 10.0
        assert later[-1]["total_cost"] == {"excl_vat": 3.0, "incl_vat": 3.35}
        assert sum(_energy_volume(p["charging_periods"]) for p in later) == 2.0
        assert _energy_volume((await session_at(emsp, session_id))["charging_periods"]) == 10.0

        await cp.call(call.StopTransaction(meter_stop=12000, timestamp=iso(t0 + timedelta(minutes=12)),
                                           transaction_id=tx_id, reason="Local"))
        cdr = await wait_cdr(emsp, session_id)
    final = await wait_for(lambda: _has(session_at(emsp, session_id), lambda s: s["status"] == "COMPLETED"))
    pushes = await _session_pushes(cpo, session_id)
    assert pushes[-1]["method"] == "PUT"  # the whole COMPLETED Session: the engine's own periods
    assert final["kwh"] == 12.0 == cdr["total_energy"] and final["charging_periods"] == cdr["charging_periods"]
    assert final["total_cost"] == cdr["total_cost"] == {"excl_vat": 3.5, "incl_vat": 3.9}

    await cpo.platform.bus.drain()
    started = next(d for t, d in events if t == "session.started")
    assert started == {"session_id": session_id, "charger_id": "CP-1", "transaction_id": str(tx_id),
                       "evse_number": 1, "connector_number": 1}
    assert any(t == "session.updated" for t, _ in events) and events[-1][0] == "session.completed"
    meters = [d for t, d in events if t == "session.meter"]
    assert len(meters) == 8  # one per MeterValues with power or current; none for energy alone
    assert meters[0]["power_w"] == 11000.0 and meters[0]["current_a"] == 16.0
    assert meters[-1]["energy_wh"] == 8000.0 and meters[-1]["evse_number"] == 1
    assert meters[-1]["at"] == iso(t0 + timedelta(minutes=8)) and meters[-1]["transaction_id"] == str(tx_id)


def test_a_session_patch_appends_only_what_is_new_else_a_put_is_needed():
    from evroam.services.session_records import _patch, _pushed

    def period(start: str, kwh: float, hours: float) -> dict:
        return {"start_date_time": start, "tariff_id": "DC-1",
                "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": hours}]}

    def session(periods: list[dict], kwh: float) -> dict:
        return {"status": "ACTIVE", "kwh": kwh, "total_cost": {"excl_vat": kwh / 4}, "charging_periods": periods,
                "last_updated": "2024-05-06T09:00:00Z"}

    first = session([period("2024-05-06T08:00:00Z", 5.0, 0.5)], 5.0)
    pushed = _pushed(first, first["charging_periods"], parse_datetime("2024-05-06T08:30:00Z"))
    assert _patch(pushed, first) == {}  # nothing new: no push at all
    # the current period grew and a new one began (a tariff boundary at 08:45)
    grown = session([period("2024-05-06T08:00:00Z", 7.0, 0.75), period("2024-05-06T08:45:00Z", 1.5, 0.25)], 8.5)
    assert _patch(pushed, grown) == {
        "kwh": 8.5, "total_cost": {"excl_vat": 2.125}, "last_updated": "2024-05-06T09:00:00Z",
        "charging_periods": [
            {"start_date_time": "2024-05-06T08:30:00Z", "tariff_id": "DC-1",
             "dimensions": [{"type": "ENERGY", "volume": 2.0}, {"type": "TIME", "volume": 0.25}]},
            {"start_date_time": "2024-05-06T08:45:00Z", "tariff_id": "DC-1",
             "dimensions": [{"type": "ENERGY", "volume": 1.5}, {"type": "TIME", "volume": 0.25}]}]}
    assert _patch(None, grown) is None  # never pushed: PUT
    two = _pushed(grown, grown["charging_periods"], parse_datetime("2024-05-06T09:00:00Z"))
    # a late reading moved energy into the earlier period: appending cannot say that
    late = session([period("2024-05-06T08:00:00Z", 7.5, 0.75), period("2024-05-06T08:45:00Z", 1.5, 0.25)], 9.0)
    assert _patch(two, late) is None
    # a period that began before the last push and was never told
    missed = session([*grown["charging_periods"], period("2024-05-06T08:50:00Z", 0.1, 0.1)], 8.6)
    assert _patch(two, missed) is None
