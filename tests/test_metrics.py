"""`/metrics` of a node: the chargers connected, every CALL handled by action with its time, the
commands sent to chargers with their outcome, the outbox's depth and oldest age per partner,
load-management rounds, the work that runs once per platform, Redis."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent / "ocpp"))  # the ocpp-library charge points
from charge_points import COMMANDED, PASSWORD, charge_point  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402

from evroam.demo import load_demo  # noqa: E402
from harness import wait_for  # noqa: E402


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(instance) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"{instance.url}/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return samples(reply.text)


async def test_metrics_show_chargers_calls_commands_outbox_and_work(make_instance):
    cpo = await make_instance("cpo", extra={"load_replan_delay": 0.05})
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    await cpo.add_partner("emsp", "emsp-token", [("EMSP", "DE", "MSP")],
                          endpoints=[{"identifier": "locations", "role": "RECEIVER",
                                      "url": "http://127.0.0.1:9/unreachable/locations"}])
    await cpo.platform.locations.import_locations(
        (await cpo.platform.locations.get_own("EVR-GENT-1")), as_own=True)  # a push the partner cannot take
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call16.BootNotification(charge_point_model="AC", charge_point_vendor="Acme"))
        for _ in range(3):
            await cp.call(call16.Heartbeat())
        await cpo.platform.operations.reset("CP-1", hard=False)
        found = await scrape(cpo)
        assert found[("evroam_chargers_connected", ())] == 1
        assert found[("evroam_ocpp_call_seconds_count", (("action", "Heartbeat"),))] == 3
        assert found[("evroam_ocpp_call_seconds_count", (("action", "BootNotification"),))] == 1
        assert found[("evroam_charger_command_seconds_count", (("command", "reset"), ("outcome", "Accepted")))] == 1
        assert found[("evroam_node", (("node", cpo.platform.node),))] == 1
        assert found[("evroam_redis_up", ())] == -1  # one node, no Redis
        assert found[("evroam_singleton_running", (("work", "load-management"),))] == 1

        async def outbox_waiting():
            now = await scrape(cpo)
            depth = now.get(("evroam_outbox_depth", (("partner", "emsp"),)))
            return now if depth else None

        found = await wait_for(outbox_waiting)
        assert found[("evroam_outbox_depth", (("partner", "emsp"),))] >= 1
        assert found[("evroam_outbox_oldest_seconds", (("partner", "emsp"),))] >= 0
        assert found[("evroam_load_rounds_total", ())] >= 1
    found = await wait_for(lambda: _disconnected(cpo))
    assert found[("evroam_chargers_connected", ())] == 0


async def _disconnected(cpo):
    found = await scrape(cpo)
    return found if found[("evroam_chargers_connected", ())] == 0 else None
