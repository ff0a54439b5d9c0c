"""A small OCPI 2.2.1 hub for the tests, and the parties behind it.

The hub registers with a platform as role HUB, lists its parties' ClientInfo, and relays:

- platform -> parties: a request to one of the hub's module endpoints is forwarded by its
  `OCPI-to-*` headers: to that party, or to every connected party when addressed to the hub
  itself (broadcast); a request without them (open routing) is routed by the hub, here by the
  party named in the URL of a `response_url` the hub handed out (`/results/{cc}/{pid}/...`);
- parties -> platform: `send(party, ...)` calls the platform with the hub's credentials and
  the party in `OCPI-from-*`.

Each forwarded request gets a new X-Request-ID and keeps the X-Correlation-ID. Every request the
hub receives is kept in `received` (method, path, headers, body); each party keeps what reached
it in `Party.received`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evroam.ocpi.transport.auth import authorization_header
from harness import free_socket, serve_app

HUB_PARTY = ("NL", "HUB")
MODULES = [("credentials", "SENDER"), ("locations", "RECEIVER"), ("tariffs", "RECEIVER"),
           ("sessions", "RECEIVER"), ("cdrs", "RECEIVER"), ("tokens", "SENDER"), ("commands", "SENDER"),
           ("hubclientinfo", "SENDER")]


def ok(data: Any = None, status: int = 200) -> JSONResponse:
    body = {"status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status)


@dataclass
class Party:
    """A party behind the hub: records every request the hub forwards to it."""

    country_code: str
    party_id: str
    role: str
    status: str = "CONNECTED"
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    server: Any = None
    task: Any = None

    @property
    def key(self) -> tuple[str, str]:
        return self.country_code, self.party_id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def record(path: str, request: Request):
            raw = await request.body()
            self.received.append({"method": request.method, "path": "/" + path, "headers": dict(request.headers),
                                  "body": (await request.json()) if raw else None})
            return ok(None, 201 if request.method in ("PUT", "POST") else 200)

        return app

    def client_info(self) -> dict[str, Any]:
        return {"country_code": self.country_code, "party_id": self.party_id, "role": self.role,
                "status": self.status, "last_updated": "2024-01-01T00:00:00Z"}


@dataclass
class Hub:
    parties: list[Party]
    token_b: str = "hub-token-b"  # what the platform presents to the hub
    token_c: str = ""  # what the hub presents to the platform
    platform_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    servers: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def party(self, cc: str, pid: str) -> Party | None:
        return next((p for p in self.parties if p.key == (cc.upper(), pid.upper())), None)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/hub/versions")
        async def versions(request: Request):
            self._record(request, None)
            return ok([{"version": "2.2.1", "url": f"{self.url}/hub/2.2.1"}])

        @app.get("/hub/2.2.1")
        async def details(request: Request):
            self._record(request, None)
            return ok({"version": "2.2.1", "endpoints": [
                {"identifier": m, "role": r, "url": f"{self.url}/hub/2.2.1/{m}"} for m, r in MODULES]})

        @app.get("/hub/2.2.1/hubclientinfo")
        async def client_infos(request: Request):
            self._record(request, None)
            return ok([p.client_info() for p in self.parties if p.role == "EMSP"][:1])

        @app.api_route("/hub/2.2.1/{module}/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        @app.api_route("/hub/2.2.1/{module}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def relay(module: str, request: Request, rest: str = ""):
            raw = await request.body()
            body = (await request.json()) if raw else None
            self._record(request, body)
            to = (request.headers.get("ocpi-to-country-code"), request.headers.get("ocpi-to-party-id"))
            if module == "results":  # open routing: the party is named in the response_url we handed out
                cc, pid, *_ = rest.split("/")
                targets = [self.party(cc, pid)]
            elif to == HUB_PARTY:  # broadcast
                targets = [p for p in self.parties if p.status == "CONNECTED"]
            elif to[0] and self.party(*to) is not None:
                targets = [self.party(*to)]
            else:
                return JSONResponse({"status_code": 4001, "status_message": f"unknown receiver {to}",
                                     "timestamp": "2024-01-01T00:00:00Z"}, status_code=404)
            async with httpx.AsyncClient() as http:
                for party in targets:
                    if party.status != "CONNECTED":
                        return JSONResponse({"status_code": 4003, "status_message": "receiver not connected",
                                             "timestamp": "2024-01-01T00:00:00Z"}, status_code=503)
                    headers = {k: v for k, v in request.headers.items()
                               if k.lower().startswith("ocpi-") or k.lower() == "x-correlation-id"}
                    headers["X-Request-ID"] = str(uuid.uuid4())
                    await http.request(request.method, f"{party.url}/{module}/{rest}", headers=headers,
                                       json=body, params=dict(request.query_params))
            return ok(None, 201 if request.method in ("PUT", "POST") and module != "results" else 200)

        return app

    def _record(self, request: Request, body: Any) -> None:
        self.received.append({"method": request.method, "path": request.url.path, "headers": dict(request.headers),
                              "body": body})

    async def start(self) -> Hub:
        for party in self.parties:
            sock = free_socket()
            party.port = sock.getsockname()[1]
            party.server, party.task = await serve_app(party.app(), sock)
        sock = free_socket()
        self.port = sock.getsockname()[1]
        server, task = await serve_app(self.app(), sock)
        self.servers = [(server, task)] + [(p.server, p.task) for p in self.parties]
        return self

    async def stop(self) -> None:
        for server, task in self.servers:
            server.should_exit = True
            await task

    async def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """The hub starts the handshake with a platform: role HUB, its own party."""
        async with httpx.AsyncClient(headers={"Authorization": authorization_header(token_a, "base64")}) as http:
            versions = (await http.get(versions_url)).json()["data"]
            url = next(v["url"] for v in versions if v["version"] == "2.2.1")
            for ep in (await http.get(url)).json()["data"]["endpoints"]:
                self.platform_endpoints[(ep["identifier"], ep["role"])] = ep["url"]
            reply = await http.post(self.platform_endpoints[("credentials", "SENDER")], json={
                "token": self.token_b, "url": f"{self.url}/hub/versions",
                "roles": [{"role": "HUB", "country_code": HUB_PARTY[0], "party_id": HUB_PARTY[1],
                           "business_details": {"name": "Test Hub"}}]})
        data = reply.json()
        self.token_c = data["data"]["token"]
        return data

    async def send(self, party: Party, method: str, module: str, role: str, path: str = "",
                   body: Any = None, params: dict | None = None, to: tuple[str, str] | None = None) -> httpx.Response:
        """A request of `party` to the platform, through the hub."""
        headers = {"Authorization": authorization_header(self.token_c, "base64"),
                   "OCPI-from-country-code": party.country_code, "OCPI-from-party-id": party.party_id,
                   "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}
        if to is not None:
            headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
        async with httpx.AsyncClient() as http:
            return await http.request(method, self.platform_endpoints[(module, role)] + path, headers=headers,
                                      json=body, params=params)

    async def client_info(self, platform_hubclientinfo_url: str, party: Party, status: str,
                          at: str) -> httpx.Response:
        """PUT a party's ClientInfo to the platform (a configuration module: no routing headers)."""
        party.status = status
        info = {**party.client_info(), "last_updated": at}
        async with httpx.AsyncClient() as http:
            return await http.put(f"{platform_hubclientinfo_url}/{party.country_code}/{party.party_id}", json=info,
                                  headers={"Authorization": authorization_header(self.token_c, "base64")})
