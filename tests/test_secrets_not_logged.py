"""Secrets never reach the log: partners' tokens (A, B, C), charger passwords (right and wrong),
the admin token, driver API keys, at every log level."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "ocpp"))  # the ocpp-library charge points
from charge_points import COMMANDED, charge_point  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402

from evroam import logs  # noqa: E402
from evroam.demo import load_demo  # noqa: E402
from evroam.ocpi.credentials import handshake  # noqa: E402


async def test_no_secret_is_ever_logged(make_instance, caplog):
    caplog.set_level(logging.DEBUG)
    logs.quiet_libraries()  # as `evroam serve` with log_level = DEBUG
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",))
    emsp = await make_instance("emsp", country_code="DE", party_id="MSP", roles=("EMSP",))
    assert await load_demo(cpo.platform)
    _, token_a = await handshake.invite(cpo.platform, "emsp-partner", "token-A-do-not-log")
    partner = await handshake.register_with(emsp.platform, "cpo-partner", cpo.versions_url, token_a)
    secrets = {token_a, partner.outgoing_token, "charger-secret-1", "wrong-secret-2", "admin-secret"}
    await cpo.platform.chargers.add("CP-1", password="charger-secret-1", location_id="EVR-GENT-1",
                                    evses={1: "EVR-GENT-1-E1"})
    async with charge_point(cpo, "CP-1", password="charger-secret-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call16.BootNotification(charge_point_model="AC", charge_point_vendor="Acme"))
    with pytest.raises(Exception):  # noqa: B017 - the handshake is refused, whatever the client raises
        async with charge_point(cpo, "CP-1", password="wrong-secret-2"):
            pass
    key = (await emsp.platform.drivers.add("Ann")).api_key
    async with httpx.AsyncClient() as http:
        await http.get(f"{cpo.url}/admin/api/chargers", headers={"Authorization": "Bearer admin-secret"})
        await http.get(f"{cpo.url}/admin/api/chargers", headers={"Authorization": "Bearer not-the-admin-token"})
        secrets.add(key)
        reply = await http.get(f"{emsp.url}/driver/v1/sessions", headers={"Authorization": f"Bearer {key}"})
        assert reply.status_code == 200
    logged = caplog.text
    assert logged  # the platform did log (registration, connections ...)
    leaked = [s for s in secrets if s and s in logged]
    assert leaked == []
