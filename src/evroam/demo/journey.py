"""`evroam demo`: a CPO and an eMSP, each a real `evroam serve` process with its own SQLite
database and ports, registered with each other over OCPI; a simulated OCPP 1.6 charger at the
CPO; and a driver's journey through the eMSP's driver API: find a charger, get a price
estimate, start charging remotely, charge, stop, then the CDR and the invoice line.

Every step checks real values against the other side (the token arrived at the CPO, the CDR
at the eMSP equals the CPO's, the estimate equals the price charged, the invoice line equals the
CDR); the demo succeeds only when every step does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evroam.demo.simulator import SimulatedCharger, connected

CPO_PARTY = ("NL", "CPO")
EMSP_PARTY = ("DE", "MSP")
LOCATION, EVSE, CONNECTOR = "EVR-GENT-1", "EVR-GENT-1-E3", "1"  # a 150 kW CCS connector, tariff DC-1
WHERE = (51.0500, 3.7300)  # the driver, in Gent
CHARGER_ID, CHARGER_PASSWORD = "CP-DEMO-1", "demo-charger-pw"
DRIVER_TAG = "DEMO-RFID-0001"
METER_KWH = [2.0, 4.5, 7.0, 9.5, 12.0]  # the meter values the charger sends
STEP_TIMEOUT = 30.0


class StepFailed(Exception):
    """A check of the demo did not hold."""


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Check:
    step: str
    ok: bool
    detail: str
    seconds: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One `evroam serve` process in its own folder, configured by its evroam.toml."""

    name: str
    folder: Path
    values: dict[str, Any]
    demo_data: bool = False
    proc: asyncio.subprocess.Process | None = None
    platform: Any = None  # the same database, opened in this process (as a CLI command would)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.values['http_port']}"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.values['admin_token']}"}

    def write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for key, value in self.values.items():
            if isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value}")
        path = self.folder / "evroam.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    async def start(self) -> None:
        config = self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVROAM_")}
        env["EVROAM_CONFIG"] = str(config)
        args = [sys.executable, "-m", "evroam", "serve"] + (["--demo-data"] if self.demo_data else [])
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(*args, cwd=self.folder, env=env, stdout=log,
                                                             stderr=asyncio.subprocess.STDOUT)
        async with httpx.AsyncClient(timeout=2) as http:
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                if self.proc.returncode is not None:
                    raise StepFailed(f"{self.name} server exited ({self.proc.returncode}); see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.get(f"{self.url}/health")
                    if r.status_code == 200 and r.json().get("status") == "ok":
                        break
                if time.monotonic() > deadline:
                    raise StepFailed(f"{self.name} server not healthy after {STEP_TIMEOUT:.0f}s; see {self.log}")
                await asyncio.sleep(0.2)
        from evroam.app import Platform
        from evroam.settings import Settings

        self.platform = Platform(Settings(**self.values))
        await self.platform.start()

    async def stop(self) -> None:
        if self.platform is not None:
            with contextlib.suppress(Exception):
                await self.platform.close()
            self.platform = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class Journey:
    folder: Path
    pace: float = 0.5  # real seconds between the charger's meter values
    report: Callable[[Check], None] = lambda check: None
    progress: Callable[[str], None] = lambda text: None
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cpo_ports, emsp_ports = (free_port(), free_port()), (free_port(), free_port())
        common = {"host": "127.0.0.1", "log_level": "WARNING", "outbox_poll_seconds": 0.3,
                  "outbox_backoff_base": 0.3, "outbox_backoff_max": 5.0}
        self.cpo = Server("CPO", self.folder / "cpo", {
            **common, "database_url": f"sqlite+aiosqlite:///{self.folder / 'cpo' / 'evroam.db'}",
            "http_port": cpo_ports[0], "ocpp_port": cpo_ports[1], "country_code": CPO_PARTY[0],
            "party_id": CPO_PARTY[1], "roles": ["CPO"], "business_name": "Demo Charging (CPO)",
            "session_push_interval": 0.0, "admin_token": secrets.token_urlsafe(24)}, demo_data=True)
        self.emsp = Server("eMSP", self.folder / "emsp", {
            **common, "database_url": f"sqlite+aiosqlite:///{self.folder / 'emsp' / 'evroam.db'}",
            "http_port": emsp_ports[0], "ocpp_port": emsp_ports[1], "country_code": EMSP_PARTY[0],
            "party_id": EMSP_PARTY[1], "roles": ["EMSP"], "business_name": "Demo Mobility (eMSP)",
            "admin_token": secrets.token_urlsafe(24)})
        self.http = httpx.AsyncClient(timeout=15)
        self.charger: SimulatedCharger | None = None
        self._charger_cm = None

    # ------------------------------------------------------------------ running

    async def run(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("start the CPO", self.start_cpo),
            ("start the eMSP", self.start_emsp),
            ("register over OCPI", self.register),
            ("add a driver", self.add_driver),
            ("connect a charger", self.connect_charger),
            ("find a charger", self.find_charger),
            ("price estimate", self.estimate),
            ("remote start", self.remote_start),
            ("charging", self.charging),
            ("remote stop", self.remote_stop),
            ("CDR at the eMSP", self.cdr),
            ("invoice line", self.invoice),
        ]
        try:
            for name, work in steps:
                self.progress(name)
                started = time.monotonic()
                try:
                    detail, ok = await asyncio.wait_for(work(), STEP_TIMEOUT), True
                except StepFailed as exc:
                    detail, ok = str(exc), False
                except TimeoutError:
                    detail, ok = f"no result within {STEP_TIMEOUT:.0f}s", False
                except Exception as exc:  # reported as the step's failure, never a traceback
                    detail, ok = f"{type(exc).__name__}: {exc}", False
                check = Check(name, ok, detail, time.monotonic() - started)
                self.checks.append(check)
                self.report(check)
                if not ok:
                    break
        finally:
            await self.close()
        return self.checks

    async def close(self) -> None:
        if self._charger_cm is not None:
            with contextlib.suppress(Exception):
                await self._charger_cm.__aexit__(None, None, None)
            self._charger_cm = None
        await self.http.aclose()
        await self.emsp.stop()
        await self.cpo.stop()

    async def _wait(self, what: str, probe: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = await probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StepFailed(f"{what}: not seen within {within:.0f}s")
            await asyncio.sleep(0.2)

    async def _get(self, url: str, headers: dict[str, str], **params: Any) -> Any:
        r = await self.http.get(url, headers=headers, params=params or None)
        expect(r.status_code == 200, f"GET {url}: HTTP {r.status_code} {r.text[:200]}")
        return r.json()

    def _driver(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.facts['api_key']}"}

    def _api(self, path: str) -> str:
        return f"{self.emsp.url}/driver/v1{path}"

    # ------------------------------------------------------------------ the steps

    async def start_cpo(self) -> str:
        await self.cpo.start()
        health = await self._get(f"{self.cpo.url}/health", {})
        expect(health["roles"] == ["CPO"] and health["party"] == "/".join(CPO_PARTY), f"CPO health: {health}")
        locations = await self._get(f"{self.cpo.url}/admin/api/locations", self.cpo.admin)
        items = locations if isinstance(locations, list) else locations.get("locations", [])
        self.facts["cpo_locations"] = len(items)
        expect(any(loc["id"] == LOCATION for loc in items), f"demo location {LOCATION} missing at the CPO")
        return (f"{self.cpo.url} (OCPP ws://127.0.0.1:{self.cpo.values['ocpp_port']}), "
                f"{len(items)} demo locations")

    async def start_emsp(self) -> str:
        await self.emsp.start()
        health = await self._get(f"{self.emsp.url}/health", {})
        expect(health["roles"] == ["EMSP"] and health["party"] == "/".join(EMSP_PARTY), f"eMSP health: {health}")
        return self.emsp.url

    async def register(self) -> str:
        from evroam.ocpi.credentials import handshake

        _, token_a = await handshake.invite(self.cpo.platform, "demo-emsp")
        partner = await handshake.register_with(self.emsp.platform, "demo-cpo", self.cpo.platform.settings.versions_url,
                                                token_a)
        await self.emsp.platform.bus.drain()  # the first pull of the CPO's locations and tariffs
        expect(partner.registered and partner.parties("CPO") == [CPO_PARTY], f"registration: {partner}")
        async with self.cpo.platform.store.connect() as conn:
            at_cpo = await self.cpo.platform.store.partners.by_name(conn, "demo-emsp")
        expect(at_cpo is not None and at_cpo.registered and at_cpo.parties("EMSP") == [EMSP_PARTY],
               "the CPO does not hold the eMSP as registered")
        store = self.emsp.platform.store
        async with store.connect() as conn:
            n_loc = await store.locations.count(conn, owners=[CPO_PARTY])
            n_tar = await store.tariffs.count(conn, owners=[CPO_PARTY])
        expect(n_loc == self.facts["cpo_locations"], f"the eMSP pulled {n_loc} of {self.facts['cpo_locations']} "
                                                      "locations")
        expect(n_tar >= 1, "the eMSP pulled no tariffs")
        return f"OCPI {partner.version}; eMSP pulled {n_loc} locations and {n_tar} tariffs"

    async def add_driver(self) -> str:
        new = await self.emsp.platform.drivers.add("Demo Driver", email="driver@example.com", token_uid=DRIVER_TAG,
                                                   token_type="RFID")
        self.facts["api_key"] = new.api_key
        self.facts["tokens"] = [(t["uid"], t["type"]) for t in new.tokens]
        store = self.cpo.platform.store

        async def at_cpo():
            async with store.connect() as conn:
                found = [await store.tokens.get(conn, *EMSP_PARTY, uid, kind) for uid, kind in self.facts["tokens"]]
            return all(found)

        await self._wait("the driver's tokens at the CPO", at_cpo)
        me = await self._get(self._api("/me"), self._driver())
        kinds = ", ".join(kind for _, kind in self.facts["tokens"])
        return f"{new.driver.name} ({me.get('contract_id', new.driver.contract.display)}): tokens {kinds} at the CPO"

    async def connect_charger(self) -> str:
        r = await self.http.post(f"{self.cpo.url}/admin/api/chargers", headers=self.cpo.admin, json={
            "id": CHARGER_ID, "password": CHARGER_PASSWORD, "location_id": LOCATION, "evses": {"1": EVSE}})
        expect(r.status_code == 201, f"adding the charger: HTTP {r.status_code} {r.text[:200]}")
        self._charger_cm = connected(f"ws://127.0.0.1:{self.cpo.values['ocpp_port']}/ocpp/", CHARGER_ID,
                                     CHARGER_PASSWORD)
        self.charger = await self._charger_cm.__aenter__()
        expect(await self.charger.boot() == "Accepted", "BootNotification not accepted")
        chargers = await self._get(f"{self.cpo.url}/admin/api/chargers", self.cpo.admin)
        items = chargers if isinstance(chargers, list) else chargers.get("chargers", [])
        mine = next((c for c in items if c["id"] == CHARGER_ID), None)
        expect(mine is not None and mine.get("connected"), f"the CPO does not show {CHARGER_ID} connected")
        return f"{CHARGER_ID} (OCPP 1.6) booted; connector 1 = {EVSE}"

    async def find_charger(self) -> str:
        async def listed():
            found = await self._get(self._api("/chargers"), self._driver(), lat=WHERE[0], lon=WHERE[1], radius_km=5,
                                    available="true", connector_type="IEC_62196_T2_COMBO")
            for charger in found["chargers"]:
                if (charger["country_code"], charger["party_id"], charger["location_id"]) == (*CPO_PARTY, LOCATION):
                    evse = next((e for e in charger["evses"] if e["uid"] == EVSE), None)
                    if evse is not None and evse["status"] == "AVAILABLE":
                        return charger, evse
            return None

        charger, evse = await self._wait(f"{EVSE} AVAILABLE in the driver's search", listed)
        self.facts["evse_id"] = evse.get("evse_id")
        return f"{charger['name']} at {charger['distance_km']:.2f} km, {evse.get('evse_id') or EVSE} AVAILABLE"

    async def estimate(self) -> str:
        kwh = METER_KWH[-1]
        loc = await self._get(self._api(f"/locations/{CPO_PARTY[0]}/{CPO_PARTY[1]}/{LOCATION}"), self._driver(),
                              energy_kwh=kwh)
        evse = next(e for e in loc["evses"] if e["uid"] == EVSE)
        connector = next(c for c in evse["connectors"] if c["id"] == CONNECTOR)
        estimate = connector.get("estimate")
        expect(estimate, f"no estimate for connector {CONNECTOR} of {EVSE}: {connector}")
        self.facts["estimate"] = estimate
        total = _price(estimate)
        expect(total is not None and total[0] > 0, f"the estimate has no total: {estimate}")
        tariff = connector.get("tariff") or connector.get("tariff_text") or ""
        words = tariff if isinstance(tariff, str) else tariff.get("text") or tariff.get("description") or ""
        words = words if len(words) <= 70 else words[:69] + "…"
        return f"{kwh:g} kWh now: {_money(total, estimate.get('currency') or loc.get('currency'))}" + \
            (f" ({words})" if words else "")

    async def remote_start(self) -> str:
        r = await self.http.post(self._api("/charging/start"), headers=self._driver(), json={
            "country_code": CPO_PARTY[0], "party_id": CPO_PARTY[1], "location_id": LOCATION, "evse_uid": EVSE,
            "connector_id": CONNECTOR})
        expect(r.status_code == 202, f"start: HTTP {r.status_code} {r.text[:300]}")
        command = r.json()
        expect(command["command"] == "START_SESSION", f"start: {command}")
        done = await self._command(command["id"])
        expect(done["state"] == "ACCEPTED" and (done["result"] or {}).get("result") == "ACCEPTED",
               f"START_SESSION ended {done['state']}: {done.get('result') or done.get('response')}")
        await self._wait("the charger's transaction", lambda: _flag(self.charger.started))

        async def linked():
            record = await self._get(self._api(f"/commands/{command['id']}"), self._driver())
            return record if record.get("session_id") else None

        record = await self._wait("the session started by the command", linked)
        self.facts["session_id"] = sid = record["session_id"]
        session = await self._wait("the session at the eMSP", lambda: self._session("ACTIVE"))
        return f"START_SESSION {command['id'][:8]}… ACCEPTED by the CPO and the charger; session {sid} " \
               f"{session['status']}"

    async def charging(self) -> str:
        seen = []
        for part in (METER_KWH[:2], METER_KWH[2:]):  # the driver watches the session grow
            await self.charger.charge(part, of=len(METER_KWH), pace=self.pace)

            async def charged(kwh=part[-1]):
                session = await self._session("ACTIVE")
                return session if session and abs(float(session.get("kwh", 0)) - kwh) < 1e-6 else None

            session = await self._wait(f"{part[-1]:g} kWh in the driver's session", charged)
            seen.append(f"{session['kwh']:g}")
        cost = session.get("cost") or session.get("total_cost") or session.get("cost_so_far")
        return f"{len(METER_KWH)} meter values; the driver saw {' then '.join(seen)} kWh" + \
            (f", {_money(_price(cost), session.get('currency'))} so far" if _price(cost) else "")

    async def remote_stop(self) -> str:
        r = await self.http.post(self._api("/charging/stop"), headers=self._driver(), json={
            "country_code": CPO_PARTY[0], "party_id": CPO_PARTY[1], "session_id": self.facts["session_id"]})
        expect(r.status_code == 202, f"stop: HTTP {r.status_code} {r.text[:300]}")
        done = await self._command(r.json()["id"])
        expect(done["state"] == "ACCEPTED", f"STOP_SESSION ended {done['state']}: {done.get('result')}")
        await self._wait("the charger's StopTransaction", lambda: _flag(self.charger.stopped))
        session = await self._wait("the session COMPLETED at the eMSP", lambda: self._session("COMPLETED"))
        return f"STOP_SESSION ACCEPTED; session {session['status']} with {session['kwh']:g} kWh"

    async def cdr(self) -> str:
        sid = self.facts["session_id"]

        async def at_emsp():
            found = await self._get(self._api("/cdrs"), self._driver())
            return next((c for c in found["cdrs"] if c.get("session_id") == sid), None)

        mine = await self._wait("the CDR in the driver's history", at_emsp)
        cdr_id = mine["cdr_id"]
        async with self.emsp.platform.store.connect() as conn:
            emsp_cdr = await self.emsp.platform.store.cdrs.get(conn, *CPO_PARTY, cdr_id)
        cpo_cdrs = await self._get(f"{self.cpo.url}/admin/api/cdrs", self.cpo.admin)
        items = cpo_cdrs if isinstance(cpo_cdrs, list) else cpo_cdrs.get("cdrs", [])
        cpo_cdr = next((c for c in items if c["id"] == cdr_id), None)
        expect(cpo_cdr is not None and emsp_cdr is not None, "the CDR is missing at the CPO or the eMSP")
        expect(emsp_cdr == cpo_cdr, "the CDR at the eMSP differs from the CPO's")
        expect(cpo_cdr["total_energy"] == METER_KWH[-1],
               f"total_energy {cpo_cdr['total_energy']} kWh, the meter said {METER_KWH[-1]:g}")
        cost = (cpo_cdr["total_cost"]["excl_vat"], cpo_cdr["total_cost"].get("incl_vat"))
        expect(_price(mine.get("total_cost") or mine) == cost,
               f"the driver's CDR shows {mine.get('total_cost')}, the CPO billed {cpo_cdr['total_cost']}")
        expected = _price(self.facts["estimate"])
        expect(cost == expected, f"the CDR costs {cost}, the estimate for the same energy was {expected}")
        self.facts["cdr"] = cpo_cdr
        return f"{cpo_cdr['id']}: {cpo_cdr['total_energy']:g} kWh, {_money(cost, cpo_cdr['currency'])}, " \
               "equal at CPO and eMSP and to the estimate"

    async def invoice(self) -> str:
        cdr = self.facts["cdr"]
        ended = cdr["end_date_time"][:7]  # the month the CDR ended in (billing_time_zone is UTC here)
        invoice = await self._get(self._api(f"/invoices/{ended}"), self._driver())
        lines = invoice.get("lines") or []
        line = next((x for x in lines if x.get("cdr_id") == cdr["id"]), None)
        expect(line is not None, f"no invoice line for CDR {cdr['id']} in {ended}: {lines}")
        expect(len(lines) == 1, f"the new driver's invoice has {len(lines)} lines, not 1")
        excl, incl = (_decimal(line.get(k)) for k in ("excl_vat", "incl_vat"))
        vat = _decimal(line.get("vat"))
        want_excl, want_incl = _decimal(cdr["total_cost"]["excl_vat"]), _decimal(cdr["total_cost"]["incl_vat"])
        expect((excl, incl) == (want_excl, want_incl),
               f"invoice line {excl}/{incl}, the CDR {want_excl}/{want_incl}")
        expect(vat == incl - excl, f"VAT {vat} is not {incl} - {excl}")
        [total] = invoice.get("totals") or [{}]
        expect(tuple(_decimal(total.get(k)) for k in ("excl_vat", "vat", "incl_vat")) == (excl, vat, incl),
               f"the invoice totals {total} are not the one line's amounts")
        return f"{ended}: line {cdr['id']} excl. VAT {excl}, VAT {vat}, incl. VAT {incl} = the CDR"

    # ------------------------------------------------------------------ helpers

    async def _command(self, command_id: str) -> dict[str, Any]:
        async def final():
            record = await self._get(self._api(f"/commands/{command_id}"), self._driver())
            waiting = record["state"] == "REQUESTED" or (record["state"] == "ACCEPTED" and not record.get("result"))
            return None if waiting else record

        return await self._wait(f"the result of command {command_id[:8]}…", final)

    async def _session(self, status: str) -> dict[str, Any] | None:
        sid = self.facts["session_id"]
        r = await self.http.get(self._api(f"/sessions/{CPO_PARTY[0]}/{CPO_PARTY[1]}/{sid}"), headers=self._driver())
        if r.status_code != 200:
            return None
        session = r.json()
        return session if session.get("status") == status else None


async def _flag(event: asyncio.Event) -> bool:
    return event.is_set()


def _decimal(value: Any):
    from decimal import Decimal

    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _price(value: Any) -> tuple[float, float | None] | None:
    """(excl_vat, incl_vat) of a Price, or of a dict carrying one under a usual name."""
    if not isinstance(value, dict):
        return None
    for key in ("total_cost", "total", "cost", "price"):
        if isinstance(value.get(key), dict):
            return _price(value[key])
    if "excl_vat" in value:
        incl = value.get("incl_vat")
        return float(value["excl_vat"]), float(incl) if incl is not None else None
    return None


def _money(price: tuple[float, float | None] | None, currency: str | None) -> str:
    if price is None:
        return "?"
    excl, incl = price
    cur = f" {currency}" if currency else ""
    return f"{excl:.2f}{cur} excl. VAT" + (f", {incl:.2f}{cur} incl." if incl is not None else "")
