"""The payment provider's webhook: POST /payments/webhook/{provider}. The provider adapter checks
the signature (Stripe: `Stripe-Signature`, HMAC-SHA256 with the endpoint's signing secret, at
most 5 minutes old); a call that fails the check is answered 400, changes nothing, and counts
against the caller's address (door `webhook`: too many, and it is refused with 429 for a while,
before anything is read). The body is bounded like every request (`http_max_body_bytes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from evroam.services.errors import Invalid
from evroam.services.ports import WebhookRefused
from evroam.services.throttle import WEBHOOK, retry_after_header

router = APIRouter(prefix="/payments", tags=["payments"])


@router.post("/webhook/{provider}", summary="Payment provider webhook (signed)")
async def webhook(provider: str, request: Request):
    platform = request.app.state.platform
    client = platform.throttle.http_client(request)
    wait = await platform.throttle.check(WEBHOOK, client)
    if wait > 0:
        return JSONResponse({"error": "too_many_requests", "detail": "too many refused webhooks from your address"},
                            status_code=429, headers={"Retry-After": retry_after_header(wait)})
    adhoc = platform.adhoc
    if adhoc.provider is None or adhoc.provider.name != provider:
        return JSONResponse({"error": "not_found", "detail": f"no payment provider {provider!r} here"},
                            status_code=404)
    payload = await request.body()
    try:
        done = await adhoc.webhook(payload, {k.lower(): v for k, v in request.headers.items()})
    except WebhookRefused as exc:
        await platform.throttle.failed(WEBHOOK, client)
        return JSONResponse({"error": "refused", "detail": exc.message}, status_code=400)
    except Invalid as exc:
        return JSONResponse({"error": "invalid", "detail": exc.message}, status_code=400)
    return JSONResponse({"received": True, "result": done})
