"""A minimal scripted OCPI peer for error paths evroam must handle (wrong versions, missing
endpoints, a peer that only understands plain tokens)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness import free_socket, serve_app


@dataclass
class StubPartner:
    versions: list[str] = field(default_factory=lambda: ["2.2.1"])
    modules: list[tuple[str, str]] = field(default_factory=lambda: [("credentials", "SENDER"),
                                                                    ("locations", "RECEIVER")])
    accept_token: str = "stub-token-b"
    plain_only: bool = False  # refuses Base64-encoded tokens, like many 2.1.1-era peers
    seen_auth: list[str] = field(default_factory=list)
    port: int = 0
    # its credentials endpoint (when "credentials" is among `modules`): the roles it answers a
    # registration with, the token it gives, and each call as (method, Authorization, body)
    roles: list[tuple[str, str, str]] = field(default_factory=lambda: [("CPO", "DE", "STB")])
    token_c: str = "stub-token-c"
    credentials_calls: list[tuple[str, str, dict | None]] = field(default_factory=list)

    def build(self) -> FastAPI:
        app = FastAPI()

        def ok(data):
            return JSONResponse({"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})

        def authorised(request: Request) -> bool:
            header = request.headers.get("authorization", "")
            self.seen_auth.append(header)
            value = header.removeprefix("Token ").strip()
            if value == self.accept_token:
                return True
            if self.plain_only:
                return False
            try:
                return base64.b64decode(value).decode() == self.accept_token
            except Exception:
                return False

        def denied():
            return JSONResponse({"status_code": 2000, "status_message": "unauthorized",
                                 "timestamp": "2024-01-01T00:00:00Z"}, status_code=401)

        @app.get("/versions")
        async def versions(request: Request):
            if not authorised(request):
                return denied()
            return ok([{"version": v, "url": f"{self.url}/v/{v}"} for v in self.versions])

        @app.get("/v/{version}")
        async def details(version: str, request: Request):
            if not authorised(request):
                return denied()
            return ok({"version": version, "endpoints": [
                {"identifier": m, "role": r, "url": f"{self.url}/v/{version}/{m}"} for m, r in self.modules]})

        @app.api_route("/v/{version}/credentials", methods=["POST", "PUT", "DELETE"])
        async def credentials(version: str, request: Request):
            body = await request.json() if request.method != "DELETE" else None
            self.credentials_calls.append((request.method, request.headers.get("authorization", ""), body))
            if request.method == "DELETE":
                return ok(None)
            return ok({"token": self.token_c, "url": f"{self.url}/versions", "roles": [
                {"role": role, "country_code": cc, "party_id": pid, "business_details": {"name": "Stub"}}
                for role, cc, pid in self.roles]})

        return app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self):
        sock = free_socket()
        self.port = sock.getsockname()[1]
        self.server, self.task = await serve_app(self.build(), sock)
        return self

    async def stop(self):
        self.server.should_exit = True
        await self.task
