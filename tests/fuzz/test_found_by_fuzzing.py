"""Bugs the fuzz tests found, each pinned by a plain example."""

from __future__ import annotations

import pytest

from evroam.ocpi.credentials import handshake
from harness import auth, httpx


@pytest.mark.parametrize("url", ["\x06http://partner.example/versions", "http://partner example/\x7f"])
async def test_credentials_with_an_unusable_url_are_answered_3001_and_change_nothing(instance, url):
    """A versions URL httpx cannot even parse (control characters) was an InternalError (HTTP
    500): it is the partner's API we are unable to use (3001), and nothing is registered."""
    partner, token_a = await handshake.invite(instance.platform, "p")
    credentials = {"token": "their-token-b", "url": url, "roles": [
        {"role": "EMSP", "party_id": "STB", "country_code": "DE", "business_details": {"name": "Stub"}}]}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{instance.url}/ocpi/2.2.1/credentials", json=credentials, headers=auth(token_a))
    assert r.status_code == 200, r.text
    assert r.json()["status_code"] == 3001 and "versions" in r.json()["status_message"]
    async with instance.platform.store.connect() as conn:
        stored = await instance.platform.store.partners.get(conn, partner.pk)
    assert not stored.registered and stored.roles == []


@pytest.mark.parametrize("name", ["ÉLODIE", "Ötzi Ω"])
async def test_a_second_driver_with_a_non_ascii_name_is_refused_not_a_server_error(instance, name):
    """Names compare case-insensitively; SQLite's lower() only folds ASCII, so a name with
    capital non-ASCII letters was not found as taken, and the insert broke the unique index
    (HTTP 500)."""
    admin = {"Authorization": "Bearer admin-secret"}
    async with httpx.AsyncClient(base_url=instance.url, headers=admin) as http:
        assert (await http.post("/admin/api/drivers", json={"name": name})).status_code == 201
        again = await http.post("/admin/api/drivers", json={"name": name})
        assert again.status_code == 400 and "exists already" in again.json()["detail"]
        assert [d["name"] for d in (await http.get("/admin/api/drivers")).json()] == [name]


async def test_a_boolean_credit_limit_is_refused_not_read_as_zero(instance):
    """`"credit_limit": false` was read as 0.00 (a driver who can never charge), `true` as 1.00."""
    admin = {"Authorization": "Bearer admin-secret"}
    async with httpx.AsyncClient(base_url=instance.url, headers=admin) as http:
        r = await http.post("/admin/api/drivers", json={"name": "ann", "credit_limit": False})
        assert r.status_code == 422 and any(line.startswith("credit_limit") for line in r.json()["detail"])
        assert (await http.get("/admin/api/drivers")).json() == []
        assert (await http.post("/admin/api/drivers", json={"name": "ann", "credit_limit": 50})).status_code == 201
        r = await http.patch("/admin/api/drivers/ann", json={"credit_limit": True})
        assert r.status_code == 422
        assert (await http.get("/admin/api/drivers/ann")).json()["credit_limit"] == "50.00"


def test_datetimes_before_the_year_1000_are_formatted_with_four_digit_years():
    """strftime's %Y drops leading zeros: year 1 came out as '1-01-01T00:00:00Z', which our own
    validation then refused (a 1.6 StartTransaction dated 0001-01-01 was answered InternalError)."""
    from datetime import UTC, datetime

    from evroam.model.common import format_datetime, parse_datetime

    for value in (datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)):
        text = format_datetime(value)
        assert text[:4] == f"{value.year:04d}" and parse_datetime(text) == value


@pytest.mark.parametrize("value", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-12:00"])
def test_a_datetime_whose_offset_leaves_the_calendar_is_a_value_error(value):
    """Converting to UTC overflowed (OverflowError, which validation does not catch)."""
    from evroam.model.common import parse_datetime

    with pytest.raises(ValueError, match="out of"):
        parse_datetime(value)


async def test_an_ocpi_object_dated_out_of_the_calendar_is_answered_2001(instance):
    await instance.add_partner("cpo", "cpo-token", [("CPO", "DE", "CPO")])
    tariff = {"country_code": "DE", "party_id": "CPO", "id": "T1", "currency": "EUR",
              "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
              "last_updated": "0001-01-01T00:30:00+01:00"}
    async with httpx.AsyncClient(headers=auth("cpo-token")) as http:
        r = await http.put(f"{instance.url}/ocpi/2.2.1/emsp/tariffs/DE/CPO/T1", json=tariff)
        assert r.status_code == 400 and r.json()["status_code"] == 2001, r.text
        assert "last_updated" in r.json()["status_message"]
        assert (await http.get(f"{instance.url}/ocpi/2.2.1/emsp/tariffs/DE/CPO/T1")).status_code == 404


async def test_a_frame_with_a_huge_message_type_does_not_stop_the_ocpp_log(instance):
    """The message type of a frame went into the log as it was: 2**63 overflowed the database's
    integer, and the batch holding it was retried for ever (no frame of any charger logged any
    more, and the queue growing)."""
    from live import CHARGER_PASSWORD, populate
    from test_ocpp_fuzz import RawCharger

    await populate(instance)
    charger = RawCharger(instance.ocpp_url, "FUZZ-16", "1.6")
    await charger.connect()
    try:
        await charger.send('[9223372036854775808, "x", "Heartbeat", {}]')
        assert (await charger.call("Heartbeat", {}))[0] == 3
    finally:
        await charger.close()
    assert CHARGER_PASSWORD
    entries = await instance.platform.ocpp_log.query(charger_id="FUZZ-16")
    assert [e.message_type for e in entries if e.direction == "in" and "9223372036854775808" in e.frame] == [None]
    assert any(e.action == "Heartbeat" and e.message_type == 3 for e in entries)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    from sqlalchemy import text

    from evroam.store import Store
    from harness import postgres_url

    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else postgres_url()
    if not url:
        pytest.skip("needs EVROAM_TEST_POSTGRES_URL")
    s = Store(url)

    async def drop_all():
        async with s.engine.begin() as conn:
            names = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")))
            for table in list(names.scalars()):
                await conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))

    if s.dialect == "postgresql":
        await drop_all()
    await s.migrate()
    yield s
    if s.dialect == "postgresql":
        await drop_all()
    await s.close()


async def test_any_frame_a_charger_sends_can_be_logged(store):
    """A NUL character (PostgreSQL text cannot hold one) or an out-of-range message type failed
    the whole batch of log entries it was in, again at every retry."""
    from evroam.model.common import utcnow
    from evroam.store.ocpp_log import LogEntry

    entries = [LogEntry("CP-1", utcnow(), "in", 2**63, "a\x00b", "Heart\x00beat", '[2, "a\x00b", "Heartbeat", {}]'),
               LogEntry("CP-1", utcnow(), "in", 2, "id-2", "Heartbeat", '[2, "id-2", "Heartbeat", {}]')]
    async with store.begin() as conn:
        await store.ocpp_log.append(conn, entries)
    async with store.connect() as conn:
        stored = await store.ocpp_log.query(conn, charger_id="CP-1")
    assert [(e.message_type, e.unique_id, e.frame) for e in stored] == [
        (None, "a?b", '[2, "a\\u0000b", "Heartbeat", {}]'), (2, "id-2", '[2, "id-2", "Heartbeat", {}]')]
