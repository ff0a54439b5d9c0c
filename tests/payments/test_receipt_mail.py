"""The receipt by e-mail through SMTP: a local SMTP server (aiosmtpd) takes the message the driver
asks for on the receipt page; it carries the receipt as text and as HTML (an invoice with VAT)."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

from aiosmtpd.controller import Controller
from charge_points import COMMANDED, charge_point, iso, past
from kit import EVSE_PAGE, paying_cpo, wait_status
from ocpp.v16 import call

from harness import free_socket, httpx, wait_for


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


async def test_receipt_sent_through_smtp(make_instance, stripe_stub, tmp_path):
    inbox = Inbox()
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        cpo = await paying_cpo(make_instance, stripe_stub, tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                               smtp_starttls=False, mail_from="Receipts <receipts@evroam.test>")
        async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp, \
                httpx.AsyncClient(base_url=cpo.url) as http:
            await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
            r = await http.post(f"{EVSE_PAGE}/pay", data={"payment_method": "pm_card_visa"})
            payment_id = r.headers["location"].rsplit("/", 1)[1]
            await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
            tag = next(p for a, p in cp.received if a == "RemoteStartTransaction")["id_tag"]
            t0 = past(15)
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(t0)))
            await wait_status(cpo, payment_id, "CHARGING")
            await cp.call(call.StopTransaction(meter_stop=10_000, timestamp=iso(t0 + timedelta(minutes=10)),
                                               transaction_id=start.transaction_id))
            await wait_status(cpo, payment_id, "CAPTURED")
            bad = await http.post(f"/pay/{payment_id}/receipt/email", data={"email": "x@y>\r\nBcc: z@w"})
            assert bad.status_code == 400 and inbox.messages == []
            sent = await http.post(f"/pay/{payment_id}/receipt/email", data={"email": "driver@example.com"})
            assert sent.status_code == 303 and "sent=driver%40example.com" in sent.headers["location"]
        await wait_for(lambda: inbox.messages)
    finally:
        smtp.stop()
    [(sender, to, raw)] = inbox.messages
    assert sender == "receipts@evroam.test" and to == ["driver@example.com"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"].startswith("Your charging receipt R-")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # 10 kWh x 0.605 + 1.21 = 7.26 incl.; 6.00 excl.
    assert "Total EUR" in text and "6.00" in text and "1.26" in text and "7.26" in text
    assert "<table" in html and "7.26" in html
