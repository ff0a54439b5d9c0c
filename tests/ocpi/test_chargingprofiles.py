"""OCPI chargingprofiles (2.2.1) at the CPO, and charging preferences on the sessions sender,
over real sockets: an eMSP partner (whose asynchronous results and ActiveChargingProfile pushes
land on a recording server) sets, reads and clears the profile of a session running at an
`ocpp`-library charge point; the CPO answers ChargingProfileResponses at once and the charger's
outcome later. Error paths: unknown session, another eMSP's session, bad bodies and parameters."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the test charge points
from charge_points import PASSWORD, PROFILED, charge_point, iso, past  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402

from evroam.demo import load_demo  # noqa: E402
from evroam.model.charging_profiles import ActiveChargingProfile, ActiveChargingProfileResult  # noqa: E402
from evroam.model.common import utcnow  # noqa: E402
from harness import auth, free_socket, serve_app, wait_for  # noqa: E402

EMSP_TOKEN = "emsp-token-c"
OTHER_TOKEN = "other-emsp-token-c"
TAG = "DRIVER-0001"
OTHER_TAG = "OTHER-0001"
URL = "/ocpi/2.2.1/cpo/chargingprofiles"


class Recorder:
    """The eMSP's side: records every request (method, path, JSON body) and answers success."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict | None]] = []
        self.sock = free_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def anything(path: str, request: Request):
            body = await request.body()
            self.requests.append((request.method, "/" + path, await request.json() if body else None))
            return JSONResponse({"status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})

        return app

    def posted(self, path: str) -> list[dict]:
        return [body for method, p, body in self.requests if method == "POST" and p == path]

    def put(self, path: str) -> list[dict]:
        return [body for method, p, body in self.requests if method == "PUT" and p == path]


@pytest.fixture
async def emsp():
    recorder = Recorder()
    server, task = await serve_app(recorder.app(), recorder.sock)
    yield recorder
    server.should_exit = True
    await task


async def cpo_with_session(make_instance, emsp: Recorder, *, site: bool = True, version: str = "1.6"):
    """A CPO (demo data) with CP-1 on the AC EVSE EVR-GENT-1-E1, an eMSP partner DE/MSP (its
    endpoints on the recorder) and another one FR/OTH; DE/MSP's driver charging at CP-1."""
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",),
                              extra={"session_push_interval": 0, "load_replan_delay": 0.05})
    assert await load_demo(cpo.platform)
    endpoints = [{"identifier": "chargingprofiles", "role": "SENDER", "url": f"{emsp.url}/emsp/chargingprofiles"},
                 {"identifier": "sessions", "role": "RECEIVER", "url": f"{emsp.url}/emsp/sessions"},
                 {"identifier": "cdrs", "role": "RECEIVER", "url": f"{emsp.url}/emsp/cdrs"}]
    await cpo.add_partner("emsp", EMSP_TOKEN, [("EMSP", "DE", "MSP")], endpoints=endpoints)
    await cpo.add_partner("other", OTHER_TOKEN, [("EMSP", "FR", "OTH")])
    async with cpo.platform.store.begin() as conn:
        for cc, pid, uid in (("DE", "MSP", TAG), ("FR", "OTH", OTHER_TAG)):
            await cpo.platform.store.tokens.put(conn, cc, pid, uid, "RFID", {
                "country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": f"{cc}-{pid}-{uid}",
                "issuer": pid, "valid": True, "whitelist": "ALLOWED", "last_updated": "2024-05-01T10:00:00Z"},
                utcnow())
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    await cpo.platform.chargers.add("CP-2", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E2"})
    if site:
        await cpo.platform.sites.set_site("EVR-GENT-1", capacity_kw=22)
    return cpo


async def start(cp, tag: str = TAG) -> str:
    await cp.call(call16.BootNotification(charge_point_model="AC-22", charge_point_vendor="Acme"))
    answer = await cp.call(call16.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(past(1))))
    assert answer.id_tag_info["status"] == "Accepted"
    return str(answer.transaction_id)


async def session_of(cpo, charger_id: str, tx_id: str) -> str:
    tx = await cpo.platform.charging.get_transaction(charger_id, tx_id)
    assert tx.session_id
    return tx.session_id


def tx_limit(cp) -> float | None:
    found = cp.tx_limits.get(1)
    return found[1] if found else None


async def call(cpo, method: str, path: str, token: str = EMSP_TOKEN, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(method, cpo.url + path, headers=auth(token), **kwargs)


def set_body(emsp: Recorder, name: str, limit: float, unit: str = "A") -> dict:
    return {"response_url": f"{emsp.url}/results/{name}",
            "charging_profile": {"charging_rate_unit": unit,
                                 "charging_profile_period": [{"start_period": 0, "limit": limit}]}}


async def test_set_get_and_clear_a_profile_inside_the_site_plan(make_instance, emsp):
    cpo = await cpo_with_session(make_instance, emsp)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp:
        tx = await start(cp)
        session_id = await session_of(cpo, "CP-1", tx)
        await wait_for(lambda: tx_limit(cp) == 31.8)  # alone on the 22 kW site

        # the eMSP's profile is an upper bound inside the site's plan
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "set-1", 10.0))
        assert response.status_code == 200, response.text
        assert response.json()["status_code"] == 1000
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        assert response.headers["OCPI-to-party-id"] == "MSP" and response.headers["OCPI-from-party-id"] == "CPO"
        assert (await wait_for(lambda: emsp.posted("/results/set-1")))[0] == {"result": "ACCEPTED"}
        assert tx_limit(cp) == 10.0
        # ...and the eMSP hears of the changed ActiveChargingProfile on its Sender interface
        pushed = await wait_for(lambda: emsp.put(f"/emsp/chargingprofiles/{session_id}"))
        active = ActiveChargingProfile.model_validate(pushed[-1])
        assert active.charging_profile.charging_rate_unit == "A"
        assert [p.limit for p in active.charging_profile.charging_profile_period] == [10.0]

        # a bound above the site's share: the site's limit wins
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "set-2", 40.0))
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await wait_for(lambda: emsp.posted("/results/set-2")))[0] == {"result": "ACCEPTED"}
        await wait_for(lambda: tx_limit(cp) == 31.8)
        pushed = await wait_for(lambda: len(emsp.put(f"/emsp/chargingprofiles/{session_id}")) >= 2
                                and emsp.put(f"/emsp/chargingprofiles/{session_id}"))
        assert pushed[-1]["charging_profile"]["charging_profile_period"] == [{"start_period": 0, "limit": 31.8}]

        # GET ActiveChargingProfile: asked from the charger (GetCompositeSchedule)
        response = await call(cpo, "GET", f"{URL}/{session_id}",
                              params={"duration": 900, "response_url": f"{emsp.url}/results/get-1"})
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        result = ActiveChargingProfileResult.model_validate((await wait_for(lambda: emsp.posted("/results/get-1")))[0])
        assert result.result == "ACCEPTED"
        assert result.profile.charging_profile.charging_profile_period[0].limit == 31.8
        assert result.profile.charging_profile.duration == 900
        asked = [p for a, p in cp.received if a == "GetCompositeSchedule"]
        assert asked == [{"connector_id": 1, "duration": 900}]

        # DELETE: the bound goes (ClearProfileResult ACCEPTED), a second DELETE finds nothing
        response = await call(cpo, "DELETE", f"{URL}/{session_id}",
                              params={"response_url": f"{emsp.url}/results/clear-1"})
        assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        assert (await wait_for(lambda: emsp.posted("/results/clear-1")))[0] == {"result": "ACCEPTED"}
        response = await call(cpo, "DELETE", f"{URL}/{session_id}",
                              params={"response_url": f"{emsp.url}/results/clear-2"})
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await wait_for(lambda: emsp.posted("/results/clear-2")))[0] == {"result": "UNKNOWN"}


