"""Load management end to end over real sockets: `ocpp`-library charge points (1.6 and 2.0.1) on
a 22 kW site. The CSMS plans the site on every session start and stop and sends charging
profiles; the charge points record every profile they accept, and the sum of the limits in force
is checked at every moment."""

from __future__ import annotations

import asyncio
import copy

import pytest
from charge_points import PASSWORD, PROFILED, charge_point, iso, past
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from evroam.demo import demo_objects, load_demo
from harness import wait_for

SITE = "EVR-GENT-1"
VOLTAGE = 230.0
SITE_KW = 22.0
SITE_A = SITE_KW * 1000 / (3 * VOLTAGE)  # 31.88 A per phase
TAGS = {"CP-1": "TAG-0001", "CP-2": "TAG-0002", "CP-3": "TAG-0003"}
EVSES = {"CP-1": "EVR-GENT-1-E1", "CP-2": "EVR-GENT-1-E2", "CP-3": "EVR-GENT-1-E4"}


async def ac_site(make_instance, **extra):
    """A CPO with the demo data, EVR-GENT-1 given a third 22 kW AC EVSE (E4), three chargers
    (one EVSE each), our own drivers' tokens, and a 22 kW site on the location."""
    cpo = await make_instance("cpo", extra={"session_push_interval": 0, "load_replan_delay": 0.05, **extra})
    assert await load_demo(cpo.platform)
    locations, _ = demo_objects()
    gent = copy.deepcopy(next(loc for loc in locations if loc["id"] == SITE))
    e4 = copy.deepcopy(next(e for e in gent["evses"] if e["uid"] == "EVR-GENT-1-E2"))
    e4["uid"], e4["evse_id"] = "EVR-GENT-1-E4", "BE*EVR*E4"
    gent["evses"].append(e4)
    await cpo.platform.locations.import_locations(gent, as_own=True)
    for charger_id, evse_uid in EVSES.items():
        await cpo.platform.chargers.add(charger_id, password=PASSWORD, location_id=SITE, evses={1: evse_uid})
        await cpo.platform.tokens.add_own({"uid": TAGS[charger_id], "whitelist": "ALWAYS"})
    await cpo.platform.sites.set_site(SITE, capacity_kw=SITE_KW)
    return cpo


async def boot(cp, version: str) -> None:
    if version == "1.6":
        await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
        await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    else:
        await cp.call(call201.BootNotification(charging_station={"model": "AC-22", "vendor_name": "Acme"},
                                               reason="PowerUp"))
        await cp.call(call201.StatusNotification(timestamp=iso(past(0)), connector_status="Available", evse_id=1,
                                                 connector_id=1))


async def start(cp, version: str) -> str:
    """Start charging on EVSE/connector 1; the transaction id."""
    tag = TAGS[cp.id]
    if version == "1.6":
        answer = await cp.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=0,
                                                       timestamp=iso(past(0))))
        assert answer.id_tag_info["status"] == "Accepted"
        return str(answer.transaction_id)
    tx_id = f"TX-{cp.id}"
    answer = await cp.call(call201.TransactionEvent(
        event_type="Started", timestamp=iso(past(0)), trigger_reason="Authorized", seq_no=0,
        transaction_info={"transaction_id": tx_id, "charging_state": "Charging"}, evse={"id": 1, "connector_id": 1},
        id_token={"id_token": tag, "type": "ISO14443"}))
    assert answer.id_token_info["status"] == "Accepted"
    return tx_id


async def stop(cp, version: str, tx_id: str) -> None:
    if version == "1.6":
        await cp.call(call16.StopTransaction(meter_stop=1000, timestamp=iso(past(0)), transaction_id=int(tx_id),
                                             reason="Local"))
    else:
        await cp.call(call201.TransactionEvent(
            event_type="Ended", timestamp=iso(past(0)), trigger_reason="StopAuthorized", seq_no=1,
            transaction_info={"transaction_id": tx_id, "stopped_reason": "Local"}))


