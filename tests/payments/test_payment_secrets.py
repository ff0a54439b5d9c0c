"""Payment secrets never reach the log, at DEBUG either: the Stripe secret key, the webhook signing
secret, the SMTP password, the PaymentIntents' client secrets (the `stripe` library's own DEBUG
output, which prints request parameters and answers, is held back). And the provider adapters do
not show them in their repr."""

from __future__ import annotations

import logging

from charge_points import COMMANDED, charge_point
from kit import EVSE_PAGE, paying_cpo, wait_status
from ocpp.v16 import call
from stripe_stub import API_KEY, WEBHOOK_SECRET

from evroam import logs
from evroam.payments.mail import SmtpMailer
from harness import httpx


async def test_no_payment_secret_is_ever_logged(make_instance, stripe_stub, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logs.quiet_libraries()  # as `evroam serve` with log_level = DEBUG
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path, smtp_password="smtp-pass-do-not-log")
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp, httpx.AsyncClient(base_url=cpo.url) as http:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        r = await http.post(f"{EVSE_PAGE}/pay", data={"payment_method": "pm_card_authenticationRequired"})
        payment_id = r.headers["location"].rsplit("/", 1)[1]
        await wait_status(cpo, payment_id, "ACTION_REQUIRED")
        [pi] = stripe_stub.intents
        url = f"{cpo.url}/payments/webhook/stripe"
        await stripe_stub.send_event(url, "payment_intent.payment_failed", pi, secret="whsec_wrong")
        await stripe_stub.send_event(url, "payment_intent.payment_failed", pi)
        await wait_status(cpo, payment_id, "DECLINED")
    secrets = {API_KEY, WEBHOOK_SECRET, "smtp-pass-do-not-log", stripe_stub.intents[pi]["client_secret"]}
    logged = caplog.text
    assert "payment" in logged  # the platform did log the payment's life
    assert [s for s in secrets if s in logged] == []
    provider = cpo.platform.adhoc.provider
    assert API_KEY not in repr(provider) and WEBHOOK_SECRET not in repr(provider)
    mailer = SmtpMailer("127.0.0.1", 25, sender="x@y", user="u", password="smtp-pass-do-not-log")
    assert "smtp-pass-do-not-log" not in repr(mailer)
