"""A driver's journey through the driver API, end to end: an evroam CPO with an OCPP 1.6 charger
and an evroam eMSP registered with each other over OCPI. The driver finds the charger, reads
its price, starts charging from the app (START_SESSION through the CPO to the charger), follows
the session and its cost, stops (STOP_SESSION), and finds the CDR, confirmed by our re-pricing,
on the month's invoice. Another driver sees none of it."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points
from charge_points import COMMANDED, PASSWORD, charge_point, iso, past  # noqa: E402
from drivers_kit import bearer  # noqa: E402
from ocpp.v16 import call  # noqa: E402

from evroam.demo import load_demo  # noqa: E402
from evroam.ocpi.credentials import handshake  # noqa: E402
from harness import httpx, wait_for  # noqa: E402

API = "/driver/v1"
GENT = {"lat": 51.0476, "lon": 3.7299}


async def test_find_price_start_follow_stop_and_invoice(make_instance):
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",),
                              extra={"session_push_interval": 0})
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    assert await load_demo(cpo.platform)
    _, token_a = await handshake.invite(cpo.platform, "emsp-partner")
    await handshake.register_with(emsp.platform, "cpo-partner", cpo.versions_url, token_a)
    dora = await emsp.platform.drivers.add("Dora", token_uid="DORA-CARD")
    eve = await emsp.platform.drivers.add("Eve")
    app_token = next(t for t in dora.tokens if t["type"] == "APP_USER")

    async def at_cpo(uid, kind):
        async with cpo.platform.store.connect() as conn:
            return await cpo.platform.store.tokens.get(conn, "DE", "MSP", uid, kind)

    await wait_for(lambda: at_cpo(app_token["uid"], "APP_USER"))
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E3", 2: "EVR-GENT-1-E1"})

    async with httpx.AsyncClient(base_url=emsp.url, headers=bearer(dora.api_key)) as http, \
            charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

        # 1. a fast charger near Gent (the locations the CPO pushed to us)
        async def found():
            r = await http.get(f"{API}/chargers", params={**GENT, "connector_type": "IEC_62196_T2_COMBO",
                                                          "min_power_kw": 100, "available": "true"})
            return r.json()["chargers"]

        chargers = await wait_for(found)
        assert [(c["location_id"], [e["uid"] for e in c["evses"]]) for c in chargers][0] == \
            ("EVR-GENT-1", ["EVR-GENT-1-E3"])

        # 2. its price: DC-1 = 0.50 start (20 % VAT) + 0.25/kWh (10 %); 30 kWh -> 8.00 excl., 8.85 incl.
        loc = (await http.get(f"{API}/locations/NL/CPO/EVR-GENT-1")).json()
        ccs = next(e for e in loc["evses"] if e["uid"] == "EVR-GENT-1-E3")["connectors"][0]
        assert ccs["estimate"]["total_cost"] == {"excl_vat": "8.00", "vat": "0.85", "incl_vat": "8.85"}
        assert ccs["tariff"]["lines"][0].startswith("0.60 EUR per session (incl. 20% VAT), 0.275 EUR per kWh")

        # 3. start from the app
        r = await http.post(f"{API}/charging/start", json={"country_code": "NL", "party_id": "CPO",
                                                           "location_id": "EVR-GENT-1", "evse_uid": "EVR-GENT-1-E3"})
        assert r.status_code == 202, r.text
        command = r.json()
        assert command["command"] == "START_SESSION" and command["token_uid"] == app_token["uid"]

        async def result(cid):
            c = (await http.get(f"{API}/commands/{cid}")).json()
            return c if c.get("result") else None

        assert (await wait_for(lambda: result(command["id"])))["result"]["result"] == "ACCEPTED"
        action, payload = next((a, p) for a, p in cp.received if a == "RemoteStartTransaction")
        assert payload["id_tag"] == app_token["uid"]

        # 4. the charger starts; the driver follows the session and its cost
        t0 = past(40)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=app_token["uid"], meter_start=1000,
                                                    timestamp=iso(t0)))
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
            {"timestamp": iso(t0 + timedelta(minutes=10)), "sampledValue": [
                {"value": "11000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))

        async def charging():
            items = (await http.get(f"{API}/sessions", params={"active": "true"})).json()["sessions"]
            return items[0] if items and items[0]["kwh"] == 10 else None

        live = await wait_for(charging)
        session_id = live["session_id"]
        assert live["status"] == "ACTIVE" and live["authorization_reference"] == command["id"]
        assert live["cost"]["excl_vat"] == "3.00"  # 0.50 + 10 kWh x 0.25, as the CPO reports it
        async with httpx.AsyncClient(base_url=emsp.url, headers=bearer(eve.api_key)) as other:
            assert (await other.get(f"{API}/sessions/NL/CPO/{session_id}")).status_code == 404
            assert (await other.get(f"{API}/commands/{command['id']}")).status_code == 404
            r = await other.post(f"{API}/charging/stop", json={"country_code": "NL", "party_id": "CPO",
                                                               "session_id": session_id})
            assert r.status_code == 404

        # 5. stop from the app; the charger ends the transaction
        r = await http.post(f"{API}/charging/stop", json={"country_code": "NL", "party_id": "CPO",
                                                          "session_id": session_id})
        assert r.status_code == 202 and r.json()["command"] == "STOP_SESSION"
        await wait_for(lambda: any(a == "RemoteStopTransaction" for a, _ in cp.received))
        await cp.call(call.StopTransaction(meter_stop=21000, timestamp=iso(t0 + timedelta(minutes=30)),
                                           transaction_id=start.transaction_id))

        # 6. the CDR, priced by the CPO and confirmed by our re-pricing
        async def billed():
            items = (await http.get(f"{API}/cdrs")).json()["cdrs"]
            return items[0] if items and items[0]["price_check"] else None

        cdr = await wait_for(billed)
        assert cdr["session_id"] == session_id and cdr["energy_kwh"] == 20
        assert cdr["total_cost"] == {"excl_vat": "5.50", "vat": "0.60", "incl_vat": "6.10"}
        assert cdr["price_check"] == "OK"
        ended = (await http.get(f"{API}/sessions/NL/CPO/{session_id}")).json()
        assert ended["status"] == "COMPLETED" and ended["kwh"] == 20

        # 7. the invoice line equals the CDR
        month = cdr["end_date_time"][:7]
        invoice = (await http.get(f"{API}/invoices/{month}")).json()
        assert [(ln["cdr_id"], ln["excl_vat"], ln["vat"], ln["incl_vat"]) for ln in invoice["lines"]] == [
            (cdr["cdr_id"], "5.50", "0.60", "6.10")]
        assert invoice["totals"] == [{"currency": "EUR", "lines": 1, "energy_kwh": "20.000", "excl_vat": "5.50",
                                      "vat": "0.60", "incl_vat": "6.10"}]
        me = (await http.get(f"{API}/me")).json()
        if month == me["updated_at"][:7]:  # (unless the month turned during the test)
            assert me["spent_this_month"]["incl_vat"] == "6.10"
    async with httpx.AsyncClient(base_url=emsp.url, headers=bearer(eve.api_key)) as other:
        assert (await other.get(f"{API}/cdrs")).json()["cdrs"] == []
        assert (await other.get(f"{API}/invoices/{month}")).json()["lines"] == []
