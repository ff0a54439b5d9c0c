"""Subscription plans of our drivers applied in their monthly invoices, to the cent: a monthly fee
(with VAT), included kWh that make the month's first kWh free, then the plan's own price per kWh
or a discount on the CDRs' prices. Set up through the CLI (`evroam plans ...`) and the admin API;
totals stay the sums of the lines; a month before the plan is invoiced as before."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from drivers_kit import CPO_TOKEN, cdr, emsp_with_cpo, post_cdr
from typer.testing import CliRunner

from evroam.model.common import parse_datetime
from harness import auth, httpx

ADMIN = {"Authorization": "Bearer admin-secret"}


async def test_plan_price_included_kwh_and_discount_to_the_cent(make_instance):
    emsp = await emsp_with_cpo(make_instance, billing_time_zone="Europe/Amsterdam")
    await emsp.platform.drivers.add("Alice", token_uid="CARD-1")
    await emsp.platform.drivers.add("Bob", token_uid="BOB-1")
    cdrs = [
        cdr("C0", "CARD-1", start=parse_datetime("2024-04-10T08:00:00Z"), kwh=8),  # April: no plan yet
        cdr("C1", "CARD-1", start=parse_datetime("2024-05-02T08:00:00Z"), kwh=15),  # 4.25 / 5.14
        cdr("C2", "CARD-1", start=parse_datetime("2024-05-09T08:00:00Z"), kwh=12.345),
        cdr("C3", "CARD-1", start=parse_datetime("2024-05-20T08:00:00Z"), kwh=10),
        cdr("B1", "BOB-1", start=parse_datetime("2024-05-10T10:00:00Z"), kwh=40),  # 10.50 / 12.71
    ]
    async with httpx.AsyncClient(headers=auth(CPO_TOKEN)) as http:
        for c in cdrs:
            await post_cdr(http, emsp, c)

    # FLEX through the CLI: 9.99 a month + 21 % VAT, 20 kWh included, then 0.30/kWh + 21 % VAT
    from evroam.cli import app

    env = {"EVROAM_COUNTRY_CODE": "DE", "EVROAM_PARTY_ID": "MSP", "EVROAM_ROLES": "EMSP",
           "EVROAM_BILLING_TIME_ZONE": "Europe/Amsterdam", "COLUMNS": "200"}
    db = f"sqlite+aiosqlite:///{emsp.db_path}"

    async def cli(*args: str):
        result = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--db", db], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    await cli("plans", "add", "FLEX", "--name", "Flex", "--fee", "9.99", "--vat", "21", "--included-kwh", "20",
              "--price-per-kwh", "0.30", "--currency", "EUR")
    await cli("plans", "subscribe", "Alice", "FLEX", "--from", "2024-05")
    assert json.loads(await cli("plans", "list", "--json"))[0]["price_per_kwh"] == "0.30"

    # SAVE through the admin API: no fee, 10 % off the CDRs' prices
    async with httpx.AsyncClient(base_url=emsp.url, headers=ADMIN) as http:
        r = await http.put("/admin/api/plans/SAVE", json={"name": "Save", "discount_percent": "10", "vat_rate": "21"})
        assert r.status_code == 201, r.text
        bad = await http.put("/admin/api/plans/BAD", json={"price_per_kwh": "0.3", "discount_percent": "10"})
        assert bad.status_code == 400 and "not both" in bad.json()["detail"]
        assert (await http.put("/admin/api/drivers/Bob/plan", json={"plan": "SAVE", "from": "2024-05"})).status_code \
            == 200
        assert (await http.get("/admin/api/drivers/Bob/plan")).json() == [{"plan": "SAVE", "from": "2024-05",
                                                                            "until": None}]
        alice = (await http.get("/admin/api/drivers/Alice/invoices/2024-05")).json()
        april = (await http.get("/admin/api/drivers/Alice/invoices/2024-04")).json()
        bob = (await http.get("/admin/api/drivers/Bob/invoices/2024-05")).json()

    rows = [(ln["cdr_id"], ln.get("included_kwh"), ln["excl_vat"], ln["vat"], ln["incl_vat"]) for ln in alice["lines"]]
    assert rows == [
        ("PLAN-FLEX", None, "9.99", "2.10", "12.09"),  # 9.99 x 1.21 = 12.0879
        ("C1", "15.000", "0.00", "0.00", "0.00"),  # all 15 kWh included
        ("C2", "5.000", "2.20", "0.47", "2.67"),  # 7.345 kWh x 0.30 = 2.2035; x 1.21 = 2.666235
        ("C3", "0.000", "3.00", "0.63", "3.63"),
    ]
    c2 = alice["lines"][2]
    assert (c2["cdr_excl_vat"], c2["cdr_incl_vat"], c2["billed_kwh"]) == ("3.59", "4.34", "7.345")  # the CPO's price
    assert alice["totals"] == [{"currency": "EUR", "lines": 4, "energy_kwh": "37.345", "excl_vat": "15.19",
                                "vat": "3.20", "incl_vat": "18.39"}]
    assert alice["subscription"]["used_included_kwh"] == "20.000"
    assert april["subscription"] is None and april["totals"][0]["incl_vat"] == "3.03"  # 2.50 x 1.21 = 3.025

    assert [(ln["cdr_id"], ln["excl_vat"], ln["vat"], ln["incl_vat"]) for ln in bob["lines"]] == [
        ("PLAN-SAVE", "0.00", "0.00", "0.00"),
        ("B1", "9.45", "1.99", "11.44"),  # 10.50 x 0.9; 12.71 x 0.9 = 11.439
    ]
    assert bob["totals"][0]["incl_vat"] == "11.44"

    # the CSV export: the same lines, the TOTAL row is their sum
    text = await cli("drivers", "invoice", "Alice", "2024-05", "--csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["incl_vat"] for r in table] == ["12.09", "0.00", "2.67", "3.63", "18.39"]
    # a plan some driver had stays (invoices need it)
    out = await asyncio.to_thread(CliRunner().invoke, app, ["plans", "remove", "FLEX", "--db", db], env=env)
    assert out.exit_code == 1 and "stays" in out.output
