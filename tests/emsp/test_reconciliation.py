"""CDR reconciliation: every CDR a CPO partner posts to us is priced again by our tariff engine
from its charging periods and tariff; a difference above `dispute_threshold` is a dispute with
both amounts. Also: the tariff we hold when the CDR carries none, CDRs we cannot price, Credit
CDRs, the threshold, `evroam cdrs disputes` and the admin API; and a real CPO instance's CDR
(priced from OCPP meter values) that our re-pricing from its periods confirms to the cent."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points
from charge_points import DRIVER_TAG, charge_point, iso, past, roaming_pair, wait_cdr  # noqa: E402
from drivers_kit import CPO, CPO_TOKEN, cdr, emsp_with_cpo, expected_cost, post_cdr  # noqa: E402
from ocpp.v16 import call  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from evroam.model.common import parse_datetime
from harness import auth, httpx, wait_for

T0 = parse_datetime("2024-05-14T09:00:00Z")


async def checked(inst, cdr_id: str) -> dict:
    async def look():
        async with inst.platform.store.connect() as conn:
            return await inst.platform.store.cdr_checks.get(conn, *CPO, cdr_id)
    return await wait_for(look)


async def send(inst, *cdrs) -> None:
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        for c in cdrs:
            await post_cdr(http, inst, c)


async def test_a_correctly_priced_cdr_is_no_dispute(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    await send(emsp, cdr("OK-1", "CARD-1", start=T0, kwh=20, parking_minutes=30))
    check = await checked(emsp, "OK-1")
    excl, incl = expected_cost(20, 0.5)  # 0.50 + 5.00 + 1.00 = 6.50 excl., 7.87 incl. (7.865 half up)
    assert (excl, incl) == ("6.50", "7.87")
    assert check["status"] == "OK" and check["tariff_id"] == "T-DC"
    assert (check["claimed_excl_vat"], check["claimed_incl_vat"]) == (excl, incl)
    assert (check["computed_excl_vat"], check["computed_incl_vat"]) == (excl, incl)
    assert check["difference"] == "0.00"
    assert await emsp.platform.reconciliation.disputes() == []


async def test_an_over_priced_cdr_is_a_dispute_with_both_amounts(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    disputed = []
    emsp.platform.bus.subscribe("cdr.disputed", lambda e: disputed.append(e.data["cdr_id"]))
    await send(emsp, cdr("HIGH-1", "CARD-1", start=T0, kwh=20, total=("7.00", "8.47")))
    check = await checked(emsp, "HIGH-1")
    assert check["status"] == "DISPUTE"
    assert (check["claimed_excl_vat"], check["claimed_incl_vat"]) == ("7.00", "8.47")
    assert (check["computed_excl_vat"], check["computed_incl_vat"]) == ("5.50", "6.66")
    assert check["difference"] == "1.81"
    assert "8.47 EUR" in check["detail"] and "6.66 EUR" in check["detail"]
    assert [d["cdr_id"] for d in await emsp.platform.reconciliation.disputes()] == ["HIGH-1"]
    await emsp.platform.bus.drain()
    assert disputed == ["HIGH-1"]
    # an under-priced CDR is reported too (the difference is negative)
    await send(emsp, cdr("LOW-1", "CARD-1", start=T0, kwh=20, total=("5.00", "6.05")))
    low = await checked(emsp, "LOW-1")
    assert (low["status"], low["difference"]) == ("DISPUTE", "-0.61")


async def test_the_threshold_setting(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    # one cent off is within the default threshold (0.01)
    await send(emsp, cdr("CENT-1", "CARD-1", start=T0, kwh=20, total=("5.51", "6.67")))
    assert (await checked(emsp, "CENT-1"))["status"] == "OK"
    strict = await emsp_with_cpo(make_instance, "strict", dispute_threshold=0.0)
    await send(strict, cdr("CENT-1", "CARD-1", start=T0, kwh=20, total=("5.51", "6.67")))
    assert (await checked(strict, "CENT-1"))["status"] == "DISPUTE"
    lenient = await emsp_with_cpo(make_instance, "lenient", dispute_threshold=2.0)
    await send(lenient, cdr("HIGH-1", "CARD-1", start=T0, kwh=20, total=("7.00", "8.47")))
    assert (await checked(lenient, "HIGH-1"))["status"] == "OK"


async def test_tariff_we_hold_unknown_tariff_and_credit_cdrs(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    held = cdr("HELD-1", "CARD-1", start=T0, kwh=10, with_tariff=False)  # priced with T-DC we hold
    wrong = cdr("HELD-2", "CARD-1", start=T0, kwh=10, with_tariff=False, total=("9.00", "10.89"))
    unknown = cdr("UNK-1", "CARD-1", start=T0, kwh=10, with_tariff=False)
    for p in unknown["charging_periods"]:
        p["tariff_id"] = "NOPE"
    original = cdr("ORIG-1", "CARD-1", start=T0, kwh=10)
    credit = {**original, "id": "ORIG-1-C", "credit": True, "credit_reference_id": "ORIG-1",
              "total_cost": {"excl_vat": -3.0, "incl_vat": -3.63}}
    await send(emsp, held, wrong, unknown, original, credit)
    assert (await checked(emsp, "HELD-1"))["status"] == "OK"
    assert (await checked(emsp, "HELD-2"))["status"] == "DISPUTE"
    unchecked = await checked(emsp, "UNK-1")
    assert unchecked["status"] == "UNCHECKED" and "'NOPE' is not known" in unchecked["detail"]
    assert (await checked(emsp, "ORIG-1-C"))["status"] == "CREDIT"
    assert [d["cdr_id"] for d in await emsp.platform.reconciliation.disputes()] == ["HELD-2"]
    # once the tariff arrives, checking the CDR again prices it (admin API)
    tariff = {**cdr("x", "y", start=T0, kwh=1)["tariffs"][0], "id": "NOPE"}
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        r = await http.put(f"{emsp.url}/ocpi/2.2.1/emsp/tariffs/{CPO[0]}/{CPO[1]}/NOPE", json=tariff)
        assert r.status_code == 201
    async with httpx.AsyncClient(headers={"Authorization": "Bearer admin-secret"}) as http:
        r = await http.post(f"{emsp.url}/admin/api/cdrs/{CPO[0]}/{CPO[1]}/UNK-1/check")
        assert r.status_code == 200 and r.json()["status"] == "OK"
        r = await http.post(f"{emsp.url}/admin/api/cdrs/{CPO[0]}/{CPO[1]}/NONE/check")
        assert r.status_code == 404


async def test_disputes_in_the_cli_and_the_admin_api(make_instance):
    emsp = await emsp_with_cpo(make_instance)
    await send(emsp, cdr("OK-1", "CARD-1", start=T0, kwh=20), cdr("HIGH-1", "CARD-1", start=T0, kwh=20,
                                                                   total=("7.00", "8.47")))
    await checked(emsp, "OK-1")
    await checked(emsp, "HIGH-1")
    async with httpx.AsyncClient(headers={"Authorization": "Bearer admin-secret"}) as http:
        r = await http.get(f"{emsp.url}/admin/api/disputes")
        assert r.status_code == 200
        assert [(d["cdr_id"], d["claimed_incl_vat"], d["computed_incl_vat"]) for d in r.json()] == [
            ("HIGH-1", "8.47", "6.66")]
        r = await http.get(f"{emsp.url}/admin/api/disputes", params={"all": "true"})
        assert sorted((d["cdr_id"], d["status"]) for d in r.json()) == [("HIGH-1", "DISPUTE"), ("OK-1", "OK")]
        assert (await http.get(f"{emsp.url}/admin/api/disputes", headers={"Authorization": "Bearer x"})
                ).status_code == 401

    from evroam.cli import app

    db = f"sqlite+aiosqlite:///{emsp.db_path}"
    env = {"EVROAM_COUNTRY_CODE": "DE", "EVROAM_PARTY_ID": "MSP", "EVROAM_ROLES": "EMSP", "COLUMNS": "200"}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["cdrs", "disputes", "--json", "--db", db], env=env)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(d["cdr_id"], d["status"], d["claimed_excl_vat"], d["computed_excl_vat"], d["difference"])
            for d in listed] == [("HIGH-1", "DISPUTE", "7.00", "5.50", "1.81")]
    result = await asyncio.to_thread(CliRunner().invoke, app, ["cdrs", "disputes", "--db", db], env=env)
    assert result.exit_code == 0 and "HIGH-1" in result.output and "OK-1" not in result.output


async def test_cdrs_received_without_a_check_are_checked_later(make_instance):
    """A CDR stored while no check ran (another process, a crash) is checked by the next
    `cdrs disputes` / admin listing."""
    emsp = await emsp_with_cpo(make_instance)
    data = cdr("LATE-1", "CARD-1", start=T0, kwh=20, total=("7.00", "8.47"))
    async with emsp.platform.store.begin() as conn:  # as another process would store it
        await emsp.platform.store.cdrs.insert(conn, *CPO, "LATE-1", data, datetime.fromisoformat(
            "2024-05-14T10:00:00+00:00"))
    assert await emsp.platform.reconciliation.disputes() == []
    assert await emsp.platform.reconciliation.check_pending() == 1
    assert [d["cdr_id"] for d in await emsp.platform.reconciliation.disputes()] == ["LATE-1"]
    assert await emsp.platform.reconciliation.check_pending() == 0


async def test_a_real_cpos_cdr_is_confirmed_by_our_repricing(make_instance):
    """An evroam CPO prices a session from OCPP meter values (charging, then parked); the CDR it
    sends us is priced again from its charging periods and agrees to the cent."""
    cpo, emsp = await roaming_pair(make_instance)
    t0 = past(60)
    async with charge_point(cpo, "CP-1") as cp:
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=1000,
                                                    timestamp=iso(t0)))
        tx_id = start.transaction_id
        for minutes, wh in ((10, 8500), (20, 21000)):
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=[
                {"timestamp": iso(t0 + timedelta(minutes=minutes)), "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        await cp.call(call.StopTransaction(meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=35)),
                                           transaction_id=tx_id))
    tx = await cpo.platform.charging.get_transaction("CP-1", str(tx_id))
    received = await wait_cdr(emsp, tx.session_id)
    # DC-1: 0.50 start (20 % VAT) + 20 kWh x 0.25 (10 %) + 15 min parked x 2.00/h (20 %, per 15 min)
    assert received["total_cost"] == {"excl_vat": 6.0, "incl_vat": 6.7}
    assert received["total_parking_time"] == 0.25
    cpo_party = (cpo.platform.settings.country_code, cpo.platform.settings.party_id)

    async def look():
        async with emsp.platform.store.connect() as conn:
            return await emsp.platform.store.cdr_checks.get(conn, *cpo_party, tx.session_id)

    check = await wait_for(look)
    assert check["status"] == "OK", check
    assert (check["computed_excl_vat"], check["computed_incl_vat"]) == ("6.00", "6.70")
