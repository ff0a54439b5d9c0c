"""Broken chargers must never freeze the server nor leave energy unbilled: `ocpp`-library charge
points (1.6 and 2.0.1) against a real evroam CPO send absurd multipliers, values that are no
numbers (NaN, Infinity, 1e308, "1_000", Arabic-Indic digits), unreadable timestamps, spikes,
impossible meter stops, starts on connectors nobody knows and events of transactions that never
started. Each is answered (a CALLERROR of the charger's version with the code the
specification names, or a CALLRESULT), nothing refused is stored, and every transaction that
can be billed ends in one CDR billing the real energy to the cent."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import timedelta

import httpx
import pytest
from charge_points import DRIVER_TAG, charge_point, iso, past, roaming_pair, wait_cdr
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from ocpp.v201 import call as call201

from evroam.ocpp.v16.handlers import Charger16

RFID = {"id_token": DRIVER_TAG, "type": "ISO14443"}


async def refused(cp, payload) -> str:
    """The error code of the CALLERROR a CALL gets (it must get one)."""
    with pytest.raises(OCPPError) as error:
        await cp.call(payload, suppress=False)
    return error.value.code


async def readings_of(cpo, tx) -> list:
    async with cpo.platform.store.connect() as conn:
        return await cpo.platform.store.transactions.readings(conn, tx.pk)


async def transactions_of(cpo) -> list:
    return await cpo.platform.charging.transactions(charger_id="CP-1")


# ---------------------------------------------------------------------------- 1.6


def mv16(ts, value: str, unit: str = "Wh", measurand: str = "Energy.Active.Import.Register") -> list[dict]:
    return [{"timestamp": iso(ts), "sampledValue": [{"value": value, "measurand": measurand, "unit": unit}]}]


async def start16(cp, t0, meter_start: int = 0) -> int:
    await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
    start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=meter_start,
                                                timestamp=iso(t0)))
    assert start.id_tag_info["status"] == "Accepted"
    return start.transaction_id


async def test_16_values_that_are_no_decimal_numbers_get_a_callerror_and_nothing_is_stored(
        make_instance, caplog, monkeypatch):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = await start16(cp, t0)
        at = t0 + timedelta(minutes=5)
        cases = [("NaN", "TypeConstraintViolation"), ("Infinity", "TypeConstraintViolation"),
                            ("-inf", "TypeConstraintViolation"), ("1_000", "TypeConstraintViolation"),
                            ("١٠٠٠", "TypeConstraintViolation"),  # Arabic-Indic digits
                            ("１０００", "TypeConstraintViolation"),  # full-width digits
                            (" 1000", "TypeConstraintViolation"), ("1000\n", "TypeConstraintViolation"),
                            ("0x3e8", "TypeConstraintViolation"), ("", "TypeConstraintViolation"),
                            ("1e308", "PropertyConstraintViolation"), ("1e9999", "PropertyConstraintViolation"),
                            ("99999999999", "PropertyConstraintViolation")]  # (kWh: 10^14 Wh)
        for fast in (True, False):  # the MeterValues fast path, then the library's path
            if not fast:
                monkeypatch.setattr(Charger16, "_fast", {})
            for value, code in cases:
                unit = "kWh" if value == "99999999999" else "Wh"
                payload = call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=mv16(at, value, unit))
                assert await refused(cp, payload) == code, (value, fast)
        tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
        assert await readings_of(cpo, tx) == []
        # plain decimals still are numbers: "1.5E3" Wh (as doubles print), "2.0" kWh
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=mv16(at, "1.5E3")))
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=mv16(t0 + timedelta(minutes=10), "2.0", "kWh")))
        assert [r.value for r in await readings_of(cpo, tx)] == [1500.0, 2000.0]
        await cp.call(call.StopTransaction(meter_stop=2000, timestamp=iso(t0 + timedelta(minutes=10)),
                                           transaction_id=tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    # DC-1: 0.50 start (20% VAT) + 2 kWh x 0.25 (10% VAT) = 1.00 excl. VAT, 0.60 + 0.55 = 1.15 incl.
    assert cdr["total_energy"] == 2.0 and cdr["total_cost"] == {"excl_vat": 1.0, "incl_vat": 1.15}
    assert not [r for r in caplog.records if r.exc_info], "a charger's bad value is no crash (no traceback)"


async def test_16_unreadable_timestamps_are_a_type_constraint_violation(make_instance, caplog):
    cpo, _emsp = await roaming_pair(make_instance)
    caplog.set_level(logging.INFO)
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        for bad in ("yesterday", "2026-13-45T99:00:00Z", "2026-02-30T10:00:00Z", ""):
            assert await refused(cp, call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                           timestamp=bad)) == "TypeConstraintViolation"
        assert await transactions_of(cpo) == []  # nothing started
        tx_id = await start16(cp, t0)
        bad_mv = [{"timestamp": "2026-13-45T99:00:00Z", "sampledValue": [{"value": "100"}]}]
        assert await refused(cp, call.MeterValues(connector_id=1, transaction_id=tx_id,
                                                  meter_value=bad_mv)) == "TypeConstraintViolation"
        assert await refused(cp, call.StopTransaction(meter_stop=100, timestamp="yesterday",
                                                      transaction_id=tx_id)) == "TypeConstraintViolation"
        assert await refused(cp, call.StatusNotification(connector_id=1, error_code="NoError", status="Charging",
                                                         timestamp="yesterday")) == "TypeConstraintViolation"
        tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
        assert tx.status == "ACTIVE" and await readings_of(cpo, tx) == []
    assert not [r for r in caplog.records if r.exc_info], "answered without a traceback"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_16_a_spike_is_not_billed_and_the_cdr_bills_the_real_energy_to_the_cent(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    flagged = []
    cpo.platform.bus.subscribe("transaction.flagged", lambda e: flagged.append(e.data))
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = await start16(cp, t0)
        # 4 kWh in 40 minutes on a 150 kW EVSE, with two spikes: 999 kWh in 5 minutes (beyond what
        # 150 kW can deliver), and 20 kWh (within it, but the register comes back down after it)
        for minute, wh in [(10, 1000), (20, 2000), (25, 999_000), (28, 20_000), (30, 3000), (40, 4000)]:
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                           meter_value=mv16(t0 + timedelta(minutes=minute), str(wh))))
        await cp.call(call.StopTransaction(meter_stop=4000, timestamp=iso(t0 + timedelta(minutes=40)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    cdr = await wait_cdr(emsp, tx.session_id)
    # DC-1: 0.50 start (20% VAT) + 4 kWh x 0.25 (10% VAT) = 1.50 excl. VAT, 0.60 + 1.10 = 1.70 incl.
    assert cdr["total_energy"] == 4.0 and cdr["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.7}
    assert "2 implausible meter reading(s) not billed" in cdr["remark"]
    # kept: in the database, on the transaction (with why), and the operator was told
    assert len(await readings_of(cpo, tx)) == 6
    refused_readings = tx.state["flags"]["refused"]
    assert [(r["wh"], r["at"]) for r in refused_readings] == [
        (999_000.0, iso(t0 + timedelta(minutes=25))), (20_000.0, iso(t0 + timedelta(minutes=28)))]
    assert flagged and flagged[-1]["transaction_id"] == str(tx_id)


async def test_16_an_impossible_meter_stop_still_ends_the_transaction_in_a_cdr(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        first = await start16(cp, t0)
        assert await refused(cp, call.MeterValues(connector_id=1, transaction_id=first,
                                                  meter_value=mv16(t0 + timedelta(minutes=5), "1e308"))
                             ) == "PropertyConstraintViolation"
        await cp.call(call.MeterValues(connector_id=1, transaction_id=first,
                                       meter_value=mv16(t0 + timedelta(minutes=10), "2000")))
        # a meterStop no meter can read (2^62 Wh), and transaction data that is no number
        stop = await cp.call(call.StopTransaction(
            meter_stop=2**62, timestamp=iso(t0 + timedelta(minutes=10)), transaction_id=first,
            transaction_data=mv16(t0 + timedelta(minutes=10), "NaN")))
        assert stop.id_tag_info is None  # a CALLRESULT: the stop is taken
        second = (await cp.call(call.StartTransaction(connector_id=2, id_tag=DRIVER_TAG, meter_start=50_000,
                                                      timestamp=iso(t0 + timedelta(minutes=20))))).transaction_id
        await cp.call(call.MeterValues(connector_id=2, transaction_id=second,
                                       meter_value=mv16(t0 + timedelta(minutes=30), "53000")))
        # a meterStop within a register's range, but 1 GWh in 10 minutes on a 22 kW EVSE
        await cp.call(call.StopTransaction(meter_stop=1_000_053_000, timestamp=iso(t0 + timedelta(minutes=30)),
                                           transaction_id=second))
    for tx_id, kwh, cost, remark in [
        (first, 2.0, {"excl_vat": 1.0, "incl_vat": 1.15}, "meterStop ignored"),
        # AC-1 (EVR-GENT-1-E1): 0.30/kWh (incl. 20% VAT: 0.36)
        (second, 3.0, None, "including the stop reading: billed up to the last plausible reading")]:
        tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
        assert tx.status == "COMPLETED"
        cdr = await wait_cdr(emsp, tx.session_id)
        assert cdr["total_energy"] == kwh and remark in cdr["remark"]
        if cost is not None:
            assert cdr["total_cost"] == cost
    tx = await cpo.platform.charging.get_transaction("CP-1", str(first))
    assert tx.state["flags"]["dropped"] == ["TypeConstraintViolation: value 'NaN' is not a decimal number"]


async def test_16_transactions_dated_in_1970_or_9999_are_dated_when_received(make_instance):
    """A charger whose clock was never set (1970) or runs wild (9999): the transaction is dated
    when its start and stop are received, flagged, stopped at once (not priced over decades, the
    server stays responsive) and billed."""
    cpo, emsp = await roaming_pair(make_instance)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        for stamp in ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                        timestamp=stamp))
            assert start.id_tag_info["status"] == "Accepted"
            began = time.monotonic()
            stop = await cp.call(call.StopTransaction(meter_stop=1000, timestamp=stamp,
                                                      transaction_id=start.transaction_id))
            assert time.monotonic() - began < 2.0 and stop.id_tag_info is None
            tx = await cpo.platform.charging.get_transaction("CP-1", str(start.transaction_id))
            assert tx.status == "COMPLETED" and "received is used" in tx.state["flags"]["clock"]
            assert abs((tx.started_at - past(0)).total_seconds()) < 60
            cdr = await wait_cdr(emsp, tx.session_id)
            assert cdr["total_energy"] == 1.0


async def test_a_stop_ends_in_a_cdr_even_when_pricing_fails(make_instance, monkeypatch):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = await start16(cp, t0)
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id,
                                       meter_value=mv16(t0 + timedelta(minutes=10), "5000")))

        def overflow(*args, **kwargs):
            raise OverflowError("cannot convert float infinity to integer")

        monkeypatch.setattr("evroam.services.pricing.price_session", overflow)
        stop = await cp.call(call.StopTransaction(meter_stop=5000, timestamp=iso(t0 + timedelta(minutes=10)),
                                                  transaction_id=tx_id, id_tag=DRIVER_TAG))
        assert stop.id_tag_info["status"] == "Accepted"
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    assert tx.status == "COMPLETED"
    cdr = await wait_cdr(emsp, tx.session_id)
    assert cdr["total_energy"] == 5.0 and cdr["remark"].startswith("not priced: OverflowError")
    assert (await cpo.platform.charging.get_session(tx.session_id))["status"] == "COMPLETED"


async def test_a_stop_ends_in_a_cdr_even_when_making_the_records_fails(make_instance, monkeypatch):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        tx_id = await start16(cp, t0)
        records = cpo.platform.charging.records
        real = records.refresh

        async def broken(conn, tx, *, final, force_push=False, fallback=None):
            if final and fallback is None:
                raise RuntimeError("something nobody foresaw")
            return await real(conn, tx, final=final, force_push=force_push, fallback=fallback)

        monkeypatch.setattr(records, "refresh", broken)
        await cp.call(call.StopTransaction(meter_stop=5000, timestamp=iso(t0 + timedelta(minutes=10)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    assert tx.status == "COMPLETED"
    cdr = await wait_cdr(emsp, tx.session_id)
    assert cdr["remark"] == "not priced: RuntimeError: something nobody foresaw"


async def test_16_start_on_a_connector_nobody_knows_is_refused_at_its_start(make_instance):
    cpo, _emsp = await roaming_pair(make_instance)  # CP-1 maps connectors 1 and 2
    t0 = past(30)
    async with charge_point(cpo, "CP-1") as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        for connector in (0, -1):  # OCPP 1.6: connectorId > 0
            assert await refused(cp, call.StartTransaction(connector_id=connector, id_tag=DRIVER_TAG, meter_start=0,
                                                           timestamp=iso(t0))) == "PropertyConstraintViolation"
        assert await refused(cp, call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=-5,
                                                       timestamp=iso(t0))) == "PropertyConstraintViolation"
        assert await transactions_of(cpo) == []
        start = call.StartTransaction(connector_id=3, id_tag=DRIVER_TAG, meter_start=0, timestamp=iso(t0))
        answer = await cp.call(start)
        assert answer.id_tag_info["status"] == "Invalid"
        assert (await cp.call(start)).transaction_id == answer.transaction_id  # resent: the same, once
        await cp.call(call.MeterValues(connector_id=3, transaction_id=answer.transaction_id,
                                       meter_value=mv16(t0 + timedelta(minutes=5), "500")))
        await cp.call(call.StopTransaction(meter_stop=500, timestamp=iso(t0 + timedelta(minutes=5)),
                                           transaction_id=answer.transaction_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(answer.transaction_id))
    assert tx.status == "REFUSED" and tx.session_id is None and tx.stopped_at is not None
    assert "3 of CP-1 is not mapped" in tx.state["flags"]["rejected"]
    assert [t.transaction_id for t in await cpo.platform.charging.flagged()] == [str(answer.transaction_id)]
    # the operator sees it: admin API and `evroam sessions flagged`
    async with httpx.AsyncClient(base_url=cpo.url, headers={"Authorization": "Bearer admin-secret"}) as http:
        listed = (await http.get("/admin/api/transactions", params={"flagged": "true"})).json()
    assert [(t["transaction_id"], t["status"]) for t in listed] == [(str(answer.transaction_id), "REFUSED")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evroam", "sessions", "flagged", "--json", "--db",
        cpo.settings().database_url, stdout=asyncio.subprocess.PIPE)
    shown = json.loads((await proc.communicate())[0])
    assert [(t["transaction_id"], t["status"]) for t in shown] == [(str(answer.transaction_id), "REFUSED")]
    assert "is not mapped" in shown[0]["flags"]["rejected"]
    async with cpo.platform.store.connect() as conn:
        assert await cpo.platform.store.sessions.all(conn) == [] and await cpo.platform.store.cdrs.all(conn) == []


# ---------------------------------------------------------------------------- 2.0.1


def mv2(ts, value, *, multiplier: int | None = None, unit: str = "Wh", context: str = "Sample.Periodic") -> list:
    uom = {"unit": unit, **({"multiplier": multiplier} if multiplier is not None else {})}
    return [{"timestamp": iso(ts), "sampled_value": [
        {"value": value, "context": context, "measurand": "Energy.Active.Import.Register", "unit_of_measure": uom}]}]


def event(kind: str, seq: int, ts, tx_id: str = "TX-H-1", meter=None, state: str = "Charging", **extra):
    return call201.TransactionEvent(event_type=kind, timestamp=ts if isinstance(ts, str) else iso(ts),
                                    trigger_reason="MeterValuePeriodic", seq_no=seq,
                                    transaction_info={"transaction_id": tx_id, "charging_state": state},
                                    meter_value=meter, **extra)


async def start2(cp, t0, tx_id: str = "TX-H-1") -> None:
    await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                           reason="PowerUp"))
    started = await cp.call(event("Started", 0, t0, tx_id, mv2(t0, 0, context="Transaction.Begin"),
                                  evse={"id": 1, "connector_id": 1}, id_token=RFID))
    assert started.id_token_info["status"] == "Accepted"


async def test_201_a_huge_multiplier_is_answered_at_once_and_the_server_stays_responsive(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp, httpx.AsyncClient(base_url=cpo.url) as http:
        await start2(cp, t0)
        at = t0 + timedelta(minutes=10)

        async def health() -> float:
            began = time.monotonic()
            assert (await http.get("/health")).status_code == 200
            return time.monotonic() - began

        began = time.monotonic()
        code, seconds = await asyncio.gather(refused(cp, event("Updated", 1, at, meter=mv2(at, 5, multiplier=10**7))),
                                             health())
        assert code == "PropertyConstraintViolation" and time.monotonic() - began < 2 and seconds < 1
        for multiplier in (20, -20, 4, 10**400):
            assert await refused(cp, event("Updated", 2, at, meter=mv2(at, 5, multiplier=multiplier))
                                 ) == "PropertyConstraintViolation"
        tx = await cpo.platform.charging.get_transaction("CP-1", "TX-H-1")
        assert [r.value for r in await readings_of(cpo, tx)] == [0.0]  # only the start's
        # within the range: multiplier 3 on Wh is kWh
        await cp.call(event("Updated", 3, at, meter=mv2(at, 2, multiplier=3)))
        await cp.call(event("Ended", 4, at, meter=mv2(at, 2, unit="kWh", context="Transaction.End")))
    cdr = await wait_cdr(emsp, tx.session_id)
    # DC-1: 0.50 + 2 kWh x 0.25 = 1.00 excl. VAT, 0.60 + 0.55 = 1.15 incl.
    assert cdr["total_energy"] == 2.0 and cdr["total_cost"] == {"excl_vat": 1.0, "incl_vat": 1.15}


async def test_201_nan_infinity_and_1e308_are_refused_and_an_ended_event_still_ends(make_instance, caplog):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        await start2(cp, t0)
        at = t0 + timedelta(minutes=10)
        for value, code in [(float("nan"), "FormatViolation"), (float("inf"), "FormatViolation"),
                            (float("-inf"), "FormatViolation"), (1e308, "PropertyConstraintViolation"),
                            (10**400, "PropertyConstraintViolation")]:
            assert await refused(cp, event("Updated", 1, at, meter=mv2(at, value))) == code, value
            # the Started of another transaction: refused at its start, nothing stored
            assert await refused(cp, event("Started", 0, at, "TX-H-2", mv2(at, value),
                                           evse={"id": 2}, id_token=RFID)) == code, value
        assert await cpo.platform.charging.get_transaction("CP-1", "TX-H-2") is None
        assert await refused(cp, event("Updated", 1, "yesterday")) == "TypeConstraintViolation"
        assert await refused(cp, call201.StatusNotification(timestamp="yesterday", connector_status="Occupied",
                                                            evse_id=1, connector_id=1)) == "TypeConstraintViolation"
        assert await refused(cp, call201.MeterValues(evse_id=1, meter_value=mv2(at, 5, multiplier=10**7))
                             ) == "PropertyConstraintViolation"
        assert await refused(cp, event("Updated", 1, "2026-13-45T99:00:00Z")) == "TypeConstraintViolation"
        await cp.call(event("Updated", 1, at, meter=mv2(at, 3000)))
        # the end carries a NaN and a 1e308: ignored, the transaction ends and is billed
        end = t0 + timedelta(minutes=20)
        ended = await cp.call(event("Ended", 2, end, meter=[*mv2(end, float("nan")), *mv2(end, 1e308)],
                                    state="EVConnected"))
        assert ended.id_token_info is None
    tx = await cpo.platform.charging.get_transaction("CP-1", "TX-H-1")
    assert tx.status == "COMPLETED" and len(tx.state["flags"]["dropped"]) == 2
    cdr = await wait_cdr(emsp, tx.session_id)
    assert cdr["total_energy"] == 3.0 and "2 unreadable meter value(s) of the stop ignored" in cdr["remark"]
    assert not [r for r in caplog.records if r.exc_info]


async def test_201_spike_and_an_implausible_end_reading_bill_the_real_energy(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        await start2(cp, t0)
        for seq, (minute, wh) in enumerate([(10, 1000), (20, 2000), (25, 999_000), (30, 3000)], start=1):
            at = t0 + timedelta(minutes=minute)
            await cp.call(event("Updated", seq, at, meter=mv2(at, wh)))
        end = t0 + timedelta(minutes=31)  # its end reading: 897 kWh in a minute
        await cp.call(event("Ended", 5, end, meter=mv2(end, 900_000, context="Transaction.End"), state="EVConnected"))
    tx = await cpo.platform.charging.get_transaction("CP-1", "TX-H-1")
    cdr = await wait_cdr(emsp, tx.session_id)
    # DC-1: 3 kWh x 0.25 (10% VAT)
    assert cdr["total_energy"] == 3.0 and cdr["total_energy_cost"] == {"excl_vat": 0.75, "incl_vat": 0.83}
    assert "2 implausible meter reading(s) not billed" in cdr["remark"]
    assert tx.meter_stop_wh == 3000.0  # the register at the stop: the last plausible reading


async def test_201_start_on_an_evse_nobody_knows_is_refused_at_its_start(make_instance):
    cpo, _emsp = await roaming_pair(make_instance)
    t0 = past(10)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                               reason="PowerUp"))
        for evse in ({"id": 0}, {"id": -1}, {"id": 1, "connector_id": 0}):
            assert await refused(cp, event("Started", 0, t0, "TX-E", evse=evse, id_token=RFID)
                                 ) == "PropertyConstraintViolation"
        assert await cpo.platform.charging.get_transaction("CP-1", "TX-E") is None
        answer = await cp.call(event("Started", 0, t0, "TX-E", mv2(t0, 0, context="Transaction.Begin"),
                                     evse={"id": 3, "connector_id": 1}))
        assert answer.id_token_info == {"status": "Invalid"}  # told, although it gave no token
        later = await cp.call(event("Updated", 1, t0, "TX-E", id_token=RFID))
        assert later.id_token_info == {"status": "Invalid"}
    tx = await cpo.platform.charging.get_transaction("CP-1", "TX-E")
    assert tx.status == "REFUSED" and tx.session_id is None


async def test_201_events_of_transactions_never_started(make_instance):
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                               reason="PowerUp"))
        # no EVSE named, no token: cannot be billed; answered, recorded once as an orphan
        for seq in (3, 4, 4):
            answer = await cp.call(event("Updated", seq, t0 + timedelta(minutes=seq), "GHOST-1",
                                         mv2(t0 + timedelta(minutes=seq), seq * 1000)))
            assert answer.id_token_info == {"status": "Invalid"}
        ended = await cp.call(event("Ended", 5, t0 + timedelta(minutes=5), "GHOST-1", id_token=RFID,
                                    state="EVConnected"))
        assert ended.id_token_info == {"status": "Invalid"}
        ghost = await cpo.platform.charging.get_transaction("CP-1", "GHOST-1")
        assert ghost.status == "ORPHAN" and ghost.session_id is None and ghost.stopped_at is not None
        assert "Updated" in ghost.state["flags"]["orphan"] and len(await readings_of(cpo, ghost)) == 2
        # a known EVSE and an accepted token: billed, as exactly one session and one CDR
        end = t0 + timedelta(minutes=30)
        late = event("Ended", 7, end, "GHOST-2", [*mv2(t0 + timedelta(minutes=10), 1000),
                                                  *mv2(end, 5000, context="Transaction.End")],
                     state="EVConnected", evse={"id": 1, "connector_id": 1}, id_token=RFID)
        assert (await cp.call(late)).id_token_info["status"] == "Accepted"
        assert (await cp.call(late)).id_token_info["status"] == "Accepted"  # resent: nothing new
        for seq in (8, 9):  # stray events after its end
            await cp.call(event("Updated", seq, end, "GHOST-2", evse={"id": 1}, id_token=RFID))
        # an empty transaction id is no id
        assert await refused(cp, event("Updated", 1, t0, "", id_token=RFID)) == "PropertyConstraintViolation"
        assert await refused(cp, event("Started", 0, t0, " ", evse={"id": 1})) == "PropertyConstraintViolation"
    tx = await cpo.platform.charging.get_transaction("CP-1", "GHOST-2")
    cdr = await wait_cdr(emsp, tx.session_id)
    assert tx.status == "COMPLETED" and "no Started" in tx.state["flags"]["orphan"]
    # started at its first reading (the earliest time we know): 0.50 + 4 kWh x 0.25 = 1.50 excl. VAT
    assert cdr["total_energy"] == 4.0 and cdr["total_cost"]["excl_vat"] == 1.5
    async with cpo.platform.store.connect() as conn:
        assert len(await cpo.platform.store.sessions.all(conn)) == 1
        assert len(await cpo.platform.store.cdrs.all(conn)) == 1
    assert {t.transaction_id for t in await cpo.platform.charging.flagged()} == {"GHOST-1", "GHOST-2"}


async def test_201_a_start_that_names_its_evse_later_is_billed_on_it(make_instance):
    cpo, emsp = await roaming_pair(make_instance)  # CP-1 has EVSEs 1 and 2: a start must say which
    t0 = past(60)
    async with charge_point(cpo, "CP-1", version="2.0.1") as cp:
        await cp.call(call201.BootNotification(charging_station={"model": "DC-150", "vendor_name": "Acme"},
                                               reason="PowerUp"))
        # the driver badges first (TxStartPoint Authorized), the cable goes into EVSE 1 later
        started = await cp.call(event("Started", 0, t0, "TX-L", mv2(t0, 0, context="Transaction.Begin"),
                                      state="Idle", id_token=RFID))
        assert started.id_token_info["status"] == "Accepted"
        assert (await cpo.platform.charging.get_transaction("CP-1", "TX-L")).session_id is None  # no EVSE yet
        plugged = t0 + timedelta(minutes=1)
        await cp.call(event("Updated", 1, plugged, "TX-L", state="EVConnected", evse={"id": 1, "connector_id": 1}))
        end = t0 + timedelta(minutes=20)
        await cp.call(event("Updated", 2, end, "TX-L", mv2(end, 2000)))
        await cp.call(event("Ended", 3, end, "TX-L", mv2(end, 2000, context="Transaction.End"), state="EVConnected"))
        # another one, plugged into an EVSE nobody knows: refused then
        await cp.call(event("Started", 0, t0, "TX-M", state="Idle", id_token=RFID))
        answer = await cp.call(event("Updated", 1, plugged, "TX-M", state="EVConnected", evse={"id": 3}))
        assert answer.id_token_info == {"status": "Invalid"}
        # and one that never says: ends unbilled, flagged
        await cp.call(event("Started", 0, t0, "TX-N", state="Idle", id_token=RFID))
        await cp.call(event("Ended", 1, end, "TX-N", state="Idle"))
    tx = await cpo.platform.charging.get_transaction("CP-1", "TX-L")
    cdr = await wait_cdr(emsp, tx.session_id)
    assert tx.evse_number == 1 and cdr["cdr_location"]["evse_uid"] == "EVR-GENT-1-E3"
    assert cdr["start_date_time"] == iso(t0) and cdr["total_energy"] == 2.0
    assert cdr["total_cost"] == {"excl_vat": 1.0, "incl_vat": 1.15}
    assert (await cpo.platform.charging.get_transaction("CP-1", "TX-M")).status == "REFUSED"
    never = await cpo.platform.charging.get_transaction("CP-1", "TX-N")
    assert never.session_id is None and "without naming its EVSE" in never.state["flags"]["rejected"]
