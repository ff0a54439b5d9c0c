"""Load management plans only what it manages: sessions and boots at chargers outside every
site do not start planning rounds (a reconnect storm of thousands of chargers must not make the
load manager read the registry once per charger); the same events at a site's charger do."""

from __future__ import annotations

import asyncio

from charge_points import PASSWORD

from evroam.demo import load_demo
from harness import wait_for


async def test_only_chargers_of_a_site_start_planning_rounds(make_instance):
    inst = await make_instance("cpo", extra={"load_replan_delay": 0.01, "load_replan_seconds": 3600})
    platform = inst.platform
    assert await load_demo(platform)
    await platform.chargers.add("CP-SITE", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    await platform.chargers.add("CP-FREE", password=PASSWORD, location_id="EVR-AMS-1", evses={1: "EVR-AMS-1-E1"})
    await platform.sites.set_site("EVR-GENT-1", capacity_kw=22)
    load = platform.load
    await wait_for(lambda: load.rounds > 0 and "CP-SITE" in load._site_of, timeout=10)

    async def rounds_after(topic: str, charger_id: str, **data) -> int:
        await asyncio.sleep(0.2)  # let rounds already under way finish
        before = load.rounds
        platform.bus.publish(topic, charger_id=charger_id, **data)
        await asyncio.sleep(0.3)
        return load.rounds - before

    session = {"session_id": "S-1", "transaction_id": "1", "evse_number": 1, "connector_number": 1}
    assert await rounds_after("session.started", "CP-FREE", **session) == 0
    assert await rounds_after("session.completed", "CP-FREE", **session) == 0
    assert await rounds_after("charger.booted", "CP-FREE", status="Accepted") == 0
    assert await rounds_after("session.started", "CP-SITE", **session) >= 1
    assert await rounds_after("charger.booted", "CP-SITE", status="Accepted") >= 1
    # A registry change can make a charger a member: every site is planned again.
    assert await rounds_after("charger.changed", "CP-FREE") >= 1


async def test_a_session_start_at_a_charger_whose_membership_changed_unheard_is_planned(make_instance):
    """A charger was added to a site by another process and the change has not reached the load
    manager yet (its picture says: outside every site). A session starting there is not skipped:
    the load manager confirms the membership from the database and plans the site."""
    inst = await make_instance("cpo", extra={"load_replan_delay": 0.01, "load_replan_seconds": 3600,
                                             "change_poll_seconds": 1.0})
    platform = inst.platform
    assert await load_demo(platform)
    await platform.chargers.add("CP-NEW", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    load = platform.load
    await wait_for(lambda: load.rounds > 0, timeout=10)
    assert "CP-NEW" not in load._site_of  # no site yet
    async with platform.store.begin() as conn:  # the site, as another process stores it (unheard here)
        from evroam.services.sites import SiteRecord

        await platform.sites.repo.put(conn, SiteRecord(
            id="EVR-GENT-1", location_id="EVR-GENT-1", capacity_kw=22.0, capacity_a=None, phases=3,
            voltage_v=230.0, schedule=None, fallback_a=None, chargers=[]))
    before = load.rounds
    platform.bus.publish("session.started", charger_id="CP-NEW", session_id="S-1", transaction_id="1",
                         evse_number=1, connector_number=1)
    await wait_for(lambda: load.rounds > before and load._site_of.get("CP-NEW") == "EVR-GENT-1", timeout=0.5,
                   interval=0.01)
