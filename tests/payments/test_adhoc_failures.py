"""Ad-hoc payments that go wrong never leave money captured: a declined card holds nothing; a
charger that is offline, refuses the start or never starts, and a session that delivers no energy,
release the whole hold; each time the driver reads why. A card that needs 3-D Secure waits until
the bank's confirmation (the signed webhook) and then starts the charger."""

from __future__ import annotations

from datetime import timedelta

from charge_points import COMMANDED, charge_point, iso, past
from kit import EVSE_PAGE, paying_cpo, payment_of, wait_status
from ocpp.v16 import call

from harness import httpx, wait_for


async def _pay(cpo, payment_method: str = "pm_card_visa") -> str:
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        r = await http.post(f"{EVSE_PAGE}/pay", data={"payment_method": payment_method})
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


async def _booted(cp) -> None:
    await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))


async def test_declined_card_holds_nothing_and_starts_nothing(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        payment_id = await _pay(cpo, "pm_card_chargeDeclined")
        view = await payment_of(cpo, payment_id)
        assert view["status"] == "DECLINED" and "Your card was declined" in view["message"]
        assert "Nothing was charged" in view["message"] and not view["can_stop"]
        assert not any(a == "RemoteStartTransaction" for a, _ in cp.received)
    assert stripe_stub.captures() == [] and all(pi["status"] != "requires_capture"
                                                for pi in stripe_stub.intents.values())
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        page = await http.get(f"/pay/{payment_id}")
        assert "Your card was declined" in page.text and "Stop charging" not in page.text
        assert (await http.get(f"/pay/{payment_id}/receipt")).status_code == 404


async def test_charger_offline_releases_the_hold(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)  # CP-1 registered, never connected
    payment_id = await _pay(cpo)
    view = await wait_status(cpo, payment_id, "RELEASED")
    assert "offline" in view["message"] and "released" in view["message"]
    [pi] = stripe_stub.intents
    assert stripe_stub.cancels() == [pi] and stripe_stub.intents[pi]["status"] == "canceled"
    assert stripe_stub.captures() == [] and view["captured"] == "0.00"


async def test_charger_refusing_the_start_releases_the_hold(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        cp.answers["RemoteStartTransaction"] = "Rejected"
        payment_id = await _pay(cpo)
        view = await wait_status(cpo, payment_id, "RELEASED")
        assert "refused to start" in view["message"] and "Rejected" in view["message"]
        # the start is forgotten: a transaction with the payment's idTag now is not authorised
        tag = next(p for a, p in cp.received if a == "RemoteStartTransaction")["id_tag"]
        late = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(past(0))))
        assert late.id_tag_info["status"] != "Accepted"
    assert stripe_stub.captures() == [] and len(stripe_stub.cancels()) == 1


async def test_no_energy_delivered_releases_the_hold(make_instance, stripe_stub, tmp_path):
    """The ad-hoc tariff has a 1.00 EUR session fee, yet a session that delivered nothing costs the
    driver nothing: the hold is released, not captured."""
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        payment_id = await _pay(cpo)
        await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
        tag = next(p for a, p in cp.received if a == "RemoteStartTransaction")["id_tag"]
        t0 = past(5)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=5000, timestamp=iso(t0)))
        await wait_status(cpo, payment_id, "CHARGING")
        await cp.call(call.StopTransaction(meter_stop=5000, timestamp=iso(t0 + timedelta(minutes=3)),
                                           transaction_id=start.transaction_id, reason="EVDisconnected"))
        view = await wait_status(cpo, payment_id, "RELEASED")
    assert "No energy was delivered" in view["message"]
    cdr = await cpo.platform.charging.get_cdr(view["session"]["session_id"])
    assert cdr["total_energy"] == 0 and cdr["total_cost"]["incl_vat"] == 1.21  # the fee the CDR says ...
    assert stripe_stub.captures() == [] and len(stripe_stub.cancels()) == 1  # ... is not taken


async def test_charger_that_never_starts_releases_after_the_start_window(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path, payment_start_seconds=0.5)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        payment_id = await _pay(cpo)
        await wait_status(cpo, payment_id, "STARTING")  # accepted, but no transaction follows
        await cpo.platform.adhoc.sweep()
        import asyncio

        await asyncio.sleep(0.6)
        await cpo.platform.adhoc.sweep()
        view = await wait_status(cpo, payment_id, "RELEASED")
    assert "did not start charging in time" in view["message"]
    assert stripe_stub.captures() == [] and len(stripe_stub.cancels()) == 1


async def test_card_needing_3d_secure_starts_after_the_signed_webhook(make_instance, stripe_stub, tmp_path):
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        payment_id = await _pay(cpo, "pm_card_authenticationRequired")
        view = await payment_of(cpo, payment_id)
        [pi] = stripe_stub.intents
        assert view["status"] == "ACTION_REQUIRED" and view["client_secret"] == stripe_stub.intents[pi]["client_secret"]
        assert not any(a == "RemoteStartTransaction" for a, _ in cp.received)
        url = f"{cpo.url}/payments/webhook/stripe"
        stripe_stub.authenticate(pi)
        forged = await stripe_stub.send_event(url, "payment_intent.amount_capturable_updated", pi,
                                              secret="whsec_not_ours")
        assert forged.status_code == 400 and (await payment_of(cpo, payment_id))["status"] == "ACTION_REQUIRED"
        r = await stripe_stub.send_event(url, "payment_intent.amount_capturable_updated", pi)
        assert r.status_code == 200 and r.json()["result"] == "authorized"
        await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
        assert (await payment_of(cpo, payment_id))["status"] in ("STARTING", "CHARGING")


