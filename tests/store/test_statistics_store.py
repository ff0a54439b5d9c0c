"""The statistics' facts and their sums on SQLite and PostgreSQL: each CDR's fact counted once,
the sums kept with the facts equal to sums computed again from them and to the facts themselves
(money exact), per charger from the facts of days or from whole months' sums, connections as
uptime."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from test_store import store  # noqa: F401 - the fixture (SQLite and PostgreSQL)

from evroam.model.common import parse_datetime

T0 = parse_datetime("2025-11-20T08:00:00Z")


def fact(i: int, rng: random.Random) -> dict:
    start = T0 + timedelta(hours=rng.randrange(0, 24 * 80))
    seconds = rng.randrange(600, 7200)
    party = rng.choice([("DE", "MSP"), ("NL", "EVR"), (None, None)])
    excl = rng.randrange(0, 5_000_000)
    return {"session_id": f"S{i}", "charger_id": f"CP-{rng.randrange(5)}", "evse_number": 1, "location_id": "L",
            "emsp_country_code": party[0], "emsp_party_id": party[1], "started_at": start,
            "ended_at": start + timedelta(seconds=seconds), "day": start.date().isoformat(),
            "hour_of_week": start.weekday() * 24 + start.hour, "seconds": float(seconds),
            "kwh": round(rng.random() * 50, 3), "cost_excl_vat": excl,
            "cost_incl_vat": None if i % 7 == 0 else excl * 121 // 100, "currency": rng.choice(["EUR", "EUR", "SEK"])}


async def test_sums_kept_with_the_facts_equal_sums_made_again(store):  # noqa: F811
    rng = random.Random(3)
    facts = [fact(i, rng) for i in range(400)]
    stats = store.statistics
    async with store.begin() as conn:
        for f in facts:
            assert await stats.add_fact(conn, f)
        assert not await stats.add_fact(conn, facts[0])  # once per CDR

    async def everything():
        async with store.connect() as conn:
            return (await stats.per_day(conn, "2025-01-01", "2026-12-31"),
                    await stats.per_hour_of_week(conn, "2025-01-01", "2026-12-31"),
                    await stats.per_party(conn, "2025-01-01", "2026-12-31"),
                    await stats.per_charger(conn, "2025-11-25", "2026-01-20"),
                    await stats.per_charger(conn, "", "", months=["2025-12", "2026-01"]),
                    await stats.day_totals(conn, facts[1]["day"]))

    kept = await everything()
    async with store.begin() as conn:
        await stats.rebuild_sums(conn)
    again = await everything()
    assert kept[:3] == again[:3] and kept[5] == again[5]
    for i in (3, 4):
        assert {k: (v[0], round(v[1], 3), round(v[2], 3)) for k, v in kept[i].items()} == \
            {k: (v[0], round(v[1], 3), round(v[2], 3)) for k, v in again[i].items()}
    # against the facts themselves: sessions and money exact
    per_day, _how, per_party, per_charger, per_charger_months, _ = kept
    in_months = [f for f in facts if f["day"][:7] in ("2025-12", "2026-01")]
    assert sum(v[0] for v in per_charger_months.values()) == len(in_months)
    assert sum(v[2] for v in per_charger_months.values()) == pytest.approx(sum(f["kwh"] for f in in_months))
    assert sum(n for _, n, _ in per_day) == len(facts)
    for cc, pid, currency, n, excl, incl in per_party:
        mine = [f for f in facts if (f["emsp_country_code"], f["emsp_party_id"], f["currency"]) == (cc, pid, currency)]
        assert n == len(mine) and excl == sum(f["cost_excl_vat"] for f in mine)
        known = [f["cost_incl_vat"] for f in mine if f["cost_incl_vat"] is not None]
        assert incl == (sum(known) if known else None)
    inside = [f for f in facts if "2025-11-25" <= f["day"] <= "2026-01-20"]
    for cid, (n, seconds, kwh) in per_charger.items():
        mine = [f for f in inside if f["charger_id"] == cid]
        assert n == len(mine) and seconds == pytest.approx(sum(f["seconds"] for f in mine))
        assert kwh == pytest.approx(sum(f["kwh"] for f in mine))


async def test_connections_give_uptime(store):  # noqa: F811
    stats = store.statistics
    async with store.begin() as conn:
        await stats.connected(conn, "CP-1", "node", T0)
        await stats.disconnected(conn, "CP-1", T0 + timedelta(hours=2))
        await stats.connected(conn, "CP-1", "node", T0 + timedelta(hours=3))
        await stats.connected(conn, "CP-1", "other", T0 + timedelta(hours=4))  # moved: the open one closes
        await stats.connected(conn, "CP-2", "node", T0 - timedelta(days=1))
    async with store.connect() as conn:
        seconds = await stats.connected_seconds(conn, T0 + timedelta(hours=1), T0 + timedelta(hours=5))
    # CP-1: 1 h (of its first connection) + 1 h + 1 h (still open); CP-2: the whole 4 h
    assert seconds == {"CP-1": pytest.approx(3 * 3600), "CP-2": pytest.approx(4 * 3600)}
