"""X-Request-ID / X-Correlation-ID on every OCPI request and response, and the OCPI-to/from
routing headers of the functional modules."""

from __future__ import annotations

import uuid

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
TO_COUNTRY, TO_PARTY = "OCPI-to-country-code", "OCPI-to-party-id"
FROM_COUNTRY, FROM_PARTY = "OCPI-from-country-code", "OCPI-from-party-id"

# Configuration modules carry no routing headers (versions, credentials, hubclientinfo).
FUNCTIONAL_MODULES = frozenset(
    {"locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles", "payments"}
)


def new_id() -> str:
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Pure ASGI middleware for /ocpi: takes (or makes) the request and correlation ids, keeps
    them in `scope["state"]` and echoes both on the response."""

    def __init__(self, app, prefix: str = "/ocpi") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        request_id = correlation_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")
        request_id = request_id or new_id()
        correlation_id = correlation_id or request_id
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        extra = [(b"x-request-id", request_id.encode("latin-1")), (b"x-correlation-id", correlation_id.encode("latin-1"))]

        async def send_with_ids(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_ids)
