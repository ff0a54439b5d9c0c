"""Ad-hoc payment end to end: an `ocpp`-library charger (OCPP 1.6) on a real evroam CPO, the real
`stripe` client against the local Stripe stub. The driver opens the EVSE's page from its QR code,
sees the status and the ad-hoc price (VAT included), pays (a 50.00 EUR hold, manual capture),
the charger is started, the session shows live with its stop button, the driver stops it, and
exactly the CDR's total is captured (the rest released); the receipt (an invoice with VAT) is
shown and e-mailed."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from charge_points import COMMANDED, charge_point, iso, past
from kit import EVSE, EVSE_PAGE, LOCATION, paying_cpo, payment_of, wait_status
from ocpp.v16 import call

from evroam.public.qr import evse_url
from harness import httpx, wait_for


async def test_pay_charge_stop_capture_exactly_the_cdr_total_and_receipt(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    async with httpx.AsyncClient(base_url=cpo.url) as http, charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

        # 1. the QR code leads to the EVSE's page: live status, the ad-hoc price with VAT, "Pay and charge"
        url = evse_url(cpo.platform.settings, LOCATION, EVSE)
        assert url == f"{cpo.url}{EVSE_PAGE}"
        page = await http.get(url)
        assert page.status_code == 200
        text = page.text
        assert "Available" in text and "Pay and charge" in text
        assert re.search(r"per kWh</td><td class=\"v\">EUR 0\.605<", text)  # 0.50 + 21 % VAT
        assert re.search(r"per session</td><td class=\"v\">EUR 1\.21<", text)  # 1.00 + 21 % VAT
        assert "VAT (21 %) included" in text

        # 2. pay: a 50.00 EUR hold with manual capture
        r = await http.post(f"{EVSE_PAGE}/pay", data={"payment_method": "pm_card_visa", "email": "dora@example.com"})
        assert r.status_code == 303, r.text
        payment_id = r.headers["location"].rsplit("/", 1)[1]
        [created] = stripe_stub.creates()
        assert (created["amount"], created["currency"], created["capture_method"], created["confirm"]) == \
            ("5000", "eur", "manual", "true")
        assert created["metadata[evroam_payment]"] == payment_id

        # 3. the charger is started for this payment
        await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
        _, start_call = next((a, p) for a, p in cp.received if a == "RemoteStartTransaction")
        id_tag = start_call["id_tag"]
        assert id_tag.startswith("AH") and len(id_tag) == 20 and start_call["connector_id"] == 1
        t0 = past(30)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_tag, meter_start=100_000,
                                                    timestamp=iso(t0)))
        assert start.id_tag_info["status"] == "Accepted"
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
            {"timestamp": iso(t0 + timedelta(minutes=10)), "sampledValue": [
                {"value": "107500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))

        # 4. live on the payment page, with a stop button
        await wait_status(cpo, payment_id, "CHARGING")
        live = await wait_for(lambda: _with_kwh(cpo, payment_id, 7.5))
        assert live["session"]["status"] == "ACTIVE" and live["can_stop"]
        page = await http.get(f"/pay/{payment_id}")
        assert "Stop charging" in page.text and "Charging" in page.text

        # 5. the driver stops; the charger ends the transaction at 23.456 kWh
        r = await http.post(f"/pay/{payment_id}/stop")
        assert r.status_code == 303
        await wait_for(lambda: any(a == "RemoteStopTransaction" for a, _ in cp.received))
        await cp.call(call.StopTransaction(meter_stop=123_456, timestamp=iso(t0 + timedelta(minutes=25)),
                                           transaction_id=start.transaction_id))

        # 6. exactly the CDR's total is captured
        done = await wait_status(cpo, payment_id, "CAPTURED")
    cdr = await cpo.platform.charging.get_cdr(live["session"]["session_id"])
    assert cdr["authorization_reference"] == payment_id and cdr["cdr_token"]["type"] == "AD_HOC_USER"
    assert cdr["tariffs"][0]["id"] == "ADHOC-DC"  # the ad-hoc tariff, not the REGULAR one
    # 23.456 kWh x 0.50 + 1.00 = 12.728 -> 12.73 excl.; incl.: 23.456 x 0.605 + 1.21 = 15.40088 -> 15.40
    assert cdr["total_cost"] == {"excl_vat": 12.73, "incl_vat": 15.40}
    [(pi, captured)] = stripe_stub.captures()
    assert captured == 1540 and stripe_stub.intents[pi]["amount_received"] == 1540
    assert stripe_stub.intents[pi]["status"] == "succeeded" and stripe_stub.cancels() == []
    assert done["captured"] == "15.40" and done["held"] == "50.00"

    # 7. the receipt: an invoice with VAT, on the page and by e-mail
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        receipt = await http.get(f"/pay/{payment_id}/receipt")
    assert receipt.status_code == 200
    assert "Total EUR" in receipt.text and ">12.73<" in receipt.text and ">2.67<" in receipt.text \
        and ">15.40<" in receipt.text
    data = await cpo.platform.adhoc.receipt(payment_id)
    assert data["total"] == {"excl_vat": "12.73", "vat": "2.67", "incl_vat": "15.40"} and data["paid"] == "15.40"
    assert data["energy_kwh"] == "23.456" and data["vat_rates"] == ["21"]
    [mail] = list((tmp_path / "outbox").glob("*.eml"))  # the e-mail given when paying
    body = mail.read_text()
    assert "To: dora@example.com" in body and data["number"] in body and "15.40" in body

    # 8. Stripe's webhook for the capture is taken (signed); a forged one is refused
    url = f"{cpo.url}/payments/webhook/stripe"
    assert (await stripe_stub.send_event(url, "payment_intent.succeeded", pi)).status_code == 200
    forged = await stripe_stub.send_event(url, "payment_intent.canceled", pi, secret="whsec_forged")
    assert forged.status_code == 400 and forged.json()["error"] == "refused"
    assert (await payment_of(cpo, payment_id))["status"] == "CAPTURED"
    assert Decimal(done["captured"]) == Decimal(str(cdr["total_cost"]["incl_vat"]))


async def _with_kwh(cpo, payment_id: str, kwh: float) -> dict | None:
    view = await payment_of(cpo, payment_id)
    return view if view.get("session") and view["session"]["kwh"] == kwh else None