async def test_a_profile_at_a_charger_outside_every_site(make_instance, emsp):
    """No site: the session is planned alone under the eMSP's bound; clearing it clears the
    charger's profile."""
    cpo = await cpo_with_session(make_instance, emsp, site=False)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp:
        session_id = await session_of(cpo, "CP-1", await start(cp))
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "set", 4140.0, unit="W"))
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await wait_for(lambda: emsp.posted("/results/set")))[0] == {"result": "ACCEPTED"}
        assert tx_limit(cp) == 6.0  # 4140 W / (3 x 230 V)
        response = await call(cpo, "DELETE", f"{URL}/{session_id}", params={"response_url": f"{emsp.url}/results/c"})
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await wait_for(lambda: emsp.posted("/results/c")))[0] == {"result": "ACCEPTED"}
        await wait_for(lambda: tx_limit(cp) is None)
        assert any(a == "ClearChargingProfile" for a, _ in cp.received)


async def test_error_paths(make_instance, emsp):
    cpo = await cpo_with_session(make_instance, emsp)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp:
        tx = await start(cp)
        session_id = await session_of(cpo, "CP-1", tx)
        await wait_for(lambda: tx_limit(cp) == 31.8)

        # unknown session: the ChargingProfileResponse says so, and no result follows
        for method, kwargs in (("PUT", {"json": set_body(emsp, "unknown", 10)}),
                               ("GET", {"params": {"duration": 60, "response_url": f"{emsp.url}/results/unknown"}}),
                               ("DELETE", {"params": {"response_url": f"{emsp.url}/results/unknown"}})):
            response = await call(cpo, method, f"{URL}/no-such-session", **kwargs)
            assert response.status_code == 200
            assert response.json()["status_code"] == 1000
            assert response.json()["data"] == {"result": "UNKNOWN_SESSION", "timeout": 30}

        # another eMSP's session: rejected, nothing changes
        response = await call(cpo, "PUT", f"{URL}/{session_id}", token=OTHER_TOKEN, json=set_body(emsp, "other", 6))
        assert response.json()["data"]["result"] == "REJECTED"
        response = await call(cpo, "GET", f"{URL}/{session_id}", token=OTHER_TOKEN,
                              params={"duration": 60, "response_url": f"{emsp.url}/results/other"})
        assert response.json()["data"]["result"] == "REJECTED"

        # bad bodies and parameters: 2001, nothing stored
        bad = set_body(emsp, "bad", 10.25)  # more than one decimal
        for body in (bad, {"response_url": f"{emsp.url}/results/bad"}, {**set_body(emsp, "bad", 10),
                                                                         "response_url": "not-a-url"}):
            response = await call(cpo, "PUT", f"{URL}/{session_id}", json=body)
            assert response.status_code == 400 and response.json()["status_code"] == 2001, response.text
        response = await call(cpo, "PUT", f"{URL}/{session_id}", content=b"{not json")
        assert response.json()["status_code"] == 2001
        for params in ({"response_url": f"{emsp.url}/results/bad"}, {"duration": "soon",
                                                                      "response_url": f"{emsp.url}/results/bad"},
                       {"duration": 60}):
            response = await call(cpo, "GET", f"{URL}/{session_id}", params=params)
            assert response.status_code == 400 and response.json()["status_code"] == 2001, params
        response = await call(cpo, "DELETE", f"{URL}/{session_id}")
        assert response.status_code == 400 and response.json()["status_code"] == 2001
        response = await call(cpo, "PUT", f"{URL}/{session_id}", token="nobody", json=set_body(emsp, "x", 6))
        assert response.status_code == 401

        async with cpo.platform.store.connect() as conn:
            from evroam.store.sites import SmartSessionRepository

            assert await SmartSessionRepository().get(conn, session_id) is None
        await cpo.platform.charging_profiles.drain()
        await cpo.platform.outbox_worker.run_once()
        assert not [p for _, p, _ in emsp.requests if p.startswith("/results/")]
        assert tx_limit(cp) == 31.8

        # an ended session is rejected
        await cp.call(call16.StopTransaction(meter_stop=500, timestamp=iso(past(0)), transaction_id=int(tx)))
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "ended", 6))
        assert response.json()["data"]["result"] == "REJECTED"


