"""A small local server answering the part of the Stripe API that evroam uses, so the tests run
the real `stripe` client (pointed at it with `stripe_api_base`) without any network:

- POST /v1/payment_intents (create and confirm, manual capture), GET /v1/payment_intents/{id},
  POST /v1/payment_intents/{id}/capture (amount_to_capture), POST /v1/payment_intents/{id}/cancel;
- the bearer secret key is checked; `Idempotency-Key` replays the first answer;
- Stripe's test payment methods: pm_card_visa (authorised), pm_card_chargeDeclined (402
  card_error card_declined), pm_card_authenticationRequired (requires_action: 3-D Secure);
  an unknown one is a 400 invalid_request_error on `payment_method`;
- `send_event()` posts a webhook event signed as Stripe signs them (`Stripe-Signature`:
  t=..,v1=HMAC-SHA256(secret, "t.payload")).

It keeps every intent and every call, for the tests' assertions."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sk_test_evroam_stub_key"
WEBHOOK_SECRET = "whsec_evroam_stub_secret"


def _error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


class StripeStub:
    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, params)
        self._replies: dict[str, tuple[int, Any]] = {}
        self.app = Starlette(routes=[
            Route("/v1/payment_intents", self.create, methods=["POST"]),
            Route("/v1/payment_intents/{pi}", self.retrieve, methods=["GET"]),
            Route("/v1/payment_intents/{pi}/capture", self.capture, methods=["POST"]),
            Route("/v1/payment_intents/{pi}/cancel", self.cancel, methods=["POST"]),
        ])

    # ------------------------------------------------------------------ what happened

    def captures(self) -> list[tuple[str, int]]:
        return [(p["pi"], int(p.get("amount_to_capture", 0))) for m, path, p in self.calls if path.endswith("/capture")]

    def cancels(self) -> list[str]:
        return [p["pi"] for m, path, p in self.calls if path.endswith("/cancel")]

    def creates(self) -> list[dict[str, Any]]:
        return [p for m, path, p in self.calls if path == "/v1/payment_intents"]

    # ------------------------------------------------------------------ the API

    async def _read(self, request: Request) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return None, _error(401, "invalid_request_error", "Invalid API Key provided")
        body = (await request.body()).decode()
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(request.path_params)
        self.calls.append((request.method, request.url.path, params))
        return params, None

    async def _idempotent(self, request: Request, compute) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        if key and key in self._replies:
            status, body = self._replies[key]
            return JSONResponse(body, status_code=status)
        response = await compute()
        if key:
            self._replies[key] = (response.status_code, json.loads(response.body))
        return response

    async def create(self, request: Request) -> JSONResponse:
        params, refused = await self._read(request)
        if refused:
            return refused

        async def compute() -> JSONResponse:
            amount = int(params["amount"])
            pi = {"id": "pi_" + secrets.token_hex(12), "object": "payment_intent", "amount": amount,
                  "amount_capturable": 0, "amount_received": 0, "currency": params["currency"],
                  "capture_method": params.get("capture_method", "automatic"), "status": "requires_payment_method",
                  "client_secret": None, "description": params.get("description"), "livemode": False,
                  "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
                  "payment_method": params.get("payment_method"), "last_payment_error": None,
                  "created": int(time.time())}
            pi["client_secret"] = f"{pi['id']}_secret_{secrets.token_hex(8)}"
            self.intents[pi["id"]] = pi
            method = params.get("payment_method")
            if method == "pm_card_visa":
                pi.update(status="requires_capture", amount_capturable=amount)
            elif method == "pm_card_authenticationRequired":
                pi.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
            elif method == "pm_card_chargeDeclined":
                error = {"code": "card_declined", "decline_code": "generic_decline",
                         "message": "Your card was declined."}
                pi["last_payment_error"] = error
                return _error(402, "card_error", error["message"], code="card_declined",
                              decline_code="generic_decline", payment_intent=pi)
            else:
                del self.intents[pi["id"]]
                return _error(400, "invalid_request_error", f"No such PaymentMethod: '{method}'",
                              code="resource_missing", param="payment_method")
            return JSONResponse(pi)

        return await self._idempotent(request, compute)

    async def retrieve(self, request: Request) -> JSONResponse:
        params, refused = await self._read(request)
        if refused:
            return refused
        pi = self.intents.get(params["pi"])
        if pi is None:
            return _error(404, "invalid_request_error", "No such payment_intent", code="resource_missing")
        return JSONResponse(pi)

    async def capture(self, request: Request) -> JSONResponse:
        params, refused = await self._read(request)
        if refused:
            return refused

        async def compute() -> JSONResponse:
            pi = self.intents.get(params["pi"])
            if pi is None:
                return _error(404, "invalid_request_error", "No such payment_intent", code="resource_missing")
            if pi["status"] != "requires_capture":
                return _error(400, "invalid_request_error", f"This PaymentIntent could not be captured because it has "
                              f"a status of {pi['status']}.", code="payment_intent_unexpected_state")
            amount = int(params.get("amount_to_capture", pi["amount_capturable"]))
            if amount > pi["amount_capturable"]:
                return _error(400, "invalid_request_error", "amount_to_capture is greater than the capturable amount",
                              code="amount_too_large", param="amount_to_capture")
            pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
            return JSONResponse(pi)

        return await self._idempotent(request, compute)

    async def cancel(self, request: Request) -> JSONResponse:
        params, refused = await self._read(request)
        if refused:
            return refused

        async def compute() -> JSONResponse:
            pi = self.intents.get(params["pi"])
            if pi is None:
                return _error(404, "invalid_request_error", "No such payment_intent", code="resource_missing")
            if pi["status"] in ("succeeded", "canceled"):
                return _error(400, "invalid_request_error", f"You cannot cancel this PaymentIntent because it has a "
                              f"status of {pi['status']}.", code="payment_intent_unexpected_state")
            pi.update(status="canceled", amount_capturable=0, cancellation_reason=params.get("cancellation_reason"))
            return JSONResponse(pi)

        return await self._idempotent(request, compute)

    # ------------------------------------------------------------------ webhooks

    def event(self, kind: str, pi_id: str) -> bytes:
        return json.dumps({"id": "evt_" + secrets.token_hex(12), "object": "event", "api_version": "2024-06-20",
                           "created": int(time.time()), "type": kind, "livemode": False,
                           "data": {"object": self.intents[pi_id]}}).encode()

    @staticmethod
    def signature(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
        at = int(time.time()) if at is None else at
        digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={at},v1={digest}"

    async def send_event(self, url: str, kind: str, pi_id: str, *, secret: str = WEBHOOK_SECRET) -> httpx.Response:
        payload = self.event(kind, pi_id)
        async with httpx.AsyncClient() as http:
            return await http.post(url, content=payload, headers={"Stripe-Signature": self.signature(payload, secret),
                                                                   "Content-Type": "application/json"})

    def authenticate(self, pi_id: str) -> None:
        """The driver passed 3-D Secure: the intent is authorised."""
        pi = self.intents[pi_id]
        pi.update(status="requires_capture", amount_capturable=pi["amount"], next_action=None)


@pytest.fixture
async def stripe_stub():
    """The stub served on a free port of this machine: `.url`."""
    from harness import free_socket, serve_app

    stub = StripeStub()
    sock = free_socket()
    stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server, task = await serve_app(stub.app, sock)
    yield stub
    server.should_exit = True
    await task


if __name__ == "__main__":  # a local Stripe API for trying ad-hoc payment out (docs/payments.md)
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="A local stand-in for the part of the Stripe API evroam uses.")
    parser.add_argument("--port", type=int, default=12111)
    args = parser.parse_args()
    print(f"Stripe stub on http://127.0.0.1:{args.port}  (API key {API_KEY}, webhook secret {WEBHOOK_SECRET})")
    uvicorn.run(StripeStub().app, host="127.0.0.1", port=args.port, log_level="warning")
