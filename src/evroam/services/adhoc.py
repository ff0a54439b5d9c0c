"""Ad-hoc payment: a driver without a contract pays by card at one of our EVSEs.

1. The driver opens the EVSE's public page (its QR code), sees the status and the ad-hoc price,
   and pays: an amount (`payment_hold`) is pre-authorised on the card through the payment
   provider (`PaymentProvider` port; Stripe: a PaymentIntent with manual capture). A card the
   bank wants to authenticate first (3-D Secure) waits as ACTION_REQUIRED until the driver did.
2. The charger is started through the remote start path every operator start takes
   (`ChargerOperations.start`, which reaches the charger on whichever node holds it), with a
   token of type AD_HOC_USER made for this payment and the payment's id as the
   `authorization_reference`: the Session and CDR carry it, and the session is priced with the
   EVSE's ad-hoc tariff (services/tariff_choice.py).
3. The driver follows the session live and may stop it. Before its cost reaches the hold, the
   session is stopped.
4. After the stop, exactly the CDR's total (VAT included, in minor units) is captured and the
   rest of the hold released; the receipt (an invoice with VAT) can be shown and e-mailed.

Whatever fails (card declined, charger offline or refusing, no start in time, no energy
delivered) nothing is captured: the hold is released and the driver is told why. Every change
of a payment's status is a conditional update (store/payments.py), so two processes hearing the
same event never both capture or both release; the provider calls are idempotent per payment.
Events may be lost or arrive on another node: `sweep()` (the "ad-hoc-payments" singleton)
settles what they left."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from evroam.events import Bus
from evroam.model.common import format_datetime, utcnow
from evroam.services.charging import AD_HOC_USER, ChargingService
from evroam.services.errors import Invalid, NotFound, ServiceError
from evroam.services.money import from_minor, to_minor
from evroam.services.open_data import OpenDataService
from evroam.services.operations import ChargerOperations
from evroam.services.ports import (
    ACTION_REQUIRED,
    AUTHORIZED,
    CANCELED,
    DECLINED,
    ChargerOffline,
    ChargerTimedOut,
    Mailer,
    PaymentDeclined,
    PaymentProvider,
    PaymentUnavailable,
)
from evroam.services.receipts import receipt
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.payments import PaymentRecord

log = logging.getLogger(__name__)

# The statuses of a payment
NEW = "NEW"  # stored, the provider not asked yet
WAITING = "ACTION_REQUIRED"  # the driver must authenticate the card (3-D Secure)
HELD = "HELD"  # the amount is held; the charger not asked yet
STARTING = "STARTING"  # the charger accepted the start (or did not answer yet); no transaction yet
CHARGING = "CHARGING"  # the session runs
CAPTURING = "CAPTURING"  # the CDR is in; capturing its total
RELEASING = "RELEASING"  # releasing the hold
CAPTURED = "CAPTURED"  # done: the CDR's total taken, the rest released
RELEASED = "RELEASED"  # done: nothing taken
REFUSED = "DECLINED"  # the card was refused: nothing held
FINAL = (CAPTURED, RELEASED, REFUSED)
STARTABLE = ("AVAILABLE", "CHARGING")  # CHARGING: plugged in (Preparing) with no transaction yet

MESSAGES = {
    "offline": "The charger is offline, so charging could not start. Nothing was charged: the amount held "
               "on your card is released.",
    "refused": "The charger refused to start ({reason}). Nothing was charged: the amount held on your card "
               "is released.",
    "no_start": "The charger did not start charging in time. Nothing was charged: the amount held on your "
                "card is released.",
    "no_energy": "No energy was delivered. Nothing was charged: the amount held on your card is released.",
    "cancelled": "Cancelled before charging started. Nothing was charged: the amount held on your card is "
                 "released.",
    "provider_cancelled": "The payment was cancelled by the payment provider. Nothing was charged.",
}


def _text(key: str, **kw: Any) -> str:
    return MESSAGES[key].format(**kw)


class AdHocPayments:
    def __init__(self, store: Store, bus: Bus, settings: Settings, open_data: OpenDataService,
                 operations: ChargerOperations, charging: ChargingService, provider: PaymentProvider | None,
                 mailer: Mailer | None = None,
                 render_receipt: Callable[[dict[str, Any]], tuple[str, str]] | None = None) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.open_data = open_data
        self.operations = operations
        self.charging = charging
        self.provider = provider
        self.mailer = mailer
        self.render_receipt = render_receipt  # receipt -> (text, html), set by the public pages
        bus.subscribe("session.started", self._session_started, everywhere=True)
        bus.subscribe("session.completed", self._session_completed, everywhere=True)

    @property
    def available(self) -> bool:
        return self.provider is not None

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    # ------------------------------------------------------------------ paying

    async def start(self, location_id: str, evse_uid: str, *, payment_method: str,
                    email: str | None = None) -> PaymentRecord:
        """Hold the amount on the card and start the EVSE. The payment comes back DECLINED (card
        refused), ACTION_REQUIRED (authenticate the card, then `confirm`), or on its way
        (STARTING, CHARGING) or already RELEASED with the reason (charger offline, refusing).
        Invalid (nothing held) when this EVSE cannot be paid at now."""
        if self.provider is None:
            raise Invalid("card payment is not available here")
        if not payment_method or len(payment_method) > 255:
            raise Invalid("payment_method: the card token from the payment form is missing")
        if email is not None and (len(email) > 255 or "@" not in email):
            raise Invalid("email: not an e-mail address")
        loc, evse = await self.open_data.evse(location_id, evse_uid)
        place = await self._charger_of(loc["id"], evse["uid"])
        if place is None:
            raise Invalid("this charging point cannot be started from here")
        charger_id, evse_number = place
        if evse.get("status") not in STARTABLE:
            raise Invalid(f"this charging point is {evse.get('status', 'UNKNOWN').lower().replace('_', ' ')} "
                          "now: it cannot be started")
        if await self.charging.active_transaction(charger_id, evse_number) is not None:
            raise Invalid("this charging point is in use")
        snap = await self.open_data.snapshot()
        tariff = self.open_data.ad_hoc_tariff(snap, evse)
        currency = (tariff or {}).get("currency") or self.settings.currency
        hold_minor = to_minor(self.settings.payment_hold, currency)
        payment_id = secrets.token_hex(16)
        async with self.store.begin() as conn:
            payment = await self.store.payments.create(
                conn, id=payment_id, location_id=loc["id"], evse_uid=evse["uid"], charger_id=charger_id,
                evse_number=evse_number, provider=self.provider.name, currency=currency, hold_minor=hold_minor,
                status=NEW, token_uid="AH" + secrets.token_hex(9).upper(), email=email,
                data={"evse_id": evse.get("evse_id") or evse["uid"], "location_name": loc.get("name"),
                      "tariff_id": (tariff or {}).get("id")})
        try:
            hold = await self.provider.hold(amount_minor=hold_minor, currency=currency, payment_method=payment_method,
                                            reference=payment_id, email=email,
                                            description=f"Charging at {payment.data['evse_id']}")
        except PaymentDeclined as exc:
            await self._set(payment, (NEW,), REFUSED, message=f"Your card was declined: {exc.reason}. "
                            "Nothing was charged.")
            return await self.get(payment_id)
        except PaymentUnavailable as exc:
            log.warning("payment %s: the payment provider is unavailable: %s", payment_id, exc.message)
            await self._set(payment, (NEW,), REFUSED, message="The payment service cannot be reached now. "
                            "Nothing was charged; please try again in a moment.")
            return await self.get(payment_id)
        async with self.store.begin() as conn:
            await self.store.payments.update(conn, payment_id, provider_ref=hold.ref)
        payment.provider_ref = hold.ref
        return await self._held(payment, hold.state, hold.client_secret)

    async def _held(self, payment: PaymentRecord, state: str, client_secret: str | None = None) -> PaymentRecord:
        if state == ACTION_REQUIRED:
            data = {**payment.data, "client_secret": client_secret}
            await self._set(payment, (NEW,), WAITING, data=data)
        elif state == AUTHORIZED:
            if await self._set(payment, (NEW, WAITING), HELD):
                await self._start_charging(await self.get(payment.id))
        elif state in (DECLINED, CANCELED):
            await self._set(payment, (NEW, WAITING), REFUSED, message="Your card was declined. Nothing was charged.")
        return await self.get(payment.id)

    async def confirm(self, payment_id: str) -> PaymentRecord:
        """The driver authenticated the card: read the hold again and go on."""
        payment = await self.get(payment_id)
        if payment.status != WAITING or self.provider is None:
            return payment
        try:
            hold = await self.provider.confirm(payment.provider_ref)
        except PaymentDeclined as exc:
            await self._set(payment, (WAITING,), REFUSED, message=f"Your card was declined: {exc.reason}. "
                            "Nothing was charged.")
            return await self.get(payment_id)
        return await self._held(payment, hold.state, hold.client_secret)

    async def _start_charging(self, payment: PaymentRecord) -> None:
        if not await self._set(payment, (HELD,), STARTING):
            return
        cc, pid = self.owner
        token = {"country_code": cc, "party_id": pid, "uid": payment.token_uid, "type": AD_HOC_USER,
                 "contract_id": payment.token_uid, "issuer": self.settings.business_name, "valid": True,
                 "whitelist": "NEVER"}
        try:
            reply = await self.operations.start(payment.charger_id, evse_number=payment.evse_number,
                                                uid=payment.token_uid, token=token,
                                                authorization_reference=payment.id)
        except ChargerOffline:
            await self.release(payment.id, _text("offline"))
            return
        except ChargerTimedOut:
            log.info("payment %s: charger %s did not answer the start; waiting for its transaction until "
                     "payment_start_seconds", payment.id, payment.charger_id)
            return
        except ServiceError as exc:
            await self.release(payment.id, _text("refused", reason=exc.message[:200]))
            return
        status = (reply.get("answer") or {}).get("status")
        if status != "Accepted":
            await self.release(payment.id, _text("refused", reason=f"it answered {status}"))
            return
        async with self.store.begin() as conn:
            current = await self.store.payments.get(conn, payment.id)
            await self.store.payments.update(conn, payment.id, data={
                **current.data, "remote_start_pk": reply.get("remote_start_pk"),
                "start_accepted_at": format_datetime(utcnow())})

    # ------------------------------------------------------------------ the session

    async def _session_started(self, event) -> None:
        session_id = event.data.get("session_id")
        if not session_id:
            return
        session = await self.charging.get_session(session_id)
        reference = (session or {}).get("authorization_reference")
        if not reference or (session.get("cdr_token") or {}).get("type") != AD_HOC_USER:
            return
        payment = await self._find(reference)
        if payment is not None and payment.session_id is None:
            await self._set(payment, (STARTING, HELD), CHARGING, session_id=session_id)

    async def _session_completed(self, event) -> None:
        session_id = event.data.get("session_id")
        if not session_id:
            return
        async with self.store.connect() as conn:
            payment = await self.store.payments.by(conn, session_id=session_id)
        if payment is not None:
            await self.settle(payment.id)

    async def stop(self, payment_id: str) -> PaymentRecord:
        """The driver's stop button: stop the session (its CDR then settles the payment), or,
        before it started, release the hold."""
        payment = await self.get(payment_id)
        if payment.status == CHARGING and payment.session_id:
            try:
                await self.operations.stop(None, session_id=payment.session_id)
            except ChargerOffline:
                raise Invalid("the charger is offline now; it will end the session when it is back, or "
                              "when the cable is unplugged") from None
        elif payment.status in (NEW, WAITING, HELD, STARTING):
            await self.release(payment.id, _text("cancelled"))
        return await self.get(payment_id)

    async def settle(self, payment_id: str, *, retry: bool = False) -> PaymentRecord:
        """The session ended: capture exactly its CDR's total (at most the hold), or release the
        hold when no energy was delivered. Nothing happens while the CDR is not made. Of several
        callers at once, one captures; `retry` takes over a capture left unfinished (CAPTURING)."""
        payment = await self.get(payment_id)
        if payment.status not in (STARTING, CHARGING, CAPTURING) or not payment.session_id:
            return payment
        if payment.status == CAPTURING and not retry:
            return payment  # another caller is capturing it
        cdr = await self.charging.get_cdr(payment.session_id)
        if cdr is None:
            return payment
        cost = cdr.get("total_cost") or {}
        total = cost.get("incl_vat") if cost.get("incl_vat") is not None else cost.get("excl_vat", 0)
        amount = to_minor(Decimal(str(total)).quantize(from_minor(1, payment.currency)), payment.currency)
        if Decimal(str(cdr.get("total_energy") or 0)) <= 0 or amount <= 0:
            await self.release(payment.id, _text("no_energy"))
            return await self.get(payment_id)
        if payment.status != CAPTURING and not await self._set(payment, (STARTING, CHARGING), CAPTURING):
            return await self.get(payment_id)
        take = min(amount, payment.hold_minor)
        try:
            hold = await self.provider.capture(payment.provider_ref, take)
        except (PaymentUnavailable, PaymentDeclined) as exc:
            log.warning("payment %s: capture of %s failed (retried): %s", payment.id, take, exc.message)
            return await self.get(payment_id)
        data = {**payment.data, "cdr_id": cdr["id"], "receipt_number": f"R-{payment.pk:08d}"}
        if take < amount:
            data["uncovered_minor"] = amount - take
            log.warning("payment %s: the CDR's total %s exceeds the hold %s; %s captured", payment.id, amount,
                        payment.hold_minor, take)
        if not await self._set(payment, (CAPTURING,), CAPTURED, captured_minor=hold.captured_minor or take,
                               data=data, message=None):
            return await self.get(payment_id)  # another process finished it
        self.bus.publish("payment.captured", payment_id=payment.id, amount_minor=take, currency=payment.currency)
        payment = await self.get(payment_id)
        if payment.email:
            try:
                await self.email_receipt(payment_id, payment.email)
            except ServiceError as exc:
                log.warning("payment %s: the receipt could not be e-mailed: %s", payment_id, exc.message)
        return payment

    async def release(self, payment_id: str, message: str) -> PaymentRecord:
        """Release the whole hold (nothing is taken) and tell the driver why."""
        payment = await self.get(payment_id)
        if payment.status in FINAL:
            return payment
        if payment.status != RELEASING and not await self._set(payment, (payment.status,), RELEASING,
                                                               message=message):
            return await self.get(payment_id)
        if payment.data.get("remote_start_pk"):
            await self.operations.forget_start(payment.data["remote_start_pk"])
        if payment.provider_ref:
            try:
                await self.provider.release(payment.provider_ref)
            except (PaymentUnavailable, PaymentDeclined) as exc:
                log.warning("payment %s: release failed (retried): %s", payment.id, exc.message)
                return await self.get(payment_id)
        await self._set(payment, (RELEASING,), RELEASED, captured_minor=0)
        self.bus.publish("payment.released", payment_id=payment.id)
        return await self.get(payment_id)

    # ------------------------------------------------------------------ the provider's word

    async def webhook(self, payload: bytes, headers: dict[str, str]) -> str:
        """A webhook call of the provider (its signature checked by the provider adapter; raises
        WebhookRefused). Returns what was done."""
        if self.provider is None:
            raise Invalid("card payment is not available here")
        event = self.provider.read_webhook(payload, headers)
        if event.ref is None:
            return "ignored"
        async with self.store.connect() as conn:
            payment = await self.store.payments.by(conn, provider_ref=event.ref)
        if payment is None:
            return "unknown payment"
        if event.kind == "authorized" and payment.status == WAITING:
            await self._held(payment, AUTHORIZED)
            return "authorized"
        if event.kind == "failed" and payment.status == WAITING:
            await self._set(payment, (WAITING,), REFUSED, message="Your card was declined. Nothing was charged.")
            return "declined"
        if event.kind == "canceled" and payment.status not in FINAL:
            if payment.status == CHARGING and payment.session_id:
                try:
                    await self.operations.stop(None, session_id=payment.session_id)
                except ServiceError:
                    pass
            await self._set(payment, (payment.status,), RELEASED, message=_text("provider_cancelled"),
                            captured_minor=0)
            return "released"
        return "noted"

    # ------------------------------------------------------------------ what is left over

    async def sweep(self) -> int:
        """Settle what events left: starts that never came (released after
        `payment_start_seconds`), sessions whose CDR is in, captures and releases to retry,
        holds never started; stop sessions whose cost nears the hold. The number acted on."""
        now = utcnow()
        acted = 0
        async with self.store.connect() as conn:
            open_ = await self.store.payments.in_status(conn, (HELD, STARTING, CHARGING, CAPTURING, RELEASING))
        for payment in open_:
            age = (now - payment.updated_at).total_seconds()
            try:
                if payment.status == HELD and age > 30:
                    await self._start_charging(payment)
                elif payment.status == STARTING and payment.session_id is None:
                    session = await self._session_of(payment)
                    if session is not None:
                        await self._set(payment, (STARTING,), CHARGING, session_id=session)
                    elif age > self.settings.payment_start_seconds:
                        await self.release(payment.id, _text("no_start"))
                    else:
                        continue
                elif payment.status == CAPTURING:
                    if age <= 30:
                        continue
                    await self.settle(payment.id, retry=True)
                elif payment.status in (STARTING, CHARGING) and payment.session_id:
                    if (await self.settle(payment.id)).status == payment.status and payment.status == CHARGING:
                        await self._guard(payment)
                        continue
                elif payment.status == RELEASING and age > 10:
                    await self.release(payment.id, payment.message or "")
                else:
                    continue
                acted += 1
            except ServiceError as exc:
                log.warning("payment %s: %s", payment.id, exc.message)
        return acted

    async def _guard(self, payment: PaymentRecord) -> None:
        """Stop a session whose cost so far reaches 90 % of the hold (once)."""
        if payment.data.get("stopped_for_hold"):
            return
        session = await self.charging.get_session(payment.session_id)
        cost = (session or {}).get("total_cost") or {}
        so_far = cost.get("incl_vat", cost.get("excl_vat"))
        if so_far is None or to_minor(Decimal(str(so_far)).quantize(Decimal("0.01")), payment.currency) * 10 < \
                payment.hold_minor * 9:
            return
        log.info("payment %s: the session's cost %s nears the hold; stopping it", payment.id, so_far)
        async with self.store.begin() as conn:
            await self.store.payments.update(conn, payment.id, data={**payment.data, "stopped_for_hold": True})
        try:
            await self.operations.stop(None, session_id=payment.session_id)
        except ServiceError as exc:
            log.warning("payment %s: the session could not be stopped: %s", payment.id, exc.message)

    async def _session_of(self, payment: PaymentRecord) -> str | None:
        """The session a payment's start led to, when its event was missed."""
        async with self.store.connect() as conn:
            for tx in await self.store.transactions.active(conn, payment.charger_id):
                if tx.session_id and tx.state.get("authorization_reference") == payment.id:
                    return tx.session_id
        return None

    # ------------------------------------------------------------------ reading

    async def get(self, payment_id: str) -> PaymentRecord:
        payment = await self._find(payment_id)
        if payment is None:
            raise NotFound("payment not found", kind="payment")
        return payment

    async def _find(self, payment_id: str) -> PaymentRecord | None:
        if not payment_id or len(payment_id) > 36:
            return None
        async with self.store.connect() as conn:
            return await self.store.payments.get(conn, payment_id)

    async def view(self, payment_id: str) -> dict[str, Any]:
        """What the driver's page shows: status, message, the session so far, the amounts."""
        payment = await self.get(payment_id)
        out: dict[str, Any] = {
            "id": payment.id, "status": payment.status, "message": payment.message,
            "location_id": payment.location_id, "evse_uid": payment.evse_uid, "evse_id": payment.data.get("evse_id"),
            "location_name": payment.data.get("location_name"), "currency": payment.currency,
            "held": str(from_minor(payment.hold_minor, payment.currency)),
            "captured": str(from_minor(payment.captured_minor, payment.currency))
            if payment.captured_minor is not None else None,
            "client_secret": payment.data.get("client_secret") if payment.status == WAITING else None,
            "can_stop": payment.status in (NEW, WAITING, HELD, STARTING, CHARGING),
            "final": payment.status in FINAL, "receipt": payment.status == CAPTURED,
        }
        if payment.session_id:
            session = await self.charging.get_session(payment.session_id)
            if session is not None:
                cost = session.get("total_cost") or {}
                out["session"] = {"session_id": session["id"], "status": session["status"], "kwh": session.get("kwh", 0),
                                  "start_date_time": session["start_date_time"],
                                  "end_date_time": session.get("end_date_time"),
                                  "cost_incl_vat": _cents(cost.get("incl_vat", cost.get("excl_vat")))}
        return out

    async def receipt(self, payment_id: str) -> dict[str, Any]:
        """The receipt (an invoice with VAT) of a captured payment."""
        payment = await self.get(payment_id)
        if payment.status != CAPTURED:
            raise NotFound("no receipt: nothing was charged for this payment", kind="receipt")
        cdr = await self.charging.get_cdr(payment.session_id)
        return receipt(payment, cdr, self.settings)

    async def email_receipt(self, payment_id: str, to: str) -> None:
        if self.mailer is None or self.render_receipt is None:
            raise Invalid("receipts cannot be e-mailed here")
        if len(to) > 255 or "@" not in to or any(c in to for c in "\r\n<>,;"):
            raise Invalid("email: not an e-mail address")
        data = await self.receipt(payment_id)
        text, html = self.render_receipt(data)
        await self.mailer.send(to=to, subject=f"Your charging receipt {data['number']}", text=text, html=html)

    async def payments(self, limit: int = 100) -> list[PaymentRecord]:
        async with self.store.connect() as conn:
            return await self.store.payments.listing(conn, limit=limit)

    # ------------------------------------------------------------------ helpers

    async def _set(self, payment: PaymentRecord, from_statuses, to: str, **values: Any) -> bool:
        async with self.store.begin() as conn:
            changed = await self.store.payments.transition(conn, payment.id, from_statuses, to, **values)
        if changed:
            log.info("payment %s: %s -> %s", payment.id, payment.status, to)
            payment.status = to
            self.bus.publish("payment.changed", payment_id=payment.id, status=to)
        return changed

    async def _charger_of(self, location_id: str, evse_uid: str) -> tuple[str, int] | None:
        async with self.store.connect() as conn:
            chargers = await self.store.chargers.list(conn)
        for charger in chargers:
            if charger.location_id == location_id and charger.status == "ACCEPTED":
                for number, uid in charger.evses.items():
                    if uid == evse_uid:
                        return charger.id, int(number)
        return None


def _cents(value: Any) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


__all__ = ["AdHocPayments", "CAPTURED", "CHARGING", "HELD", "RELEASED", "REFUSED", "STARTING", "WAITING"]