async def test_a_charger_rejecting_the_profile(make_instance, emsp):
    class Rejecting(PROFILED["1.6"]):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.answers["SetChargingProfile"] = "Rejected"

    cpo = await cpo_with_session(make_instance, emsp, site=False)
    async with charge_point(cpo, "CP-1", cls=Rejecting) as cp:
        session_id = await session_of(cpo, "CP-1", await start(cp))
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "set", 10))
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert (await wait_for(lambda: emsp.posted("/results/set")))[0] == {"result": "REJECTED"}
        # known now: the next request is answered NOT_SUPPORTED at once
        response = await call(cpo, "PUT", f"{URL}/{session_id}", json=set_body(emsp, "again", 10))
        assert response.json()["data"]["result"] == "NOT_SUPPORTED"
        assert not emsp.put(f"/emsp/chargingprofiles/{session_id}")  # never set successfully: no pushes


# ---------------------------------------------------------------------------- charging preferences


PREFS = "/ocpi/2.2.1/cpo/sessions/{}/charging_preferences"


async def test_charging_preferences(make_instance, emsp):
    cpo = await cpo_with_session(make_instance, emsp)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp1, \
            charge_point(cpo, "CP-2", cls=PROFILED["1.6"]) as cp2:
        s1 = await session_of(cpo, "CP-1", await start(cp1))
        await session_of(cpo, "CP-2", await start(cp2, OTHER_TAG))
        await wait_for(lambda: tx_limit(cp1) == 15.9 and tx_limit(cp2) == 15.9)
        soon = lambda hours: (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731

        async def put(body, session_id=s1, token=EMSP_TOKEN):
            return await call(cpo, "PUT", PREFS.format(session_id), token=token, json=body)

        cases = [
            ({"profile_type": "REGULAR"}, "ACCEPTED"),
            ({"profile_type": "REGULAR", "energy_need": 10}, "DEPARTURE_REQUIRED"),
            ({"profile_type": "REGULAR", "departure_time": soon(2)}, "ENERGY_NEED_REQUIRED"),
            ({"profile_type": "FAST"}, "PROFILE_TYPE_NOT_SUPPORTED"),  # no PROFILE_FAST tariff here
            ({"profile_type": "REGULAR", "departure_time": soon(-1), "energy_need": 5}, "NOT_POSSIBLE"),
            ({"profile_type": "REGULAR", "departure_time": soon(1), "energy_need": 80}, "NOT_POSSIBLE"),  # > 22 kWh
        ]
        for body, expected in cases:
            response = await put(body)
            assert response.status_code == 200, response.text
            assert response.json()["data"] == expected, body

        # errors: unknown session and another eMSP's session are not found; bad bodies 2001
        response = await put({"profile_type": "REGULAR"}, session_id="no-such-session")
        assert response.status_code == 404 and response.json()["status_code"] == 2000
        response = await put({"profile_type": "REGULAR"}, token=OTHER_TOKEN)
        assert response.status_code == 404
        for body in ({"profile_type": "TURBO"}, {"departure_time": soon(1)}, []):
            response = await put(body)
            assert response.status_code == 400 and response.json()["status_code"] == 2001

        # the driver needs 18 kWh within 1.5 hours: CP-1 gets what that takes, CP-2 the rest
        response = await put({"profile_type": "REGULAR", "departure_time": soon(1.5), "energy_need": 18})
        assert response.json()["data"] == "ACCEPTED"
        await wait_for(lambda: tx_limit(cp1) is not None and tx_limit(cp1) > 16 and tx_limit(cp2) < 15.9)
        assert tx_limit(cp1) + tx_limit(cp2) <= 22000 / (3 * 230)
        assert tx_limit(cp1) >= 18000 / 1.5 / (3 * 230) - 0.1  # 17.4 A: enough to finish by departure
        status = (await cpo.platform.load.status("EVR-GENT-1"))[0]
        mine = next(s for s in status["sessions"] if s["session_id"] == s1)
        assert mine["energy_need"] == 18


async def test_charging_preferences_need_a_capable_evse(make_instance, emsp):
    """Outside every site, and without CHARGING_PREFERENCES_CAPABLE: HTTP 404 with 2001."""
    cpo = await cpo_with_session(make_instance, emsp, site=False)
    async with charge_point(cpo, "CP-1", cls=PROFILED["1.6"]) as cp:
        session_id = await session_of(cpo, "CP-1", await start(cp))
        response = await call(cpo, "PUT", PREFS.format(session_id), json={"profile_type": "REGULAR"})
        assert response.status_code == 404 and response.json()["status_code"] == 2001
        assert "CHARGING_PREFERENCES_CAPABLE" in response.json()["status_message"]
