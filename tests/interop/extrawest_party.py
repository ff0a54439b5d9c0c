"""A third-party OCPI party built on the `extrawest-ocpi` library (PyPI `extrawest-ocpi`, import
name `py_ocpi`), used by the interoperability tests: OCPI 2.2.1 by default, 2.1.1 with
`--version 2.1.1` (then it also serves sessions, CDRs and tokens: as eMSP it receives sessions and
CDRs, keeps tokens of its own that it can push and that peers authorise in real time).

This script runs ONLY in the interop venv (`.venv-interop`): extrawest-ocpi pins pydantic 1,
fastapi 0.101 and httpx 0.24, so it cannot share the project's venv. It imports nothing from
evroam; it stands up the library's own application with an in-memory "crud" (the library's
storage/business-logic hook) and authenticator, plays the CPO role (optionally the eMSP role
too) and serves a few locations and a tariff.

Two ways to use it:

* accept (default): wait for a peer to register with us. The peer reads our versions with
  `--token-a` and POSTs its credentials to our credentials endpoint (the library's own route).

      extrawest_party.py --port 0 --token-a TOKEN_A

* register: we register with a peer. The library has no client for the registration handshake,
  so this script drives it (with the library's own schemas and Base64 helper): GET the peer's
  versions and version details with the peer's token A, POST our credentials with a fresh token
  B, keep the peer's token C.

      extrawest_party.py --port 0 --register-with http://host/ocpi/versions --peer-token-a TOKEN_A

Lines on stdout (one JSON object after the keyword; everything else goes to stderr):

    READY {"port": 12345, "versions_url": "http://127.0.0.1:12345/ocpi/versions"}
    REGISTERED {"version": "2.2.1", ...}              (register mode)
    REGISTRATION-FAILED {"error": "..."}              (register mode)

`POST /_control/push-token` (2.1.1 eMSP, not OCPI) puts one of its tokens ({"uid": ..., "auth_id":
...}, validated by the library's 2.1.1 Token model) to the registered peer's tokens endpoint.

`GET /_control/state` (not OCPI, no authentication, for the tests) shows the registrations
this party holds, so a test can check both sides of the handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

VERSION = "2.2.1"  # replaced by --version


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: pick a free port (reported on the READY line)")
    p.add_argument("--token-a", action="append", default=[],
                   help="a registration token A peers may register with (repeatable)")
    p.add_argument("--roles", default="CPO", help="comma-separated: CPO, EMSP or CPO,EMSP")
    p.add_argument("--country-code", default="NL")
    p.add_argument("--party-id", default="XWT")
    p.add_argument("--locations", type=int, default=3, help="how many locations the CPO serves")
    p.add_argument("--register-with", metavar="VERSIONS_URL", help="register with this peer after start")
    p.add_argument("--peer-token-a", help="the token A the peer gave us (with --register-with)")
    p.add_argument("--verbose", action="store_true", help="library debug logging on stderr")
    p.add_argument("--version", default="2.2.1", choices=["2.2.1", "2.1.1"], help="the OCPI version it speaks")
    args = p.parse_args(argv)
    if args.register_with and not args.peer_token_a:
        p.error("--register-with needs --peer-token-a")
    args.roles = [r.strip().upper() for r in args.roles.split(",") if r.strip()]
    if not set(args.roles) <= {"CPO", "EMSP"} or not args.roles:
        p.error("--roles: CPO, EMSP or CPO,EMSP")
    return args


def emit(keyword: str, payload: dict[str, Any]) -> None:
    print(f"{keyword} {json.dumps(payload)}", flush=True)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- demo data


def demo_locations(country_code: str, party_id: str, count: int) -> list[dict[str, Any]]:
    """Locations in the OCPI 2.2.1 shape, with upper-case ids on purpose (the library's CiString
    lower-cases them on the way out)."""
    cities = [("Amsterdam", "Stationsplein 1", "1012AB", "52.37790", "4.89940"),
              ("Utrecht", "Jaarbeursplein 6", "3521AL", "52.08870", "5.10670"),
              ("Rotterdam", "Weena 505", "3013AL", "51.92440", "4.46950"),
              ("Den Haag", "Koningin Julianaplein 10", "2595AA", "52.08060", "4.32430")]
    out = []
    for i in range(count):
        city, address, postal, lat, lon = cities[i % len(cities)]
        stamp = f"2025-01-0{1 + i % 9}T10:00:00Z"
        loc_id = f"XWT-LOC-{i + 1}"
        evses = []
        for e in (1, 2):
            evses.append({
                "uid": f"{loc_id}-E{e}",
                "evse_id": f"{country_code}*{party_id}*E{i + 1}{e}",
                "status": "AVAILABLE" if e == 1 else "CHARGING",
                "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                "connectors": [{
                    "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                    "max_voltage": 400, "max_amperage": 32, "max_electric_power": 22000,
                    "tariff_ids": ["XWT-AC-1"], "last_updated": stamp,
                }],
                "last_updated": stamp,
            })
        out.append({
            "country_code": country_code, "party_id": party_id, "id": loc_id, "publish": True,
            "name": f"{city} Central", "address": address, "city": city, "postal_code": postal,
            "country": "NLD", "coordinates": {"latitude": lat, "longitude": lon},
            "parking_type": "ON_STREET", "evses": evses,
            "operator": {"name": "Extrawest interop CPO"}, "time_zone": "Europe/Amsterdam",
            "last_updated": stamp,
        })
    return out


def demo_tariffs(country_code: str, party_id: str) -> list[dict[str, Any]]:
    return [{
        "country_code": country_code, "party_id": party_id, "id": "XWT-AC-1", "currency": "EUR",
        "type": "REGULAR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}]}],
        "last_updated": "2025-01-01T09:00:00Z",
    }]


def as_2_1_1_location(loc: dict[str, Any]) -> dict[str, Any]:
    """The same location as 2.1.1 says it (no owner, `type`, voltage/amperage/tariff_id)."""
    out = {k: v for k, v in loc.items() if k not in ("country_code", "party_id", "publish", "parking_type")}
    out["type"] = loc.get("parking_type", "UNKNOWN")
    out["evses"] = [{**e, "connectors": [
        {**{k: v for k, v in c.items() if k not in ("max_voltage", "max_amperage", "max_electric_power",
                                                        "tariff_ids")},
         "voltage": c["max_voltage"], "amperage": c["max_amperage"], "tariff_id": c["tariff_ids"][0]}
        for c in e["connectors"]]} for e in loc["evses"]]
    return out


def as_2_1_1_tariff(tariff: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in tariff.items() if k not in ("country_code", "party_id", "type")}
    out["elements"] = [{"price_components": [{k: v for k, v in pc.items() if k != "vat"}
                                             for pc in el["price_components"]]} for el in tariff["elements"]]
    return out


def demo_tokens() -> list[dict[str, Any]]:
    """The eMSP's own drivers' tokens (2.1.1 shape)."""
    return [{"uid": "XWT-RFID-1", "type": "RFID", "auth_id": "NL-XWT-C00042-7", "visual_number": "XWT 42",
             "issuer": "Extrawest interop eMSP", "valid": True, "whitelist": "NEVER", "language": "nl",
             "last_updated": "2025-01-01T08:00:00Z"}]


# --------------------------------------------------------------------------- state


class State:
    """Everything the party knows, in memory."""

    def __init__(self, args: argparse.Namespace, base_url: str) -> None:
        self.args = args
        self.base_url = base_url
        self.registration_tokens: set[str] = set(args.token_a)  # tokens A we handed out
        # One entry per registered peer:
        #   token_in: the token the peer presents to us (C we issued, or B we generated)
        #   token_out: the token we present to the peer
        self.peers: list[dict[str, Any]] = []
        self.pending_tokens: set[str] = set()  # our token B while we register with a peer
        locations = demo_locations(args.country_code, args.party_id, args.locations)
        tariffs = demo_tariffs(args.country_code, args.party_id)
        if args.version == "2.1.1":
            locations, tariffs = [as_2_1_1_location(x) for x in locations], [as_2_1_1_tariff(x) for x in tariffs]
        self.objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
            ("locations", "CPO"): {loc["id"]: loc for loc in locations},
            ("tariffs", "CPO"): {t["id"]: t for t in tariffs},
            # what peers push to our eMSP receiver interfaces, by id (one peer at a time here)
            ("locations", "EMSP"): {},
            ("tariffs", "EMSP"): {},
            ("sessions", "EMSP"): {},
            ("cdrs", "EMSP"): {},
            ("sessions", "CPO"): {},  # (its CPO serves none: no chargers)
            ("cdrs", "CPO"): {},
            # our own drivers' tokens (eMSP), and those peers push to us (CPO)
            ("tokens", "EMSP"): {t["uid"]: t for t in demo_tokens()},
            ("tokens", "CPO"): {},
        }
        self.authorized: list[dict[str, Any]] = []  # real-time authorizations peers asked for

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def our_credentials(self, token: str) -> dict[str, Any]:
        if self.args.version == "2.1.1":  # one party, no roles
            return {"token": token, "url": self.versions_url, "party_id": self.args.party_id,
                    "country_code": self.args.country_code,
                    "business_details": {"name": "Extrawest interop " + "/".join(self.args.roles)}}
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {"role": role, "party_id": self.args.party_id, "country_code": self.args.country_code,
                 "business_details": {"name": f"Extrawest interop {role}"}}
                for role in self.args.roles
            ],
        }

    def peer_by_token(self, token: str | None) -> dict[str, Any] | None:
        for peer in self.peers:
            if peer["token_in"] == token:
                return peer
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "registration_tokens": sorted(self.registration_tokens),
            "peers": self.peers,
            # what peers pushed to our eMSP receiver interfaces, by module and id
            "received": {m: objs for (m, r), objs in self.objects.items() if r == "EMSP" and m != "tokens"},
            "tokens_received": self.objects[("tokens", "CPO")],
            "authorized": self.authorized,
        }


STATE: State | None = None


# --------------------------------------------------------------------------- the library's hooks


def build_app(state: State):
    """The extrawest application with our in-memory crud and authenticator."""
    from fastapi import APIRouter
    from py_ocpi import get_application
    from py_ocpi.core.adapter import BaseAdapter
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import Action, ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    class MemoryAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> list[str]:
            return [p["token_in"] for p in state.peers] + sorted(state.pending_tokens)

        @classmethod
        async def get_valid_token_a(cls) -> list[str]:
            return sorted(state.registration_tokens)

    def bucket(module: ModuleID, role: RoleEnum) -> dict[str, dict[str, Any]]:
        key = (module.value, "CPO" if role == RoleEnum.cpo else "EMSP")
        if key not in state.objects:
            raise NotImplementedError(f"{module.value} ({role.value}) is not served by this party")
        return state.objects[key]

    def find(objs: dict[str, dict[str, Any]], object_id: str) -> dict[str, Any] | None:
        for key, obj in objs.items():  # ids are CiString: compare case-insensitively
            if key.lower() == str(object_id).lower():
                return obj
        return None

    class MemoryCrud(Crud):
        @classmethod
        async def get(cls, module, role, id, *args, **kwargs):
            if module == ModuleID.credentials_and_registration:
                peer = state.peer_by_token(kwargs.get("auth_token"))
                return state.our_credentials(peer["token_in"]) if peer else None
            return find(bucket(module, role), id)

        @classmethod
        async def list(cls, module, role, filters, *args, **kwargs):
            items = sorted(bucket(module, role).values(),
                           key=lambda o: (o["last_updated"], o.get("id") or o.get("uid")))
            date_from, date_to = filters.get("date_from"), filters.get("date_to")

            def when(obj):
                return datetime.fromisoformat(obj["last_updated"].replace("Z", "+00:00"))

            if date_from is not None:
                items = [o for o in items if when(o) >= date_from]
            if date_to is not None:
                items = [o for o in items if when(o) < date_to]
            offset, limit = filters.get("offset", 0), filters.get("limit", 50)
            page = items[offset:offset + limit]
            return page, len(items), offset + limit >= len(items)

        @classmethod
        async def create(cls, module, role, data, *args, **kwargs):
            if module == ModuleID.credentials_and_registration:
                # POST credentials with our token A: the library has already called the peer's
                # versions and version details back with the peer's token; we store what it
                # found, retire token A and issue token C.
                token_a = kwargs.get("auth_token")
                state.registration_tokens.discard(token_a)
                token_c = secrets.token_urlsafe(32)
                state.peers.append({
                    "via": "they-registered", "token_in": token_c, "token_out": data["credentials"]["token"],
                    "credentials": data["credentials"], "version_details": data["endpoints"],
                    "role_endpoint": role.value, "registered_at": now(),
                })
                return state.our_credentials(token_c)
            object_id = data.get("id") or data.get("uid") or (args[0] if args else None)
            bucket(module, role)[str(object_id)] = data
            return data

        @classmethod
        async def update(cls, module, role, data, id, *args, **kwargs):
            if module == ModuleID.credentials_and_registration:
                peer = state.peer_by_token(kwargs.get("auth_token"))
                if peer is None:
                    return None
                peer["token_in"] = secrets.token_urlsafe(32)
                peer["token_out"] = data["credentials"]["token"]
                peer["credentials"], peer["version_details"] = data["credentials"], data["endpoints"]
                return state.our_credentials(peer["token_in"])
            objs = bucket(module, role)
            current = find(objs, id) or {}
            current.update(data)
            objs[str(id)] = current
            return current

        @classmethod
        async def delete(cls, module, role, id, *args, **kwargs):
            if module == ModuleID.credentials_and_registration:
                peer = state.peer_by_token(kwargs.get("auth_token"))
                if peer is not None:
                    state.peers.remove(peer)
                return None
            bucket(module, role).pop(str(id), None)
            return None

        @classmethod
        async def do(cls, module, role, action, *args, data=None, **kwargs):
            if module == ModuleID.tokens and action == Action.authorize_token:
                # real-time authorization of one of our tokens: allowed when it is valid
                token = find(bucket(module, RoleEnum.emsp), data["token_uid"])
                state.authorized.append(data)
                allowed = "ALLOWED" if token is not None and token["valid"] else "BLOCKED"
                answer = {"allowed": allowed}
                if data.get("location_reference"):
                    answer["location"] = data["location_reference"]
                return answer
            raise NotImplementedError(f"action {action} is not supported by this party")

    roles = [RoleEnum.cpo if r == "CPO" else RoleEnum.emsp for r in state.args.roles]
    modules = [ModuleID.credentials_and_registration, ModuleID.locations, ModuleID.tariffs]
    if state.args.version == "2.1.1":
        modules += [ModuleID.sessions, ModuleID.cdrs, ModuleID.tokens]
    app = get_application(
        version_numbers=[VersionNumber(state.args.version)],
        roles=roles,
        crud=MemoryCrud,
        modules=modules,
        authenticator=MemoryAuthenticator,
        adapter=BaseAdapter,
    )

    control = APIRouter()

    @control.get("/_control/state")
    async def control_state():
        return state.snapshot()

    @control.post("/_control/push-token")
    async def push_token(token: dict):
        """PUT one of our tokens to the registered peer's tokens receiver (2.1.1, plain token)."""
        import httpx

        version = VersionNumber(state.args.version)
        said = BaseAdapter.token_adapter({**demo_tokens()[0], **token}, version).dict()
        said["last_updated"] = said["last_updated"].strftime("%Y-%m-%dT%H:%M:%SZ") \
            if hasattr(said["last_updated"], "strftime") else said["last_updated"]
        state.objects[("tokens", "EMSP")][said["uid"]] = said
        [peer] = state.peers
        endpoints = peer["version_details"]["endpoints"] if isinstance(peer["version_details"], dict) \
            else peer["version_details"]
        url = next(e["url"] for e in endpoints if e["identifier"] == "tokens")
        async with httpx.AsyncClient(timeout=10.0) as http:
            r = await http.put(f"{url.rstrip('/')}/{state.args.country_code}/{state.args.party_id}/{said['uid']}",
                               json=said, headers={"Authorization": f"Token {peer['token_out']}"})
        return {"status": r.status_code, "body": r.json(), "sent": said}

    app.include_router(control)
    return app


