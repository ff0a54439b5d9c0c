"""The back office over HTTP (no browser): accounts from the command line, signing in (cookies,
throttling, where it leads), the CSRF token and the roles on every state-changing route, the
statistics against the CDRs they come from (and their CSV), live events on the event stream, and
every page answering with one <h1>."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
import sys

import httpx
import orjson
from browser import CHARGER, DRIVER_TAG, EVSE_2, LOCATION, USERS, sign_in
from charge_points import PASSWORD, Profiled16, charge_point, iso, past
from ocpp.v16 import call

from evroam.demo import load_demo
from evroam.web.pages import ROUTERS
from harness import wait_for

PAGES = ["/", "/map", "/chargers", "/sessions", "/sessions?state=past", "/cdrs", "/tariffs", "/partners", "/sites",
         "/drivers", "/statistics", "/statistics?period=12m", "/statistics?period=7d", "/log", "/audit", f"/chargers/{CHARGER}",
         "/tariffs/DC-1", f"/sites/{LOCATION}"]


async def network(make_instance, **extra):
    inst = await make_instance(extra={"session_push_interval": 0, **extra})
    p = inst.platform
    assert await load_demo(p)
    for name, (role, password) in USERS.items():
        await p.users.add(name, role, password)
    await p.chargers.add(CHARGER, password=PASSWORD, location_id=LOCATION, evses={1: "EVR-GENT-1-E3", 2: EVSE_2})
    await p.sites.set_site(LOCATION, capacity_kw=50.0)
    return inst


def cli(db, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evroam", *args, "--db", f"sqlite+aiosqlite:///{db}"],
                          input=stdin, capture_output=True, text=True, timeout=60)


async def test_accounts_from_the_command_line(tmp_path):
    db = tmp_path / "evroam.db"
    done = cli(db, "users", "add", "alice", "--role", "operator", "--password-stdin", stdin="alice-pass-1\n")
    assert done.returncode == 0, done.stderr
    assert cli(db, "users", "add", "alice", "--role", "viewer", "--password-stdin", stdin="x" * 12).returncode == 1
    bad = cli(db, "users", "add", "bob", "--role", "king", "--password-stdin", stdin="bob-pass-12\n")
    assert bad.returncode == 1 and "role 'king'" in bad.stderr
    short = cli(db, "users", "add", "bob", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "8 to 256" in short.stderr
    listed = orjson.loads(cli(db, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "operator")]
    # the password is kept only as a salted scrypt hash
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("scrypt$") and "alice-pass-1" not in stored
    assert cli(db, "users", "passwd", "alice", "--password-stdin", stdin="alice-pass-2\n").returncode == 0
    assert cli(db, "users", "role", "alice", "viewer").returncode == 0
    assert cli(db, "users", "remove", "alice").returncode == 0
    assert cli(db, "users", "remove", "alice").returncode == 1
    with engine.connect() as conn:
        actions = conn.execute(text("SELECT actor, action, target FROM audit_log ORDER BY pk")).all()
    engine.dispose()
    assert [tuple(a) for a in actions] == [("cli", "user.add", "alice"), ("cli", "user.passwd", "alice"),
                                           ("cli", "user.role", "alice"), ("cli", "user.remove", "alice")]


async def test_sign_in_cookie_redirects_and_sign_out(make_instance):
    inst = await network(make_instance)
    async with httpx.AsyncClient(base_url=inst.url) as client:
        first = await client.get("/chargers?q=CP")
        assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Fchargers%3Fq%3DCP"
        page = await client.get(first.headers["location"])
        assert 'for="username">Username<' in page.text and 'for="password">Password<' in page.text
        assert ">Sign in</button>" in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert (await client.post("/login", data={"username": "olly", "password": USERS["olly"][1]})).status_code \
            == 403  # no CSRF token: refused before the password is looked at
        signed = await client.post("/login", data={"csrf": token, "username": "olly", "password": USERS["olly"][1],
                                                   "next": "/chargers?q=CP"})
        assert signed.status_code == 303 and signed.headers["location"] == "/chargers?q=CP"
        cookie = signed.headers["set-cookie"]
        assert "evroam_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http here
        assert (await client.get("/chargers?q=CP")).status_code == 200
        csrf = re.search(r'data-csrf="([^"]+)"', (await client.get("/")).text).group(1)
        out = await client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert (await client.get("/")).status_code == 303
    # a "next" that leaves the site is not followed
    async with httpx.AsyncClient(base_url=inst.url) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        signed = await client.post("/login", data={"csrf": token, "username": "vic", "password": USERS["vic"][1],
                                                   "next": "//elsewhere.example/"})
        assert signed.headers["location"] == "/"


async def test_https_public_url_makes_cookies_secure(make_instance):
    inst = await network(make_instance, public_url="https://cpo.example")
    async with httpx.AsyncClient(base_url=inst.url) as client:
        page = await client.get("/login")
        assert "Secure" in page.headers["set-cookie"]


async def test_wrong_passwords_are_throttled_per_address(make_instance):
    inst = await network(make_instance, throttle_failures=3, throttle_delay=30)
    async with httpx.AsyncClient(base_url=inst.url) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        for _ in range(3):
            wrong = await client.post("/login", data={"csrf": token, "username": "olly", "password": "guess-1234"})
            assert wrong.status_code == 200 and "wrong user name or password" in wrong.text
        right = await client.post("/login", data={"csrf": token, "username": "olly", "password": USERS["olly"][1]})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        assert "evroam_session" not in right.headers.get("set-cookie", "")
        metrics = (await client.get("/metrics")).text
    assert re.search(r'^evroam_auth_failures_total\{door="web"\} 3.0$', metrics, re.MULTILINE)
    entries = await inst.platform.audit.entries(action="sign-in")
    assert [e.ok for e in entries] == [False, False, False]


def _post_routes() -> list[str]:
    paths = []
    for router in ROUTERS:
        for route in router.routes:
            if "POST" in getattr(route, "methods", ()) and route.path != "/login":
                paths.append(route.path.replace("{charger_id}", CHARGER).replace("{command}", "reset")
                             .replace("{name}", "nobody").replace("{site_id}", LOCATION)
                             .replace("{driver_id}", "nobody").replace("{change}", "block"))
    return paths


async def test_every_state_changing_route_needs_the_csrf_token_and_a_role_that_may_act(make_instance):
    inst = await network(make_instance)
    routes = _post_routes()
    assert len(routes) >= 6 and f"/chargers/{CHARGER}/reset" in routes and "/logout" in routes
    olly, vic = await sign_in(inst.url, "olly"), await sign_in(inst.url, "vic")
    try:
        for path in routes:
            for data in ({}, {"csrf": "not-the-token"}):
                reply = await olly.post(path, data=data)
                assert reply.status_code == 403 and "CSRF" in reply.text, path
            if path != "/logout":
                reply = await vic.post(path, data={"csrf": vic.csrf})
                assert reply.status_code == 403 and "viewer" in reply.text, path
                reply = await vic.post(path, headers={"X-CSRF-Token": vic.csrf})
                assert reply.status_code == 403, path
        # an operator may not rotate a partner's tokens (admins only)
        reply = await olly.post("/partners/nobody/rotate", data={"csrf": olly.csrf})
        assert reply.status_code == 403 and "only admins" in reply.text
        # nothing was done: the site is as it was, nothing audited but the sign-ins
        assert (await inst.platform.sites.get(LOCATION)).capacity_kw == 50.0
        assert {e.action for e in await inst.platform.audit.entries()} == {"user.add", "sign-in"}
        # with the token, an operator acts (the charger is offline: said clearly, and audited)
        reply = await olly.post(f"/chargers/{CHARGER}/reset", data={"csrf": olly.csrf, "kind": "soft"})
        assert reply.status_code == 409 and "not connected" in reply.text
        reply = await olly.post(f"/sites/{LOCATION}", data={"csrf": olly.csrf, "capacity_kw": "44", "phases": "3"},
                                headers={"HX-Request": "true"})
        assert reply.status_code == 200 and f"Site {LOCATION} changed" in reply.text
        assert (await inst.platform.sites.get(LOCATION)).capacity_kw == 44.0
        bad = await olly.post(f"/sites/{LOCATION}", data={"csrf": olly.csrf, "capacity_kw": "lots"})
        assert bad.status_code == 400 and "capacity_kw: a number" in bad.text
        audited = [(e.actor, e.action, e.ok) for e in await inst.platform.audit.entries()
                   if e.action not in ("sign-in", "user.add")]
        assert audited == [("olly", "site.change", False), ("olly", "site.change", True),
                           ("olly", "charger.reset", False)]
    finally:
        await olly.aclose()
        await vic.aclose()


async def test_a_removed_user_is_signed_out_at_once(make_instance):
    inst = await network(make_instance)
    olly = await sign_in(inst.url, "olly")
    try:
        assert (await olly.get("/")).status_code == 200
        await inst.platform.users.set_password("olly", "a-new-password-1")
        assert (await olly.get("/")).status_code == 303
        olly2 = await sign_in(inst.url, "olly", "a-new-password-1")
        await inst.platform.users.remove("olly")
        assert (await olly2.get("/")).status_code == 303
        await olly2.aclose()
    finally:
        await olly.aclose()


async def test_every_page_answers_with_one_heading(make_instance):
    inst = await network(make_instance)
    client = await sign_in(inst.url, "vic")
    try:
        for path in PAGES:
            reply = await client.get(path)
            assert reply.status_code == 200, (path, reply.text[:500])
            assert reply.text.count("<h1") == 1, path
            assert reply.headers["x-frame-options"] == "DENY" and "default-src 'self'" in \
                reply.headers["content-security-policy"]
        for missing in ("/chargers/NOPE", "/sessions/NOPE", "/cdrs/NL/EVR/NOPE", "/tariffs/NOPE", "/sites/NOPE"):
            reply = await client.get(missing)
            assert reply.status_code == 404 and reply.text.count("<h1") == 1, missing
        # the pages load nothing from elsewhere: every script and style is ours
        page = (await client.get("/")).text
        for src in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page):
            assert src.startswith("/backoffice-assets/"), src
            assert (await client.get(src)).status_code == 200
    finally:
        await client.aclose()


async def test_statistics_come_from_the_cdrs(make_instance):
    inst = await network(make_instance)
    p = inst.platform
    await p.drivers.add("Dana Driver", token_uid=DRIVER_TAG)
    t0 = past(120)
    async with charge_point(inst, CHARGER, cls=Profiled16) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        for minutes, kwh in ((0, 20), (40, 12)):
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=DRIVER_TAG, meter_start=0,
                                                        timestamp=iso(t0 + _min(minutes))))
            await cp.call(call.StopTransaction(meter_stop=kwh * 1000, timestamp=iso(t0 + _min(minutes + 30)),
                                               transaction_id=start.transaction_id, reason="Local"))
        await p.availability.flush()
    async with p.store.connect() as conn:
        cdrs = await p.store.cdrs.all(conn, ("NL", "EVR"))
    assert sorted(c["total_energy"] for c in cdrs) == [12.0, 20.0]
    # DC-1: 0.50 + 0.25/kWh, parking 2.00/h: 5.50 and 3.50 excl. VAT
    assert sorted(c["total_cost"]["excl_vat"] for c in cdrs) == [3.5, 5.5]
    client = await sign_in(inst.url, "vic")
    try:
        day = t0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Brussels")).date().isoformat()
        energy = list(csv.DictReader(io.StringIO((await client.get("/statistics/energy-per-day.csv?period=7d")).text)))
        assert len(energy) == 7
        by_day = {r["day"]: r for r in energy}
        assert sum(float(r["kwh"]) for r in energy) == 32.0 and sum(int(r["sessions"]) for r in energy) == 2
        assert float(by_day[day]["kwh"]) + float(by_day.get(_next_day(day), {"kwh": 0})["kwh"]) == 32.0
        revenue = list(csv.DictReader(io.StringIO((await client.get("/statistics/revenue.csv?period=7d")).text)))
        assert revenue == [{"partner": "our drivers", "party": "NL/EVR", "currency": "EUR", "sessions": "2",
                            "revenue_excl_vat": "9.00", "revenue_incl_vat": "10.00"}]  # 6.10 + 3.90
        chargers = list(csv.DictReader(io.StringIO((await client.get("/statistics/chargers.csv?period=7d")).text)))
        assert [r["charger"] for r in chargers] == [CHARGER] and chargers[0]["sessions"] == "2"
        assert 0 < float(chargers[0]["utilisation"]) <= 1 and 0 < float(chargers[0]["uptime"]) <= 1
        grid = list(csv.reader(io.StringIO((await client.get("/statistics/hour-of-week.csv?period=7d")).text)))
        assert grid[0][:2] == ["day", "00h"] and len(grid) == 8
        assert sum(int(v) for row in grid[1:] for v in row[1:]) == 2
        assert (await client.get("/statistics/nothing.csv")).status_code == 400
        assert (await client.get("/statistics?period=5y")).status_code == 400
        months = list(csv.DictReader(io.StringIO((await client.get("/statistics/chargers.csv?period=12m")).text)))
        assert [(r["charger"], r["sessions"], r["kwh"]) for r in months] == \
            [(r["charger"], r["sessions"], r["kwh"]) for r in chargers]  # the months' sums say what the facts say
        page = (await client.get("/")).text
        assert "Recent faults" in page and "Chargers online" in page
    finally:
        await client.aclose()


def _min(minutes: float):
    from datetime import timedelta

    return timedelta(minutes=minutes)


def _next_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


async def _events(response: httpx.Response, out: list[tuple[str, dict]]) -> None:
    kind = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind:
            out.append((kind, orjson.loads(line[6:])))


async def test_live_events_reach_the_event_stream(make_instance):
    inst = await network(make_instance)
    client = await sign_in(inst.url, "vic")
    async with httpx.AsyncClient(base_url=inst.url) as anonymous:
        assert (await anonymous.get("/live")).status_code == 401  # an event stream is not redirected
    seen: list[tuple[str, dict]] = []
    try:
        async with client.stream("GET", "/live?kinds=evse,charger") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            reader = asyncio.create_task(_events(stream, seen))
            await asyncio.sleep(0.2)
            async with charge_point(inst, CHARGER, cls=Profiled16) as cp:
                await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
                await cp.call(call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted"))
                await wait_for(lambda: ("evse", {"location_id": LOCATION, "evse_uid": EVSE_2, "status": "OUTOFORDER",
                                                 "class": "bad", "charger_id": CHARGER}) in
                               [(k, {x: d.get(x) for x in ("location_id", "evse_uid", "status", "class",
                                                           "charger_id")}) for k, d in seen])
            assert ("charger", {"charger_id": CHARGER, "online": True}) in seen
            await wait_for(lambda: ("charger", {"charger_id": CHARGER, "online": False}) in seen)
            reader.cancel()
    finally:
        await client.aclose()
    # the fault is in the overview's recent faults
    await inst.platform.availability.flush()
    faults = (await inst.platform.statistics.overview({}))["faults"]
    assert [(f.charger_id, f.evse_uid, f.status) for f in faults] == [(CHARGER, EVSE_2, "OUTOFORDER")]
