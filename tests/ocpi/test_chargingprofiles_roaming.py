"""OCPI chargingprofiles between two evroam instances registered with each other: the eMSP sets,
reads and clears the profile of its driver's session at the CPO (client), and receives the
asynchronous results at its response_url and the ActiveChargingProfile pushes on its Sender
interface; the CPO applies them at an `ocpp`-library charge point."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import DRIVER_TAG, PROFILED, charge_point, iso, past, roaming_pair, session_at  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402

from harness import auth, wait_for  # noqa: E402


def limit_on(cp, connector: int) -> float | None:
    found = cp.tx_limits.get(connector)
    return found[1] if found else None


async def results(emsp, session_id: str, kind: str) -> list[dict]:
    return [r for r in await emsp.platform.charging_profiles.history(session_id) if r["kind"] == kind]


async def test_emsp_sets_reads_and_clears_a_profile_at_its_cpo(make_instance):
    cpo, emsp = await roaming_pair(make_instance, cpo_extra={"load_replan_delay": 0.05})
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp:
        await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
        started = await cp.call(call16.StartTransaction(connector_id=2, id_tag=DRIVER_TAG, meter_start=0,
                                                        timestamp=iso(past(1))))
        tx = await cpo.platform.charging.get_transaction("CP-1", str(started.transaction_id))
        session_id = tx.session_id
        await wait_for(lambda: session_at(emsp, session_id))  # the eMSP knows its driver's session

        sent = await emsp.platform.charging_profiles.request_set(
            session_id, {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 12}]})
        assert sent["response"] == {"result": "ACCEPTED", "timeout": 30}
        assert sent["partner"] == "cpo-partner"
        done = await wait_for(lambda: _answered(emsp, session_id, "SET"))
        assert done[0]["result"] == {"result": "ACCEPTED"}
        assert limit_on(cp, 2) == 12.0  # the AC EVSE of CP-1
        active = await wait_for(lambda: results(emsp, session_id, "ACTIVE"))
        assert active[-1]["result"]["charging_profile"]["charging_profile_period"] == [{"start_period": 0,
                                                                                         "limit": 12.0}]

        asked = await emsp.platform.charging_profiles.request_active(session_id, 600)
        assert asked["response"]["result"] == "ACCEPTED"
        got = await wait_for(lambda: _answered(emsp, session_id, "GET"))
        assert got[0]["result"]["result"] == "ACCEPTED"
        assert got[0]["result"]["profile"]["charging_profile"]["charging_profile_period"][0]["limit"] == 12.0

        cleared = await emsp.platform.charging_profiles.request_clear(session_id)
        assert cleared["response"]["result"] == "ACCEPTED"
        done = await wait_for(lambda: _answered(emsp, session_id, "CLEAR"))
        assert done[0]["result"] == {"result": "ACCEPTED"}
        await wait_for(lambda: limit_on(cp, 2) is None)

        # the results endpoint takes results only of requests we made, from the partner we asked
        async with httpx.AsyncClient() as client:
            token = await _cpo_token_at_emsp(cpo)
            response = await client.post(f"{emsp.url}/ocpi/2.2.1/emsp/chargingprofiles/results/nope",
                                         json={"result": "ACCEPTED"}, headers=auth(token))
            assert response.status_code == 404 and response.json()["status_code"] == 2000
            request_id = cleared["request_id"]
            response = await client.post(f"{emsp.url}/ocpi/2.2.1/emsp/chargingprofiles/results/{request_id}",
                                         json={"result": "MAYBE"}, headers=auth(token))
            assert response.status_code == 400 and response.json()["status_code"] == 2001
            response = await client.put(f"{emsp.url}/ocpi/2.2.1/emsp/chargingprofiles/unknown-session",
                                        json={"start_date_time": "2024-01-01T00:00:00Z", "charging_profile": {
                                            "charging_rate_unit": "A", "charging_profile_period": []}},
                                        headers=auth(token))
            assert response.status_code == 404


async def _answered(emsp, session_id: str, kind: str) -> list[dict]:
    return [r for r in await results(emsp, session_id, kind) if r["result"] is not None]


async def _cpo_token_at_emsp(cpo) -> str:
    """The token the CPO presents to the eMSP (what the CPO's outbox sends)."""
    async with cpo.platform.store.connect() as conn:
        partner = await cpo.platform.store.partners.by_name(conn, "emsp-partner")
    return partner.outgoing_token