def tx_limit(cp) -> float | None:
    """The TxProfile limit in force on EVSE/connector 1 (A)."""
    found = cp.tx_limits.get(1)
    return found[1] if found else None


async def _equal(value, expected) -> bool:
    return await value == expected


def worst_sum(cps) -> float:
    """Replay every profile the charge points accepted, in the order they were applied, and
    return the highest sum of TxProfile limits in force at any moment (A per phase)."""
    events = sorted((t, cp.id, action, payload) for cp in cps for t, action, payload in cp.profile_log)
    in_force: dict[str, float] = {}
    worst = 0.0
    for _, charger_id, action, payload in events:
        if action == "SetChargingProfile":
            profile = payload.get("cs_charging_profiles") or payload.get("charging_profile")
            if profile["charging_profile_purpose"] != "TxProfile":
                continue
            schedule = profile["charging_schedule"]
            schedule = schedule[0] if isinstance(schedule, list) else schedule
            assert schedule["charging_rate_unit"] == "A"  # AC: amperes per phase
            in_force[charger_id] = float(schedule["charging_schedule_period"][0]["limit"])
        elif (payload.get("charging_profile_purpose")
              or (payload.get("charging_profile_criteria") or {}).get("charging_profile_purpose")) == "TxProfile":
            in_force.pop(charger_id, None)
        worst = max(worst, sum(in_force.values()))
    return worst


def tx_limits_sent(cp) -> list[float]:
    """Every TxProfile limit the charge point accepted, in order."""
    out = []
    for _, action, payload in cp.profile_log:
        profile = payload.get("cs_charging_profiles") or payload.get("charging_profile")
        if action == "SetChargingProfile" and profile["charging_profile_purpose"] == "TxProfile":
            schedule = profile["charging_schedule"]
            schedule = schedule[0] if isinstance(schedule, list) else schedule
            out.append(float(schedule["charging_schedule_period"][0]["limit"]))
    return out


