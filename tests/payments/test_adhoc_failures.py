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
