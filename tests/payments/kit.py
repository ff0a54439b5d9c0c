"""A CPO that takes ad-hoc card payments (the real `stripe` client against the local Stripe stub),
with the demo locations and an ad-hoc tariff on the DC EVSE of EVR-GENT-1, where charger CP-1
(connector 1) is."""

from __future__ import annotations

from charge_points import PASSWORD
from stripe_stub import API_KEY, WEBHOOK_SECRET

from evroam.demo import load_demo
from harness import httpx, wait_for

LOCATION, EVSE = "EVR-GENT-1", "EVR-GENT-1-E3"
EVSE_PAGE = f"/charge/{LOCATION}/{EVSE}"

# The ad-hoc tariff: 0.50 EUR/kWh and a 1.00 EUR session fee, both + 21 % VAT (0.605 and 1.21 with VAT)
AD_HOC = {"country_code": "NL", "party_id": "EVR", "id": "ADHOC-DC", "currency": "EUR", "type": "AD_HOC_PAYMENT",
          "elements": [{"price_components": [{"type": "FLAT", "price": 1.00, "vat": 21.0, "step_size": 1},
                                             {"type": "ENERGY", "price": 0.50, "vat": 21.0, "step_size": 1}]}],
          "last_updated": "2025-01-01T00:00:00Z"}


def payment_settings(stub, tmp_path, **extra) -> dict:
    return {"payment_provider": "stripe", "stripe_api_key": API_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_publishable_key": "pk_test_evroam", "stripe_api_base": stub.url, "session_push_interval": 0,
            "mail_outbox": str(tmp_path / "outbox"), "payment_hold": "50.00", **extra}


async def paying_cpo(make_instance, stub, tmp_path, *, charger: bool = True, **extra):
    cpo = await make_instance("cpo", roles=("CPO",), extra=payment_settings(stub, tmp_path, **extra))
    assert await load_demo(cpo.platform)
    await cpo.platform.tariffs.import_tariffs([AD_HOC])
    loc = await cpo.platform.locations.get_own(LOCATION)
    for evse in loc["evses"]:
        if evse["uid"] == EVSE:
            for connector in evse["connectors"]:
                connector["tariff_ids"] = ["DC-1", "ADHOC-DC"]
    await cpo.platform.locations.save(loc)
    if charger:
        await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id=LOCATION, evses={1: EVSE})
    return cpo


async def payment_of(cpo, payment_id: str) -> dict:
    async with httpx.AsyncClient(base_url=cpo.url) as http:
        return (await http.get(f"/pay/{payment_id}.json")).json()


async def wait_status(cpo, payment_id: str, *statuses: str, timeout: float = 15.0) -> dict:  # noqa: ASYNC109
    async def reached():
        view = await payment_of(cpo, payment_id)
        return view if view["status"] in statuses else None

    return await wait_for(reached, timeout=timeout)