@pytest.mark.parametrize("start_a", [None, 0.0], ids=["no-start-limit", "start-at-0A"])
@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_third_car_lowers_the_first_two_and_the_site_never_exceeds_22_kw(make_instance, version, start_a):
    """Without a start limit a new session counts at full power until its profile applies (the
    others are paused for that moment); with a 0 A start limit (TxDefaultProfile) it waits at 0 A
    instead and the others go straight to their new share. Either way the limits in force never
    sum above the site's 22 kW (a start limit of 0 A counts as 0)."""
    cpo = await ac_site(make_instance)
    if start_a is not None:
        await cpo.platform.sites.set_site(SITE, start_a=start_a)
    cls = PROFILED[version]
    async with charge_point(cpo, "CP-1", version=version, cls=cls) as cp1, \
            charge_point(cpo, "CP-2", version=version, cls=cls) as cp2, \
            charge_point(cpo, "CP-3", version=version, cls=cls) as cp3:
        cps = [cp1, cp2, cp3]
        for cp in cps:
            await boot(cp, version)

        tx1 = await start(cp1, version)
        await wait_for(lambda: tx_limit(cp1) is not None)
        assert tx_limit(cp1) == 31.8  # alone: the whole site (31.88 A per phase, rounded down)
        action, payload = next((a, p) for a, p in cp1.received if a == "SetChargingProfile"
                               and (p.get("cs_charging_profiles") or p.get("charging_profile"))
                               ["charging_profile_purpose"] == "TxProfile")
        if version == "1.6":
            assert payload["connector_id"] == 1
            assert payload["cs_charging_profiles"]["transaction_id"] == int(tx1)
            assert payload["cs_charging_profiles"]["charging_schedule"]["charging_rate_unit"] == "A"
        else:
            assert payload["evse_id"] == 1 and payload["charging_profile"]["transaction_id"] == tx1
        # every charger also gets its maximum: the site's limit (1.6 connector 0, 2.x EVSE 0)
        await wait_for(lambda: all(cp.max_limit is not None for cp in cps))
        assert all(cp.max_limit == (31.8, "A") for cp in cps)
        if start_a is not None:  # and the limit new transactions start at
            await wait_for(lambda: all(cp.default_limit is not None for cp in cps))
            assert all(cp.default_limit == (start_a, "A") for cp in cps)
        maximum = next(p for a, p in cp2.received if a == "SetChargingProfile"
                       and (p.get("cs_charging_profiles") or p.get("charging_profile"))["charging_profile_purpose"]
                       in ("ChargePointMaxProfile", "ChargingStationMaxProfile"))
        assert (maximum.get("connector_id"), maximum.get("evse_id")) in ((0, None), (None, 0))

        tx2 = await start(cp2, version)
        await wait_for(lambda: tx_limit(cp1) == 15.9 and tx_limit(cp2) == 15.9)

        tx3 = await start(cp3, version)
        await wait_for(lambda: [tx_limit(cp) for cp in cps] == [10.6, 10.6, 10.6])
        assert worst_sum(cps) <= SITE_A
        if start_a is not None:  # never paused: each limit sent to CP-1 was a share of the site
            assert tx_limits_sent(cp1) == [31.8, 15.9, 10.6]

        # the records of what was sent, with the chargers' answers (written once a batch is answered)
        async def recorded():
            sent = await cpo.platform.load.profiles_sent(limit=100)
            if {(r["charger_id"], r["transaction_id"]) for r in sent if r["purpose"] == "TX"} == \
                    {("CP-1", tx1), ("CP-2", tx2), ("CP-3", tx3)}:
                return sent

        sent = await wait_for(recorded)
        assert all(r["status"] == "Accepted" for r in sent)
        status = (await cpo.platform.load.status(SITE))[0]
        assert status["circuits"][0]["limit_kw"] == 22.0
        assert sum(s["in_force_a"] for s in status["sessions"]) <= SITE_A
        assert {s["state"] for s in status["sessions"]} == {"profiled"}

        # the third car leaves: its profile is cleared and the others get its share back
        await stop(cp3, version, tx3)
        await wait_for(lambda: tx_limit(cp3) is None and tx_limit(cp1) == 15.9 and tx_limit(cp2) == 15.9)
        assert any(a == "ClearChargingProfile" for a, _ in cp3.received)
        assert worst_sum(cps) <= SITE_A

        async def cleared():
            return [r for r in await cpo.platform.load.profiles_sent(charger_id="CP-3") if r["action"] == "CLEAR"]

        done = await wait_for(cleared)
        assert done[0]["transaction_id"] == tx3 and done[0]["status"] == "Accepted"
        await stop(cp1, version, tx1)
        await wait_for(lambda: tx_limit(cp2) == 31.8)
        assert worst_sum(cps) <= SITE_A


@pytest.mark.parametrize("refusal", ["Rejected", "NotSupported"])
async def test_a_charger_refusing_profiles_is_held_to_its_fallback_share(make_instance, refusal):
    class Refusing(PROFILED["1.6"]):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            if refusal == "Rejected":
                self.answers["SetChargingProfile"] = "Rejected"
            else:
                self.unsupported = True  # CALLERROR NotSupported

    cpo = await ac_site(make_instance)
    await cpo.platform.sites.set_site(SITE, fallback_a=16.0)
    async with charge_point(cpo, "CP-1", cls=Refusing) as cp1, \
            charge_point(cpo, "CP-2", cls=PROFILED["1.6"]) as cp2:
        for cp in (cp1, cp2):
            await boot(cp, "1.6")
        await start(cp1, "1.6")
        await wait_for(lambda: any(a == "SetChargingProfile" and p["connector_id"] == 1 for a, p in cp1.received))
        await start(cp2, "1.6")
        # CP-1 cannot be limited: it counts at the site's fallback (16 A); CP-2 gets the rest
        await wait_for(lambda: tx_limit(cp2) == 15.8)
        assert tx_limit(cp1) is None

        async def states():
            status = (await cpo.platform.load.status(SITE))[0]
            return {s["charger_id"]: s["state"] for s in status["sessions"]}

        await wait_for(lambda: _equal(states(), {"CP-1": "fallback", "CP-2": "profiled"}))
        refused = [r for r in await cpo.platform.load.profiles_sent(charger_id="CP-1") if r["action"] == "SET"]
        assert refused and {r["status"] for r in refused} == {refusal}
        attempts = len([a for a, _ in cp1.received if a == "SetChargingProfile"])
        await cpo.platform.load.run_round()
        assert len([a for a, _ in cp1.received if a == "SetChargingProfile"]) == attempts  # not asked again


