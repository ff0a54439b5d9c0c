"""A Payment Terminal Provider (OCPI 2.3.0 payments module), small enough to read: the PTP side
of a CPO's payment terminals, for the tests and to try evroam's side by hand.

It offers OCPI 2.3.0 only: credentials (its roles: PTP, party NL/PAY by default), its payments
Sender interface (the CPO's assignments, activations, deactivations of its Terminals), a sessions
and a cdrs Receiver interface (the sessions started at its terminals and their CDRs) and the
CommandResults of the commands it sends. It remembers everything it is sent (`received`). Its
client side acts as a PTP does: creates Terminals at the CPO, sends the START_SESSION of a driver
who paid at a terminal (with the payment's authorization_reference), posts the
FinancialAdviceConfirmation once it captured.

Run on its own (it prints its token A and URLs), then register it from evroam:

    python tests/payments/ptp_stub.py --port 9200
    evroam partners register --name ptp --versions-url http://127.0.0.1:9200/ocpi/versions --token ptp-token-a

and drive it through `http://127.0.0.1:9200/_control/...` (see `control_routes`)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

VERSION = "2.3.0"
NOW = "2025-01-01T00:00:00Z"


def _ok(data: Any = None, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data, "status_code": 1000, "timestamp": NOW}, status_code=status)


@dataclass
class StubPtp:
    country_code: str = "NL"
    party_id: str = "PAY"
    role: str = "PTP"  # PTP, or OTHER (what the 2.3.0 Role table lets a PTP say)
    token_a: str = "ptp-token-a"
    port: int = 0
    host: str = "127.0.0.1"
    # what the CPO sent: (method, path below /ocpi/ptp/2.3.0, body)
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    our_token: str = field(default_factory=lambda: "ptp-c-" + secrets.token_hex(8))  # the CPO presents it
    cpo_token: str | None = None  # the token the CPO gave us in its credentials
    cpo_versions: str | None = None
    cpo_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    # ------------------------------------------------------------------ served

    def build(self) -> FastAPI:
        app = FastAPI()
        base = f"/ocpi/ptp/{VERSION}"

        def authorised(request: Request, *tokens: str) -> bool:
            value = request.headers.get("authorization", "").removeprefix("Token ").strip()
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except Exception:
                decoded = None
            return any(t and t in (value, decoded) for t in tokens)

        def denied() -> JSONResponse:
            return JSONResponse({"status_code": 2000, "status_message": "unknown token", "timestamp": NOW},
                                status_code=401)

        @app.get("/ocpi/versions")
        async def versions(request: Request):
            if not authorised(request, self.token_a, self.our_token):
                return denied()
            return _ok([{"version": VERSION, "url": f"{self.url}/ocpi/{VERSION}"}])

        @app.get(f"/ocpi/{VERSION}")
        async def details(request: Request):
            if not authorised(request, self.token_a, self.our_token):
                return denied()
            return _ok({"version": VERSION, "endpoints": [
                {"identifier": "credentials", "role": "SENDER", "url": f"{self.url}/ocpi/{VERSION}/credentials"},
                {"identifier": "payments", "role": "SENDER", "url": f"{self.url}{base}/payments"},
                {"identifier": "sessions", "role": "RECEIVER", "url": f"{self.url}{base}/sessions"},
                {"identifier": "cdrs", "role": "RECEIVER", "url": f"{self.url}{base}/cdrs"},
            ]})

        @app.post(f"/ocpi/{VERSION}/credentials")
        async def credentials(request: Request):
            if not authorised(request, self.token_a):
                return denied()
            body = await request.json()
            self.cpo_token, self.cpo_versions = body["token"], body["url"]
            return _ok({"token": self.our_token, "url": self.versions_url, "roles": [
                {"role": self.role, "country_code": self.country_code, "party_id": self.party_id,
                 "business_details": {"name": "Stub Payment Terminals"}}]})

        @app.api_route(base + "/{rest:path}", methods=["GET", "PUT", "PATCH", "POST"])
        async def from_cpo(rest: str, request: Request):
            if not authorised(request, self.our_token):
                return denied()
            raw = await request.body()
            body = None
            if raw.strip():
                import json

                body = json.loads(raw)
            self.received.append((request.method, "/" + rest, body))
            if request.method == "POST" and rest == "cdrs":
                return _ok(status=201)
            return _ok()

        self.control_routes(app)
        return app

    def control_routes(self, app: FastAPI) -> None:
        """By hand: POST /_control/terminal {terminal}, /_control/start {location_id, evse_uid,
        authorization_reference}, /_control/stop {session_id}, /_control/fac {authorization_reference,
        excl_vat, vat}; GET /_control/received (what the CPO sent)."""

        @app.post("/_control/terminal")
        async def control_terminal(request: Request):
            r = await self.create_terminal(await request.json())
            return JSONResponse(r.json(), status_code=r.status_code)

        @app.post("/_control/start")
        async def control_start(request: Request):
            b = await request.json()
            r = await self.start_session(b["location_id"], b["evse_uid"], b["authorization_reference"])
            return JSONResponse(r.json(), status_code=r.status_code)

        @app.post("/_control/stop")
        async def control_stop(request: Request):
            r = await self.stop_session((await request.json())["session_id"])
            return JSONResponse(r.json(), status_code=r.status_code)

        @app.post("/_control/fac")
        async def control_fac(request: Request):
            b = await request.json()
            r = await self.post_fac(self.fac(b["authorization_reference"], b["excl_vat"], b["vat"]))
            return JSONResponse(r.json(), status_code=r.status_code)

        @app.get("/_control/received")
        async def control_received():
            return [{"method": m, "path": p, "body": b} for m, p, b in self.received]

    async def _read_cpo_endpoints(self) -> bool:
        """The CPO's 2.3.0 endpoints, once it registered with us (it may still be storing the
        registration: False then)."""
        async with httpx.AsyncClient(headers=self._auth()) as http:
            r = await http.get(self.cpo_versions)
            if r.status_code != 200:
                return False
            url = next(v["url"] for v in r.json()["data"] if v["version"] == VERSION)
            for ep in (await http.get(url)).json()["data"]["endpoints"]:
                self.cpo_endpoints[(ep["identifier"], ep.get("role", ""))] = ep["url"]
        return True

    # ------------------------------------------------------------------ as a client of the CPO

    def _auth(self) -> dict[str, str]:
        return {"Authorization": "Token " + base64.b64encode((self.cpo_token or "").encode()).decode(),
                "OCPI-from-country-code": self.country_code, "OCPI-from-party-id": self.party_id}

    async def ready(self) -> None:
        for _ in range(100):
            if ("payments", "RECEIVER") in self.cpo_endpoints:
                return
            if self.cpo_versions and await self._read_cpo_endpoints():
                continue
            await asyncio.sleep(0.05)
        raise AssertionError("the CPO's payments endpoint was not read (is it registered with us, on 2.3.0?)")

    async def call(self, method: str, url: str, json: Any = None) -> httpx.Response:
        async with httpx.AsyncClient(headers=self._auth(), timeout=10) as http:
            return await http.request(method, url, json=json)

    async def create_terminal(self, terminal: dict[str, Any]) -> httpx.Response:
        await self.ready()
        return await self.call("POST", self.cpo_endpoints[("payments", "RECEIVER")] + "/terminals", terminal)

    async def get_terminal(self, terminal_id: str) -> httpx.Response:
        await self.ready()
        return await self.call("GET", self.cpo_endpoints[("payments", "RECEIVER")] + f"/terminals/{terminal_id}")

    def token(self, authorization_reference: str) -> dict[str, Any]:
        """The token of a driver who paid at a terminal: one time, of our own party."""
        uid = "PAY" + authorization_reference.replace("-", "")[-17:]
        return {"country_code": self.country_code, "party_id": self.party_id, "uid": uid, "type": "AD_HOC_USER",
                "contract_id": uid, "issuer": "Stub Payment Terminals", "valid": True, "whitelist": "NEVER",
                "last_updated": NOW}

    async def start_session(self, location_id: str, evse_uid: str, authorization_reference: str | None,
                            **extra: Any) -> httpx.Response:
        await self.ready()
        body = {"response_url": f"{self.url}/ocpi/ptp/{VERSION}/commands/START_SESSION/"
                                f"{authorization_reference or 'none'}",
                "token": self.token(authorization_reference or secrets.token_hex(4)), "location_id": location_id,
                "evse_uid": evse_uid, **extra}
        if authorization_reference is not None:
            body["authorization_reference"] = authorization_reference
        return await self.call("POST", self.cpo_endpoints[("commands", "RECEIVER")] + "/START_SESSION", body)

    async def stop_session(self, session_id: str) -> httpx.Response:
        """The driver ends the session at the terminal (or the preauthorised amount is reached)."""
        await self.ready()
        body = {"response_url": f"{self.url}/ocpi/ptp/{VERSION}/commands/STOP_SESSION/{session_id}",
                "session_id": session_id}
        return await self.call("POST", self.cpo_endpoints[("commands", "RECEIVER")] + "/STOP_SESSION", body)

    def fac(self, authorization_reference: str, before_taxes: float, vat: float, *, fac_id: str | None = None,
            status: str = "SUCCESS") -> dict[str, Any]:
        return {"id": fac_id or secrets.token_hex(8), "authorization_reference": authorization_reference,
                "total_costs": {"before_taxes": before_taxes, "taxes": [{"name": "VAT", "amount": vat}]},
                "currency": "EUR",
                "eft_data": ["Mastercard", "AID: 1234", "Nr: **** **** **** 1234",
                             f"Amount: EUR {before_taxes + vat:.2f}"],
                "capture_status_code": status, "last_updated": NOW}

    async def post_fac(self, fac: dict[str, Any]) -> httpx.Response:
        await self.ready()
        return await self.call("POST", self.cpo_endpoints[("payments", "RECEIVER")] + "/financial-advice-confirmations",
                               fac)

    def sent(self, method: str, suffix: str = "") -> list[tuple[str, str, Any]]:
        return [r for r in self.received if r[0] == method and r[1].endswith(suffix)]

    # ------------------------------------------------------------------ life

    async def start(self) -> StubPtp:
        import socket

        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.build(), log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        for _ in range(200):
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--token-a", default="ptp-token-a")
    parser.add_argument("--role", default="PTP", choices=["PTP", "OTHER"])
    args = parser.parse_args()
    stub = await StubPtp(port=args.port, token_a=args.token_a, role=args.role).start()
    print(f"PTP stub at {stub.versions_url}, token A {stub.token_a}", flush=True)
    await stub._task


if __name__ == "__main__":
    asyncio.run(_main())
