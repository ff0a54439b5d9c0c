"""The Stripe payment provider: a PaymentIntent per payment, with manual capture.

- hold: PaymentIntents.create(amount, currency, payment_method, capture_method=manual,
  confirm=true, payment_method_types=[card]); `requires_capture` is AUTHORIZED,
  `requires_action` (3-D Secure) is ACTION_REQUIRED, a CardError is PaymentDeclined;
- capture: PaymentIntents.capture(amount_to_capture): Stripe releases the rest;
- release: PaymentIntents.cancel;
- webhooks: the `Stripe-Signature` header is checked with the endpoint's signing secret
  (stripe's own construct_event: HMAC-SHA256, at most 5 minutes old).

Every call that changes something carries an idempotency key derived from the payment, so a
retry (after a timeout, or by another node) never holds or captures twice. The API key and the
webhook secret are never logged (the `stripe` logger is kept at INFO, see logs.py)."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from evroam.services.ports import (
    ACTION_REQUIRED,
    AUTHORIZED,
    CANCELED,
    CAPTURED,
    DECLINED,
    PROCESSING,
    Hold,
    PaymentDeclined,
    PaymentEvent,
    PaymentUnavailable,
    WebhookRefused,
)
from evroam.settings import Settings

log = logging.getLogger(__name__)

_STATES = {"requires_capture": AUTHORIZED, "requires_action": ACTION_REQUIRED, "processing": PROCESSING,
           "succeeded": CAPTURED, "canceled": CANCELED, "requires_payment_method": DECLINED,
           "requires_confirmation": ACTION_REQUIRED}
_EVENTS = {"payment_intent.amount_capturable_updated": "authorized", "payment_intent.succeeded": "captured",
           "payment_intent.canceled": "canceled", "payment_intent.payment_failed": "failed"}
WEBHOOK_TOLERANCE = 300  # seconds a signed webhook stays acceptable


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, *, webhook_secret: str | None, publishable_key: str | None = None,
                 api_base: str | None = None, timeout: float = 20.0) -> None:
        base = {"api": api_base.rstrip("/")} if api_base else None
        self.client = stripe.StripeClient(api_key, base_addresses=base, max_network_retries=2,
                                          http_client=stripe.HTTPXClient(timeout=timeout))
        self._webhook_secret = webhook_secret
        self.publishable_key = publishable_key

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        if not settings.stripe_api_key:
            raise ValueError("payment_provider = stripe needs stripe_api_key")
        return cls(settings.stripe_api_key, webhook_secret=settings.stripe_webhook_secret,
                   publishable_key=settings.stripe_publishable_key, api_base=settings.stripe_api_base)

    def __repr__(self) -> str:  # never the keys
        return "StripeProvider()"

    def public_config(self) -> dict[str, Any]:
        return {"provider": "stripe", "publishable_key": self.publishable_key}

    # ------------------------------------------------------------------ calls

    async def hold(self, *, amount_minor: int, currency: str, payment_method: str, reference: str,
                   description: str, email: str | None = None) -> Hold:
        params: dict[str, Any] = {
            "amount": int(amount_minor), "currency": currency.lower(), "payment_method": payment_method,
            "capture_method": "manual", "confirm": True, "payment_method_types": ["card"],
            "description": description[:1000], "metadata": {"evroam_payment": reference},
        }
        intent = await self._call("hold", self.client.v1.payment_intents.create_async, params,
                                  {"idempotency_key": f"evroam-hold-{reference}"})
        return _hold(intent)

    async def confirm(self, ref: str) -> Hold:
        return await self.get(ref)

    async def get(self, ref: str) -> Hold:
        return _hold(await self._call("read", self.client.v1.payment_intents.retrieve_async, ref))

    async def capture(self, ref: str, amount_minor: int) -> Hold:
        intent = await self._call("capture", self.client.v1.payment_intents.capture_async, ref,
                                  {"amount_to_capture": int(amount_minor)},
                                  {"idempotency_key": f"evroam-capture-{ref}-{int(amount_minor)}"})
        return _hold(intent)

    async def release(self, ref: str) -> Hold:
        try:
            intent = await self._call("release", self.client.v1.payment_intents.cancel_async, ref,
                                      {"cancellation_reason": "abandoned"}, {"idempotency_key": f"evroam-cancel-{ref}"})
        except PaymentUnavailable:
            current = await self.get(ref)  # already canceled (e.g. the hold expired): released
            if current.state == CANCELED:
                return current
            raise
        return _hold(intent)

    async def _call(self, what: str, method, *args) -> Any:
        try:
            return await method(*args)
        except stripe.CardError as exc:
            error = exc.error
            reason = (getattr(error, "message", None) or "the card was declined").rstrip(".")
            raise PaymentDeclined(f"Stripe declined the card: {reason}", reason=reason) from None
        except stripe.InvalidRequestError as exc:
            if what == "hold" and getattr(exc, "param", None) == "payment_method":
                raise PaymentDeclined("Stripe could not use the card", reason="the card details could not be used") \
                    from None
            raise PaymentUnavailable(f"Stripe refused the {what}: {exc.user_message or exc.code or 'invalid request'}") \
                from None
        except stripe.AuthenticationError:
            log.error("Stripe refused our API key (stripe_api_key): check the setting")
            raise PaymentUnavailable(f"Stripe refused the {what}: authentication failed") from None
        except stripe.StripeError as exc:
            raise PaymentUnavailable(f"Stripe could not be reached for the {what}: "
                                     f"{type(exc).__name__} {exc.http_status or ''}".strip()) from None

    # ------------------------------------------------------------------ webhooks

    def read_webhook(self, payload: bytes, headers: dict[str, str]) -> PaymentEvent:
        if not self._webhook_secret:
            raise WebhookRefused("webhooks are not set up (stripe_webhook_secret)")
        signature = headers.get("stripe-signature")
        if not signature:
            raise WebhookRefused("missing Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret,
                                                   tolerance=WEBHOOK_TOLERANCE)
        except stripe.SignatureVerificationError:
            raise WebhookRefused("the Stripe-Signature does not match this payload") from None
        except ValueError:
            raise WebhookRefused("the payload is not a Stripe event") from None
        try:
            event = _plain(event)
            obj = event["data"]["object"]
            ref = obj["id"] if obj.get("object") == "payment_intent" else None
        except (KeyError, TypeError, AttributeError):
            raise WebhookRefused("the event has no data.object") from None
        return PaymentEvent(event_id=event["id"], kind=_EVENTS.get(event["type"], "other"), ref=ref)


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _hold(intent: Any) -> Hold:
    intent = _plain(intent)
    state = _STATES.get(intent["status"], PROCESSING)
    secret = intent.get("client_secret") if state == ACTION_REQUIRED else None
    error = intent.get("last_payment_error")
    return Hold(ref=intent["id"], state=state, amount_minor=int(intent.get("amount_capturable") or intent["amount"]),
                captured_minor=int(intent.get("amount_received") or 0), client_secret=secret,
                reason=(error or {}).get("message") if error else None)
