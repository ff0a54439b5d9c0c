"""Pull sync (we are the eMSP) against a stub CPO whose lists span three pages: every module
(tariffs, locations, sessions, CDRs) read by following Link headers, then incrementally by
date_from; a partner outage recorded on the partner and repaired by the periodic pull;
`--full` re-reads everything; the CLI's `partners sync`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

import pytest
from cpo_records import cdr, credit, location, session
from stub_cpo import MODULES, StubCpo

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.ocpi import sync
from harness import example_dir, wait_for

STUB_PARTY = ("NL", "STB")
T0 = "2024-05-01T10:00:00Z"


def tariff(tid: str) -> dict:
    t = json.loads((example_dir("2.2.1") / "tariff_1_simple_2hour.json").read_text())
    t.update(country_code=STUB_PARTY[0], party_id=STUB_PARTY[1], id=tid, last_updated=T0)
    return t


def catalogue() -> dict[str, list[dict]]:
    """Five objects per module: three pages of two. One of the CDRs is the credit of another."""
    cc, pid = STUB_PARTY
    cdrs = [cdr(cc, pid, f"CDR{i}", last_updated=T0) for i in range(4)]
    cdrs.append(credit(cdrs[0], cid="CDR0-C", last_updated=T0))
    return {
        "tariffs": [tariff(f"T{i}") for i in range(5)],
        "locations": [location(cc, pid, f"LOC{i}", last_updated=T0) for i in range(5)],
        "sessions": [session(cc, pid, f"S{i}", last_updated=T0) for i in range(5)],
        "cdrs": cdrs,
    }


@pytest.fixture
async def stub():
    cpo = await StubCpo(objects=catalogue()).start()
    yield cpo
    await cpo.stop()


async def emsp_with(make_instance, stub: StubCpo, **extra):
    inst = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",), extra=extra)
    await inst.add_partner("stub", "stub-to-emsp", [("CPO", *STUB_PARTY)], endpoints=stub.endpoints(),
                           outgoing_token=stub.token)
    return inst


async def partner(inst):
    async with inst.platform.store.connect() as conn:
        return await inst.platform.store.partners.by_name(conn, "stub")


async def held(inst, module: str) -> list[str]:
    store = inst.platform.store
    async with store.connect() as conn:
        if module in ("sessions", "cdrs"):
            items = await getattr(store, module).all(conn, STUB_PARTY)
        else:
            items = await getattr(store, module).all(conn, owners=[STUB_PARTY])
    return sorted(o["id"] for o in items)


async def test_full_pull_follows_link_over_three_pages_then_pulls_by_date_from(make_instance, stub):
    emsp = await emsp_with(make_instance, stub, pull_interval=0)
    # One more session, of another eMSP's driver: read but not kept, and said so on the partner.
    foreign = session(*STUB_PARTY, "S-OTHER", last_updated=T0)
    foreign["cdr_token"].update(country_code="NL", party_id="OTH")
    stub.objects["sessions"].append(foreign)
    seen: list[tuple[str, int]] = []

    counts = await sync.pull(emsp.platform, await partner(emsp), progress=lambda m, n: seen.append((m, n)))
    assert counts == {"tariffs": 5, "locations": 5, "sessions": 5, "cdrs": 5}
    for module in MODULES:
        requests = [path for m, path, _ in stub.requests if m == module]
        assert len(requests) == 3, (module, requests)  # 5 or 6 objects, 2 per page
        # Pages after the first are the Link URLs exactly as the partner gave them.
        assert all(f"cursor=c{2 * i}" in path for i, path in enumerate(requests[1:])), requests
    # The sessions sender requires date_from: a first pull asks from the epoch; others ask for all.
    assert stub.requested("sessions")[0] == {"date_from": sync.EPOCH}
    assert all("date_from" not in p for m in ("tariffs", "locations", "cdrs") for p in stub.requested(m)[:1])
    assert await held(emsp, "locations") == [f"LOC{i}" for i in range(5)]
    assert await held(emsp, "tariffs") == [f"T{i}" for i in range(5)]
    assert await held(emsp, "sessions") == [f"S{i}" for i in range(5)]
    assert await held(emsp, "cdrs") == ["CDR0", "CDR0-C", "CDR1", "CDR2", "CDR3"]
    assert await emsp.platform.received.credit_of(*STUB_PARTY, "CDR0") == "CDR0-C"
    assert seen[:4] == [("tariffs", 0), ("tariffs", 2), ("tariffs", 4), ("tariffs", 5)]
    assert ("cdrs", 5) in seen
    p = await partner(emsp)
    assert set(p.sync_state) == set(MODULES)
    assert "S-OTHER" in p.last_error and "NL/OTH" in p.last_error and "1 objects skipped" in p.last_error

    # Incremental: only what changed since the last pull (minus the clock margin) is asked for.
    stub.requests.clear()
    now = format_datetime(utcnow())
    stub.objects["locations"][3]["name"] = "Renamed"
    stub.objects["locations"][3]["last_updated"] = now
    stub.objects["cdrs"].append(cdr(*STUB_PARTY, "CDR9", last_updated=now))
    counts = await sync.pull(emsp.platform, p)
    assert counts == {"tariffs": 0, "locations": 1, "sessions": 0, "cdrs": 1}
    for module in MODULES:
        [params] = stub.requested(module)
        since = parse_datetime(params["date_from"])
        assert since == parse_datetime(p.sync_state[module])
        assert utcnow() - timedelta(minutes=6) < since < utcnow() - timedelta(minutes=4)
    async with emsp.platform.store.connect() as conn:
        loc = await emsp.platform.store.locations.get(conn, *STUB_PARTY, "LOC3")
    assert loc["name"] == "Renamed"
    assert "CDR9" in await held(emsp, "cdrs")
    assert (await partner(emsp)).last_error is None  # the skipped session was not read again

    # --full reads everything again, from the first page.
    stub.requests.clear()
    counts = await sync.pull(emsp.platform, await partner(emsp), full=True)
    assert counts == {"tariffs": 5, "locations": 5, "sessions": 5, "cdrs": 6}
    assert stub.requested("locations")[0] == {} and stub.requested("sessions")[0] == {"date_from": sync.EPOCH}


async def test_a_newer_pushed_session_is_not_overwritten_by_an_older_pulled_one(make_instance, stub):
    emsp = await emsp_with(make_instance, stub, pull_interval=0)
    newer = session(*STUB_PARTY, "S1", status="ACTIVE", kwh=4.0, last_updated="2024-05-01T11:00:00Z")
    await emsp.platform.received.session_put(*STUB_PARTY, "S1", newer)
    await sync.pull(emsp.platform, await partner(emsp))
    async with emsp.platform.store.connect() as conn:
        kept = await emsp.platform.store.sessions.get(conn, *STUB_PARTY, "S1")
    assert kept == newer


async def test_outage_is_recorded_and_the_periodic_pull_catches_up(make_instance, stub):
    stub.down = {"sessions", "cdrs"}
    emsp = await emsp_with(make_instance, stub, pull_interval=0.3)
    with pytest.raises(sync.PullFailed) as failed:
        await sync.pull(emsp.platform, await partner(emsp))
    assert failed.value.counts == {"tariffs": 5, "locations": 5, "sessions": 0, "cdrs": 0}
    assert set(failed.value.errors) == {"sessions", "cdrs"} and "HTTP 503" in failed.value.errors["sessions"]
    p = await partner(emsp)
    assert "sessions: " in p.last_error and "HTTP 503" in p.last_error
    assert set(p.sync_state) == {"tariffs", "locations"}  # the failed modules are read again next time
    assert await held(emsp, "sessions") == []

    # The partner comes back; the server's periodic pull (every 0.3 s here) brings everything in.
    stub.down.clear()

    async def caught_up():
        return await held(emsp, "cdrs") == ["CDR0", "CDR0-C", "CDR1", "CDR2", "CDR3"] and (await partner(emsp)).last_error is None

    await wait_for(caught_up, timeout=10)
    assert await held(emsp, "sessions") == [f"S{i}" for i in range(5)]
    assert stub.requested("sessions")[-1] == {"date_from": sync.EPOCH} or "cursor" in stub.requests[-1][1]
    assert emsp.platform.puller.rounds >= 1


async def test_no_periodic_pull_when_the_interval_is_zero(make_instance, stub):
    emsp = await emsp_with(make_instance, stub, pull_interval=0)
    await asyncio.sleep(0.5)
    assert stub.requests == [] and not emsp.platform.puller.enabled


async def _cli(db: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evroam.cli", *args, "--db", db, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", "EVROAM_COUNTRY_CODE": "DE", "EVROAM_PARTY_ID": "MSP"})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_partners_sync_cli(make_instance, stub):
    emsp = await emsp_with(make_instance, stub, pull_interval=0)
    db = emsp.settings().database_url
    stub.down = {"cdrs"}
    code, out, err = await _cli(db, "partners", "sync", "stub")
    err = " ".join(err.split())
    assert code == 1 and "cdrs: " in err and "HTTP 503" in err and "5 sessions" in err and "Traceback" not in err
    stub.down.clear()
    code, out, err = await _cli(db, "partners", "sync", "stub", "--full")
    assert code == 0, err
    assert "synced stub: 5 tariffs, 5 locations, 5 sessions, 5 cdrs" in " ".join(out.split())


async def test_a_pull_never_stores_objects_under_our_own_party(make_instance, stub):
    """A CPO partner whose stored roles name our party (a registration made before such claims
    were refused) serves a location of our party: it is not kept, ours stays as it was."""
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",), extra={"pull_interval": 0})
    await emsp.platform.locations.import_locations(location("DE", "MSP", "OURS"))
    async with emsp.platform.store.connect() as conn:
        before = await emsp.platform.store.locations.get(conn, "DE", "MSP", "OURS")
    await emsp.add_partner("stub", "stub-to-emsp", [("CPO", "de", "msp"), ("CPO", *STUB_PARTY)],
                           endpoints=stub.endpoints(), outgoing_token=stub.token)
    stub.objects = {m: [] for m in MODULES}
    stub.objects["locations"] = [location("DE", "MSP", "OURS", name="hijacked", last_updated=format_datetime(utcnow())),
                                 location(*STUB_PARTY, "LOC1", last_updated=T0)]
    await sync.pull(emsp.platform, await partner(emsp))
    assert await held(emsp, "locations") == ["LOC1"]
    async with emsp.platform.store.connect() as conn:
        assert await emsp.platform.store.locations.get(conn, "DE", "MSP", "OURS") == before
