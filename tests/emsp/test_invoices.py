"""Monthly invoices per driver: a line per CDR that ended in the month (in `billing_time_zone`),
VAT from each CDR's total_cost, money to the cent, totals per currency equal to the sum of the
lines, Credit CDRs negative, CSV and JSON, through the driver API, the admin API and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
from drivers_kit import CPO_TOKEN, bearer, cdr, emsp_with_cpo, post_cdr
from typer.testing import CliRunner

from evroam.model.common import parse_datetime
from harness import auth, httpx

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
async def billed(make_instance):
    emsp = await emsp_with_cpo(make_instance, billing_time_zone="Europe/Amsterdam")
    alice = await emsp.platform.drivers.add("Alice", token_uid="CARD-1")
    bob = await emsp.platform.drivers.add("Bob", token_uid="BOB-1")
    a1 = cdr("A1", "CARD-1", start=parse_datetime("2024-05-03T08:00:00Z"), kwh=20)  # 5.50 / 6.66
    a1_credit = {**a1, "id": "A1-C", "credit": True, "credit_reference_id": "A1",
                 "total_cost": {"excl_vat": -5.5, "incl_vat": -6.66}}
    cdrs = [
        a1,
        a1_credit,
        # 0.50 + 33.333 x 0.25 + 0.5 h x 2.00 = 9.83325 excl., x 1.21 = 11.8982325 incl.
        cdr("A2", "CARD-1", start=parse_datetime("2024-05-20T17:00:00Z"), kwh=33.333, parking_minutes=30),
        # ends 2024-05-31T23:30 UTC = 1 June 01:30 in Amsterdam: June, not May
        cdr("A3", "CARD-1", start=parse_datetime("2024-05-31T22:30:00Z"), kwh=10),
        # ends 2024-04-30T22:30 UTC = 1 May 00:30 in Amsterdam: May
        cdr("A4", "CARD-1", start=parse_datetime("2024-04-30T21:30:00Z"), kwh=4),
        # a CPO that tells no VAT
        cdr("A5", "CARD-1", start=parse_datetime("2024-05-22T10:00:00Z"), kwh=8,
            total_cost={"excl_vat": 2.5}),
        # another currency
        cdr("A6", "CARD-1", start=parse_datetime("2024-05-23T10:00:00Z"), kwh=8, currency="CHF",
            total_cost={"excl_vat": 3.004, "incl_vat": 3.235}),
        cdr("B1", "BOB-1", start=parse_datetime("2024-05-10T10:00:00Z"), kwh=40),
    ]
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        for c in cdrs:
            await post_cdr(http, emsp, c)
    emsp.keys = {"alice": alice.api_key, "bob": bob.api_key}
    return emsp


MAY_ALICE = [  # (cdr, excl, vat, incl, credit) in the order the CDRs ended
    ("A4", "1.50", "0.32", "1.82", False),  # 0.50 + 1.00 = 1.50; 1.815 -> 1.82
    ("A1", "5.50", "1.16", "6.66", False),
    ("A1-C", "-5.50", "-1.16", "-6.66", True),
    ("A2", "9.83", "2.07", "11.90", False),
    ("A5", "2.50", "0.00", "2.50", False),
    ("A6", "3.00", "0.24", "3.24", False),
]


async def test_invoice_lines_and_totals_to_the_cent(billed):
    async with httpx.AsyncClient(base_url=billed.url, headers=bearer(billed.keys["alice"])) as http:
        r = await http.get("/driver/v1/invoices/2024-05")
    assert r.status_code == 200
    inv = r.json()
    assert inv["month"] == "2024-05" and inv["time_zone"] == "Europe/Amsterdam"
    assert inv["period"] == {"start": "2024-04-30T22:00:00Z", "end": "2024-05-31T22:00:00Z"}
    assert inv["driver"]["name"] == "Alice"
    assert [(ln["cdr_id"], ln["excl_vat"], ln["vat"], ln["incl_vat"], ln["credit"]) for ln in inv["lines"]] == MAY_ALICE
    a2 = next(ln for ln in inv["lines"] if ln["cdr_id"] == "A2")
    assert a2["vat_rate"] == "21.1" and a2["energy_kwh"] == "33.333" and a2["currency"] == "EUR"
    assert a2["location"] == "Station LOC1, Damrak 1, Amsterdam" and a2["cpo"] == "NL/CPO"
    assert next(ln for ln in inv["lines"] if ln["cdr_id"] == "A5")["vat_known"] is False
    assert next(ln for ln in inv["lines"] if ln["cdr_id"] == "A1-C")["credit_reference_id"] == "A1"
    # totals per currency are the sums of the lines: 1.50 + 5.50 - 5.50 + 9.83 + 2.50 = 13.83, ...
    assert inv["totals"] == [
        {"currency": "CHF", "lines": 1, "energy_kwh": "8.000", "excl_vat": "3.00", "vat": "0.24", "incl_vat": "3.24"},
        {"currency": "EUR", "lines": 5, "energy_kwh": "85.333", "excl_vat": "13.83", "vat": "2.39",
         "incl_vat": "16.22"},
    ]


async def test_invoice_csv(billed):
    async with httpx.AsyncClient(base_url=billed.url, headers=bearer(billed.keys["alice"])) as http:
        r = await http.get("/driver/v1/invoices/2024-05.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="invoice-2024-05.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    lines = [row for row in rows if row["end_date_time"] != "TOTAL"]
    assert [(row["cdr_id"], row["excl_vat"], row["vat"], row["incl_vat"], row["credit"] == "yes")
            for row in lines] == MAY_ALICE
    totals = {row["currency"]: (row["excl_vat"], row["vat"], row["incl_vat"]) for row in rows
              if row["end_date_time"] == "TOTAL"}
    assert totals == {"CHF": ("3.00", "0.24", "3.24"), "EUR": ("13.83", "2.39", "16.22")}


async def test_each_driver_gets_only_their_own_month(billed):
    async with httpx.AsyncClient(base_url=billed.url, headers=bearer(billed.keys["bob"])) as http:
        may = (await http.get("/driver/v1/invoices/2024-05")).json()
        assert [ln["cdr_id"] for ln in may["lines"]] == ["B1"]
        assert may["totals"][0]["incl_vat"] == "12.71"  # 10.50 x 1.21 = 12.705
    async with httpx.AsyncClient(base_url=billed.url, headers=bearer(billed.keys["alice"])) as http:
        june = (await http.get("/driver/v1/invoices/2024-06")).json()
        assert [ln["cdr_id"] for ln in june["lines"]] == ["A3"]
        assert (await http.get("/driver/v1/invoices/2023-01")).json()["lines"] == []
        for bad in ("2024-13", "2024-5", "may", "2024-05-01"):
            r = await http.get(f"/driver/v1/invoices/{bad}")
            assert r.status_code == 400 and r.json()["error"] == "invalid" and "YYYY-MM" in r.json()["detail"]


async def test_invoice_in_the_admin_api_and_the_cli(billed):
    async with httpx.AsyncClient(base_url=billed.url, headers=ADMIN) as http:
        inv = (await http.get("/admin/api/drivers/alice/invoices/2024-05")).json()
        assert [ln["cdr_id"] for ln in inv["lines"]] == [c for c, *_ in MAY_ALICE]
        r = await http.get("/admin/api/drivers/alice/invoices/2024-05.csv")
        assert r.status_code == 200 and "TOTAL" in r.text
        r = await http.get("/admin/api/drivers/nobody/invoices/2024-05")
        assert r.status_code == 404
        r = await http.get("/admin/api/drivers/alice/invoices/05-2024")
        assert r.status_code == 400 and "YYYY-MM" in r.json()["detail"]
        # the driver's key does not open the admin API
        r = await http.get("/admin/api/drivers/alice/invoices/2024-05", headers=bearer(billed.keys["alice"]))
        assert r.status_code == 401

    from evroam.cli import app

    env = {"EVROAM_COUNTRY_CODE": "DE", "EVROAM_PARTY_ID": "MSP", "EVROAM_ROLES": "EMSP",
           "EVROAM_BILLING_TIME_ZONE": "Europe/Amsterdam", "COLUMNS": "200"}
    db = f"sqlite+aiosqlite:///{billed.db_path}"
    run = CliRunner().invoke
    result = await asyncio.to_thread(run, app, ["drivers", "invoice", "Alice", "2024-05", "--json", "--db", db],
                                     env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"][1]["incl_vat"] == "16.22"
    result = await asyncio.to_thread(run, app, ["drivers", "invoice", "Alice", "2024-05", "--csv", "--db", db],
                                     env=env)
    assert result.exit_code == 0 and result.output.splitlines()[0].startswith("end_date_time,cdr_id")
    result = await asyncio.to_thread(run, app, ["drivers", "invoice", "Alice", "2024-5", "--db", db], env=env)
    assert result.exit_code == 1 and "YYYY-MM" in result.output