async def test_session_stopped_before_its_cost_passes_the_hold_and_captured_once(make_instance, stripe_stub,
                                                                                 tmp_path):
    """A 5.00 EUR hold: when the running cost reaches 90 % of it, evroam stops the session; the
    CDR's total above the hold is captured up to the hold, and only once however many processes
    settle the payment at the same moment."""
    import asyncio

    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path, payment_hold="5.00")
    adhoc = cpo.platform.adhoc
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await _booted(cp)
        payment_id = await _pay(cpo)
        await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
        tag = next(p for a, p in cp.received if a == "RemoteStartTransaction")["id_tag"]
        t0 = past(10)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(t0)))
        await wait_status(cpo, payment_id, "CHARGING")
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
            {"timestamp": iso(t0 + timedelta(minutes=5)), "sampledValue": [
                {"value": "6000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))

        async def cost_known():  # 6 kWh x 0.605 + 1.21 = 4.84 >= 4.50
            view = await payment_of(cpo, payment_id)
            return (view.get("session") or {}).get("cost_incl_vat") == "4.84"

        await wait_for(cost_known)
        await adhoc.sweep()  # the guard (the "ad-hoc-payments" singleton every 5 s)
        await wait_for(lambda: any(a == "RemoteStopTransaction" for a, _ in cp.received))
        await cp.call(call.StopTransaction(meter_stop=6500, timestamp=iso(t0 + timedelta(minutes=6)),
                                           transaction_id=start.transaction_id))
        await asyncio.gather(*(adhoc.settle(payment_id) for _ in range(5)))
        view = await wait_status(cpo, payment_id, "CAPTURED")
    assert view["captured"] == "5.00"  # 6.5 x 0.605 + 1.21 = 5.14: the hold is all there is to take
    assert [amount for _, amount in stripe_stub.captures()] == [500]
    assert (await adhoc.get(payment_id)).data["uncovered_minor"] == 14


async def test_forged_webhooks_are_refused_then_throttled(make_instance, stripe_stub, tmp_path):
    """Webhooks without a valid signature are answered 400 and change nothing; after
    `throttle_failures` of them the address is refused (429), the right signature included; a body
    over the limit is 413 before it is read; a provider that is not ours is 404."""
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path, throttle_failures=3,
                           http_max_body_bytes=4096)
    payment_id = await _pay(cpo)  # CP-1 offline: released at once, nothing to change any more
    [pi] = stripe_stub.intents
    url = f"{cpo.url}/payments/webhook/stripe"
    payload = stripe_stub.event("payment_intent.canceled", pi)
    async with httpx.AsyncClient() as http:
        assert (await http.post(f"{cpo.url}/payments/webhook/paypal", content=payload)).status_code == 404
        big = await http.post(url, content=b"x" * 5000, headers={"Stripe-Signature": "t=1,v1=00"})
        assert big.status_code == 413
        refused = [
            await http.post(url, content=payload),  # no signature
            await http.post(url, content=payload, headers={"Stripe-Signature": stripe_stub.signature(payload,
                                                                                                       "whsec_other")}),
            await http.post(url, content=payload, headers={"Stripe-Signature": stripe_stub.signature(payload,
                                                                                                       at=1_000_000)}),
        ]
        assert [r.status_code for r in refused] == [400, 400, 400]
        assert "Stripe-Signature" in refused[0].json()["detail"]
        throttled = await http.post(url, content=payload, headers={"Stripe-Signature": stripe_stub.signature(payload)})
        assert throttled.status_code == 429 and "retry-after" in throttled.headers
    view = await payment_of(cpo, payment_id)
    assert view["status"] == "RELEASED" and "offline" in view["message"]  # unchanged by the forged "canceled"


async def test_an_evse_out_of_order_is_not_paid_for(make_instance, stripe_stub, tmp_path):
    """Nothing is held for an EVSE that cannot charge now: the page says why (HTTP 400)."""
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    await cpo.platform.locations.set_evse_status("EVR-GENT-1", "EVR-GENT-1-E3", "OUTOFORDER")
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        r = await http.post(f"{EVSE_PAGE}/pay", data={"payment_method": "pm_card_visa"})
        assert r.status_code == 400 and "out of order" in r.text.lower() and "Pay and charge" in r.text
        r = await http.post("/charge/EVR-GENT-1/EVR-GENT-1-E1/pay", data={"payment_method": "pm_card_visa"})
        assert r.status_code == 400 and "cannot be started from here" in r.text  # no charger of ours on it
    assert stripe_stub.creates() == []
