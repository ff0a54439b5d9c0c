"""A scripted CPO partner for the eMSP tests: sender interfaces for tariffs, locations, sessions
and CDRs that page by `page_size` with Link headers (and honour date_from/date_to), and a
commands receiver whose answers a test chooses. It records every request it gets."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evroam.model.common import parse_datetime
from harness import free_socket, serve_app

MODULES = ("tariffs", "locations", "sessions", "cdrs")


@dataclass
class StubCpo:
    token: str = "emsp-to-stub"  # the token our eMSP presents
    party: tuple[str, str] = ("NL", "STB")
    page_size: int = 2
    objects: dict[str, list[dict]] = field(default_factory=lambda: {m: [] for m in MODULES})
    down: set[str] = field(default_factory=set)  # modules answering HTTP 503
    command_answer: dict[str, Any] = field(default_factory=lambda: {"result": "ACCEPTED", "timeout": 30})
    command_http_status: int = 200
    requests: list[tuple[str, str, dict]] = field(default_factory=list)  # (module, path + query, params)
    commands: list[tuple[str, dict]] = field(default_factory=list)  # (command, body)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoints(self) -> list[dict[str, str]]:
        eps = [{"identifier": m, "role": "SENDER", "url": f"{self.url}/ocpi/2.2.1/{m}"} for m in MODULES]
        eps.append({"identifier": "commands", "role": "RECEIVER", "url": f"{self.url}/ocpi/2.2.1/commands"})
        return eps

    def requested(self, module: str) -> list[dict]:
        return [params for m, _, params in self.requests if m == module]

    def build(self) -> FastAPI:
        app = FastAPI()

        def envelope(data=None, code=1000, message="Success", status=200, headers=None):
            body = {"status_code": code, "status_message": message, "timestamp": "2024-01-01T00:00:00Z"}
            if data is not None:
                body["data"] = data
            return JSONResponse(body, status_code=status, headers=headers)

        def authorised(request: Request) -> bool:
            value = request.headers.get("authorization", "").removeprefix("Token ").strip()
            try:
                return base64.b64decode(value).decode() == self.token
            except Exception:
                return False

        @app.get("/ocpi/2.2.1/{module}")
        async def listing(module: str, request: Request):
            params = dict(request.query_params)
            self.requests.append((module, request.url.path + ("?" + request.url.query if request.url.query else ""),
                                  params))
            if not authorised(request):
                return envelope(code=2000, message="unauthorized", status=401)
            if module in self.down:
                return JSONResponse({"error": "maintenance"}, status_code=503)
            items = self.objects[module]
            if "date_from" in params:
                since = parse_datetime(params["date_from"])
                items = [o for o in items if parse_datetime(o["last_updated"]) >= since]
            if "date_to" in params:
                until = parse_datetime(params["date_to"])
                items = [o for o in items if parse_datetime(o["last_updated"]) < until]
            offset = int(params.get("offset", 0))
            limit = min(int(params.get("limit", self.page_size)), self.page_size)
            page = items[offset:offset + limit]
            headers = {"X-Total-Count": str(len(items)), "X-Limit": str(self.page_size)}
            if offset + len(page) < len(items):
                keep = {k: v for k, v in params.items() if k in ("date_from", "date_to")}
                # a cursor only the Link carries: proves the client followed the Link as given
                query = urlencode({**keep, "offset": offset + len(page), "limit": limit, "cursor": f"c{offset}"})
                headers["Link"] = f'<{self.url}/ocpi/2.2.1/{module}?{query}>; rel="next"'
            return envelope(page, headers=headers)

        @app.post("/ocpi/2.2.1/commands/{command}")
        async def command(command: str, request: Request):
            if not authorised(request):
                return envelope(code=2000, message="unauthorized", status=401)
            self.commands.append((command, await request.json()))
            if self.command_http_status != 200:
                return envelope(code=3000, message="broken", status=self.command_http_status)
            if "status_code" in self.command_answer:  # an OCPI error answer
                return envelope(code=self.command_answer["status_code"], message=self.command_answer["message"],
                                status=self.command_answer.get("http_status", 200))
            return envelope(self.command_answer)

        return app

    async def start(self) -> StubCpo:
        sock = free_socket()
        self.port = sock.getsockname()[1]
        self.server, self.task = await serve_app(self.build(), sock)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task
