"""Paging parameters on every list endpoint (OCPI senders, driver API, admin API): whole numbers
in ASCII digits, not negative, not beyond what a database can count. Anything else is answered
in the API's own error form (OCPI 2001 with HTTP 400 in an envelope; the driver API's and the
admin API's 422), never with a 500; an offset past the last object gives an empty page with the
right X-Total-Count and no Link. Unreadable date_from/date_to are 2001 too. On SQLite and (when
EVROAM_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from evroam.demo import load_demo
from evroam.model.common import parse_datetime
from harness import Instance, auth, httpx, postgres_url

TOKEN = "partner-token"
OCPI = "/ocpi/2.2.1"
SENDERS = {  # list endpoint -> objects the partner sees there
    f"{OCPI}/cpo/locations": 3, f"{OCPI}/cpo/tariffs": 2, f"{OCPI}/cpo/sessions": 4, f"{OCPI}/cpo/cdrs": 4,
    f"{OCPI}/emsp/tokens": 2,  # alice's card and app token
}
HUGE = str(10**30)
MAX_PAGING_VALUE = 2**63 - 1  # the largest row count of a SQL database (64-bit signed)
DATE_FROM = "2000-01-01T00:00:00Z"  # required by the sessions sender


@pytest.fixture(params=["sqlite", "postgresql"])
async def platform(request, tmp_path):
    """Us (NL/EVR, CPO and eMSP) with the demo locations and tariffs, driver alice
    (a card and an app token), four sessions and four CDRs of partner DE/MSP's drivers, and
    that partner."""
    url = None
    if request.param == "postgresql":
        if not postgres_url():
            pytest.skip("the PostgreSQL variant needs EVROAM_TEST_POSTGRES_URL")
        url = await fresh_database(postgres_url(), "paging")
    inst = Instance(db_path=tmp_path / "evroam.db", database_url=url)
    await inst.start()
    assert await load_demo(inst.platform)
    await inst.add_partner("partner", TOKEN, [("EMSP", "DE", "MSP"), ("CPO", "DE", "ABC")])
    inst.driver_key = (await inst.platform.drivers.add("alice", token_uid="ALICE-1")).api_key
    store = inst.platform.store
    async with store.begin() as conn:
        for i in range(4):
            stamp = parse_datetime(f"2024-01-0{i + 1}T00:00:00Z")
            for repo in (store.sessions, store.cdrs):
                await repo.put(conn, "NL", "EVR", f"X{i}", {"id": f"X{i}"}, stamp, ("DE", "MSP"))
    yield inst
    await inst.close()
    if url is not None:
        await drop_database(url)


async def fresh_database(url: str, suffix: str) -> str:
    """An empty database of its own beside the one of `url` (other test files use that one in
    parallel), made anew."""
    base = make_url(url)
    name = f"{base.database}_{suffix}"
    await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    await _admin(make_url(url), f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)',
                 database="postgres")


async def _admin(url, *statements: str, database: str | None = None) -> None:
    engine = create_async_engine(url.set(database=database) if database else url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def ocpi_get(inst, path: str, **params) -> httpx.Response:
    if path.endswith("/sessions"):
        params.setdefault("date_from", DATE_FROM)
    async with httpx.AsyncClient() as http:
        return await http.get(inst.url + path, params=params, headers=auth(TOKEN))


def assert_2001(r: httpx.Response, *words: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status_code"] == 2001 and "timestamp" in body, body
    for word in words:
        assert word in body["status_message"], body


@pytest.mark.parametrize("path", list(SENDERS))
async def test_ocpi_senders(platform, path):
    total = SENDERS[path]
    r = await ocpi_get(platform, path)
    assert r.status_code == 200 and len(r.json()["data"]) == total and r.headers["x-total-count"] == str(total)

    for offset in (str(total), "1000", str(MAX_PAGING_VALUE), "0" * 30 + "5"):  # past the end: an empty page
        r = await ocpi_get(platform, path, offset=offset)
        assert r.status_code == 200 and r.json()["status_code"] == 1000, r.text
        assert r.json()["data"] == [] and r.headers["x-total-count"] == str(total) and "link" not in r.headers

    r = await ocpi_get(platform, path, offset="00", limit="1")  # a first page still links on
    assert len(r.json()["data"]) == 1 and "offset=1&limit=1" in r.headers["link"]

    for name in ("offset", "limit"):
        assert_2001(await ocpi_get(platform, path, **{name: HUGE}), name, "too large")
        assert_2001(await ocpi_get(platform, path, **{name: str(MAX_PAGING_VALUE + 1)}), name, "too large")
        assert_2001(await ocpi_get(platform, path, **{name: "9" * 5000}), name, "too large")
        assert_2001(await ocpi_get(platform, path, **{name: "-1"}), name, "negative")
        for odd in ("abc", "1.5", "1_0", "１２", "\u0661\u0662", " 1", "0x10", "1e3"):
            assert_2001(await ocpi_get(platform, path, **{name: odd}), name, "whole number")

    for name in ("date_from", "date_to"):
        for odd in ("2024-13-01T00:00:00Z", "yesterday", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                    "2024-01-01T00:00:00+99:00", "２０２４-01-01T00:00:00Z", "9" * 30):
            assert_2001(await ocpi_get(platform, path, **{name: odd}), name)


DRIVER_LISTS = ["/driver/v1/sessions", "/driver/v1/cdrs", "/driver/v1/sessions?active=true"]


@pytest.mark.parametrize("path", DRIVER_LISTS)
async def test_driver_api(platform, path):
    headers = {"Authorization": f"Bearer {platform.driver_key}"}
    key = path.split("/")[-1].split("?")[0]
    async with httpx.AsyncClient(base_url=platform.url, headers=headers) as http:
        r = await http.get(path, params={"offset": str(MAX_PAGING_VALUE)})
        assert r.status_code == 200 and r.json() == {key: []}
        for name, value in [("offset", HUGE), ("offset", str(MAX_PAGING_VALUE + 1)), ("offset", "-1"),
                            ("limit", HUGE), ("limit", "-1"), ("limit", "0"), ("offset", "abc"), ("limit", "abc")]:
            r = await http.get(path, params={name: value})
            assert r.status_code == 422, (name, value, r.text)
            body = r.json()
            assert body["error"] == "invalid" and any(line.startswith(f"{name}:") for line in body["detail"]), body


ADMIN_LISTS = ["/admin/api/sessions", "/admin/api/cdrs", "/admin/api/ocpp-log", "/admin/api/load/profiles",
               "/admin/api/drivers/alice/sessions", "/admin/api/drivers/alice/cdrs", "/admin/api/disputes"]


@pytest.mark.parametrize("path", ADMIN_LISTS)
async def test_admin_api(platform, path):
    async with httpx.AsyncClient(base_url=platform.url, headers={"Authorization": "Bearer admin-secret"}) as http:
        r = await http.get(path, params={"limit": "1"})
        assert r.status_code == 200, r.text
        for value in (HUGE, str(MAX_PAGING_VALUE + 1), "-1", "0", "abc"):
            r = await http.get(path, params={"limit": value})
            assert r.status_code == 422, (value, r.text)
            assert any(line.startswith("limit:") for line in r.json()["detail"]), r.json()