# --------------------------------------------------------------------------- we register with a peer


async def register_with(state: State, versions_url: str, token_a: str) -> dict[str, Any]:
    """The credentials Sender's side of the handshake (the credentials module of our version),
    written with the library's schemas and (2.2.1) its Base64 token helper; 2.1.1 sends the token
    as it is."""
    import httpx
    from py_ocpi.core.utils import encode_string_base64
    from py_ocpi.modules.versions.schemas import Version

    if VERSION == "2.1.1":
        from py_ocpi.modules.credentials.v_2_1_1.schemas import Credentials
        from py_ocpi.modules.versions.v_2_1_1.schemas import VersionDetail
    else:
        from py_ocpi.modules.credentials.v_2_2_1.schemas import Credentials
        from py_ocpi.modules.versions.v_2_2_1.schemas import VersionDetail

    def envelope(response: httpx.Response, what: str) -> Any:
        if response.status_code != 200:
            raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
        body = response.json()
        if body.get("status_code") != 1000:
            raise RuntimeError(f"{what}: OCPI {body.get('status_code')} {body.get('status_message')}")
        return body.get("data")

    headers = {"Authorization": f"Token {token_a if VERSION == '2.1.1' else encode_string_base64(token_a)}"}
    async with httpx.AsyncClient(timeout=10.0) as client:
        # its VersionNumber enum has no 2.3.0: versions it does not know are skipped (docs/interop.md)
        from py_ocpi.modules.versions.enums import VersionNumber

        known = {v.value for v in VersionNumber}
        versions = [Version(**v) for v in envelope(await client.get(versions_url, headers=headers), "GET versions")
                    if v.get("version") in known]
        chosen = next((v for v in versions if v.version == VERSION), None)
        if chosen is None:
            raise RuntimeError(f"the peer does not offer {VERSION}: {[v.version.value for v in versions]}")
        details = VersionDetail(**envelope(await client.get(chosen.url, headers=headers), "GET version details"))
        credentials_url = next((e.url for e in details.endpoints if e.identifier.value == "credentials"), None)
        if credentials_url is None:
            raise RuntimeError("the peer offers no credentials endpoint")
        token_b = secrets.token_urlsafe(32)
        state.pending_tokens.add(token_b)  # the peer calls our versions back with token B
        try:
            body = Credentials(**state.our_credentials(token_b)).dict()
            reply = envelope(await client.post(credentials_url, json=body, headers=headers), "POST credentials")
            theirs = Credentials(**reply)
        finally:
            state.pending_tokens.discard(token_b)
    peer = {
        "via": "we-registered", "token_in": token_b, "token_out": theirs.token,
        "credentials": json.loads(json.dumps(theirs.dict(), default=str)),
        "version_details": json.loads(details.json()), "registered_at": now(),
    }
    state.peers.append(peer)
    return {"version": VERSION, "credentials_url": credentials_url, "token_b": token_b,
            "token_c": theirs.token, "roles": peer["credentials"].get("roles"),
            "party": [peer["credentials"].get("country_code"), peer["credentials"].get("party_id")],
            "endpoints": peer["version_details"]["endpoints"]}


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    global STATE, VERSION
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    port = sock.getsockname()[1]

    # The library reads its settings from the environment when it is imported.
    os.environ.update({
        "OCPI_HOST": f"{args.host}:{port}", "PROTOCOL": "http", "OCPI_PREFIX": "ocpi",
        "COUNTRY_CODE": args.country_code, "PARTY_ID": args.party_id,
        "ENVIRONMENT": "development" if args.verbose else "production", "PROJECT_NAME": "extrawest interop party",
    })
    import uvicorn

    VERSION = args.version
    STATE = State(args, f"http://{args.host}:{port}")
    app = build_app(STATE)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info" if args.verbose else "warning", lifespan="off"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
            return 1
        await asyncio.sleep(0.01)

    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))

    emit("READY", {"port": port, "versions_url": STATE.versions_url, "roles": args.roles})
    if args.register_with:
        try:
            emit("REGISTERED", await register_with(STATE, args.register_with, args.peer_token_a))
        except Exception as exc:  # reported on stdout for the test, with the trace on stderr
            traceback.print_exc()
            emit("REGISTRATION-FAILED", {"error": f"{type(exc).__name__}: {exc}"})
    await serving
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
