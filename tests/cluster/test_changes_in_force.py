"""Changes made by another process (the CLI beside the server, another node) are in force in a
running server within 1 s: a partner's credentials withdrawn, a driver's token blocked, a charger
removed from the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from ocpp.v16 import call as call16

from evroam.app import Platform
from evroam.demo import load_demo
from harness import Instance, auth, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points
from charge_points import COMMANDED, PASSWORD, charge_point  # noqa: E402


async def test_changes_made_beside_a_running_server_are_in_force_within_a_second(tmp_path):
    server = Instance(db_path=tmp_path / "evroam.db")
    await server.start()
    beside = Platform(server.settings())  # what a command-line process beside the server is
    await beside.start()
    try:
        assert await load_demo(server.platform)
        await server.add_partner("acme", "acme-token", [("EMSP", "DE", "ACM")])
        await server.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1",
                                           evses={1: "EVR-GENT-1-E1"})
        await server.platform.tokens.add_own({"uid": "TAG-1", "whitelist": "ALWAYS"})
        async with httpx.AsyncClient() as http:
            url = f"{server.url}/ocpi/2.2.1/cpo/locations"
            assert (await http.get(url, headers=auth("acme-token"))).status_code == 200  # (and cached)
            async with charge_point(server, "CP-1", cls=COMMANDED["1.6"]) as cp:
                answer = await cp.call(call16.Authorize(id_tag="TAG-1"))
                assert answer.id_tag_info["status"] == "Accepted"

                # the partner is unregistered by the other process: its token stops working
                async with beside.store.begin() as conn:
                    partner = await beside.store.partners.by_name(conn, "acme")
                    await beside.store.partners.update(conn, partner.pk, status="UNREGISTERED", token=None)
                beside.bus.publish("partner.unregistered", partner_pk=partner.pk)
                await beside.change_feed.flush()
                await wait_for(lambda: _status(http, url, "acme-token", 401), timeout=1.0, interval=0.02)

                # a driver's token is blocked there: the charger's next Authorize is refused
                await beside.tokens.add_own({"uid": "TAG-1", "whitelist": "ALWAYS", "valid": False})
                await beside.change_feed.flush()

                async def blocked():
                    answer = await cp.call(call16.Authorize(id_tag="TAG-1"))
                    return answer.id_tag_info["status"] == "Blocked"

                await wait_for(blocked, timeout=1.0, interval=0.05)
            # the charger is removed from the registry there: it can no longer connect
            await beside.chargers.remove("CP-1")
            await beside.change_feed.flush()
            refused = False
            try:
                async with charge_point(server, "CP-1", cls=COMMANDED["1.6"]):
                    pass
            except Exception as exc:  # the handshake is refused
                refused = "404" in str(exc) or "401" in str(exc)
            assert refused
    finally:
        await beside.close()
        await server.close()


async def _status(http: httpx.AsyncClient, url: str, token: str, expected: int) -> bool:
    return (await http.get(url, headers=auth(token))).status_code == expected