async def test_capacity_schedule_change_replans_at_the_boundary(make_instance):
    """The site's capacity drops to 11 kW at 17:00 local time: the load manager's timer fires
    at that instant (the clock is moved so that 17:00 is two seconds away) and lowers the car."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from evroam.model.common import utcnow

    cpo = await ac_site(make_instance, load_replan_seconds=3600)
    zone = ZoneInfo("Europe/Brussels")
    real = utcnow()
    boundary = datetime.combine(real.astimezone(zone).date() + timedelta(days=1),
                                datetime.min.time().replace(hour=17), zone)
    offset = boundary - real - timedelta(seconds=2)
    cpo.platform.load.clock = lambda: utcnow() + offset
    await cpo.platform.sites.set_site(SITE, schedule={
        "timezone": "Europe/Brussels", "periods": [{"start": "17:00", "end": "20:00", "capacity_kw": 11}]})
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp1:
        await boot(cp1, "1.6")
        await start(cp1, "1.6")
        await wait_for(lambda: tx_limit(cp1) == 31.8)
        assert cpo.platform.load.next_change == boundary
        rounds = cpo.platform.load.rounds
        await wait_for(lambda: tx_limit(cp1) == 15.9, timeout=6)  # 11 kW / (3 x 230 V) = 15.94 A
        assert cpo.platform.load.rounds > rounds
        assert cpo.platform.load.clock() >= boundary


async def test_session_end_clears_the_profile_even_after_a_restart(make_instance):
    """The limits in force are read back from the record after a restart, so the profile of a
    transaction that ends later is still cleared."""
    cpo = await ac_site(make_instance)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp1:
        await boot(cp1, "1.6")
        tx1 = await start(cp1, "1.6")
        await wait_for(lambda: tx_limit(cp1) == 31.8)
    await cpo.stop()
    await cpo.start()
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp1:
        cp1.tx_limits[1] = (tx1, 31.8, "A")  # what the charger kept
        await boot(cp1, "1.6")
        await asyncio.sleep(0.3)
        assert not [a for a, p in cp1.received if a == "SetChargingProfile" and p["connector_id"] == 1]
        await stop(cp1, "1.6", tx1)
        await wait_for(lambda: any(a == "ClearChargingProfile" for a, _ in cp1.received))
        assert tx_limit(cp1) is None


async def test_a_car_drawing_less_than_its_limit_releases_current_to_the_others(make_instance):
    cpo = await ac_site(make_instance)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp1, \
            charge_point(cpo, "CP-2", cls=PROFILED["1.6"]) as cp2:
        for cp in (cp1, cp2):
            await boot(cp, "1.6")
        tx1 = await start(cp1, "1.6")
        await start(cp2, "1.6")
        await wait_for(lambda: tx_limit(cp1) == 15.9 and tx_limit(cp2) == 15.9)
        # CP-1's car takes only 6 A (nearly full): it keeps 2 A of headroom, CP-2 gets the rest
        await cp1.call(call16.MeterValues(connector_id=1, transaction_id=int(tx1), meter_value=[{
            "timestamp": iso(past(0)), "sampled_value": [
                {"value": str(a), "measurand": "Current.Import", "phase": phase, "unit": "A"}
                for phase, a in (("L1", 6.0), ("L2", 5.9), ("L3", 6.0))]}]))
        await wait_for(lambda: tx_limit(cp1) == 8.0 and tx_limit(cp2) == 23.8)
        assert worst_sum([cp1, cp2]) <= SITE_A
        status = (await cpo.platform.load.status(SITE))[0]
        assert {s["charger_id"]: s["drawn_a"] for s in status["sessions"]}["CP-1"] == 6.0
