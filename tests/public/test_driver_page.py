"""The drivers' pages in a real browser (Debian's Chromium driven by playwright) on a phone-sized
screen: the station list, the EVSE page (status, AFIR prices, "Pay and charge") without sideways
scrolling, paying, the live session updating by itself, stopping, the receipt.

With EVROAM_DOCS_SCREENSHOTS=docs/images the screenshots of the pages are written there (that is
how docs/images/driver-*.png are made)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from charge_points import COMMANDED, charge_point, iso, past
from kit import EVSE_PAGE, paying_cpo
from ocpp.v16 import call

from harness import wait_for

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (apt-get install chromium)")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
async def browser():
    playwright = pytest.importorskip("playwright.async_api")
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def test_pay_and_charge_on_a_phone(make_instance, stripe_stub, tmp_path, browser):
    shots = Path(os.environ.get("EVROAM_DOCS_SCREENSHOTS") or tmp_path)
    os.makedirs(shots, exist_ok=True)  # noqa: ASYNC230
    cpo = await paying_cpo(make_instance, stripe_stub, tmp_path)
    context = await browser.new_context(**PHONE)
    await context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(cpo.url)
                        else route.abort())  # nothing from outside (no network here)
    page = await context.new_page()
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

        await page.goto(f"{cpo.url}/charge?lat=51.05&lon=3.72")
        assert await page.locator("h1").inner_text() == "Our charging stations"
        assert await page.locator(".stations a").count() == 3
        assert "km" in await page.locator(".stations a").first.inner_text()  # nearest first
        await page.screenshot(path=str(shots / "driver-stations.png"), full_page=True)

        await page.goto(f"{cpo.url}{EVSE_PAGE}")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        assert await page.locator("#status").inner_text() == "Available"
        prices = await page.locator("table.prices").first.inner_text()
        assert "per kWh" in prices and "EUR 0.605" in prices and "per session" in prices and "EUR 1.21" in prices
        button = page.get_by_role("button", name="Pay and charge")
        assert await button.is_visible() and await button.is_enabled()
        await page.screenshot(path=str(shots / "driver-page.png"), full_page=True)

        # the status follows the charger by itself (the page polls every 5 s)
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        await page.wait_for_function("document.getElementById('status').textContent === 'In use'", timeout=15000)

        # pay: the browser's card token (what Stripe.js gives) is Stripe's test card here
        await page.fill("#email", "dora@example.com")
        await page.evaluate("document.getElementById('payment_method').value = 'pm_card_visa'")
        await button.click()
        await page.wait_for_url("**/pay/*")
        await wait_for(lambda: any(a == "RemoteStartTransaction" for a, _ in cp.received))
        tag = next(p for a, p in cp.received if a == "RemoteStartTransaction")["id_tag"]
        t0 = past(20)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso(t0)))
        await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
            {"timestamp": iso(t0 + timedelta(minutes=15)), "sampledValue": [
                {"value": "12000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        stop = page.get_by_role("button", name="Stop charging")
        await stop.wait_for(timeout=15000)  # the page reloads itself when the session starts
        await page.wait_for_function("document.getElementById('kwh') && "
                                     "document.getElementById('kwh').textContent.startsWith('12.00')", timeout=15000)
        assert (await page.locator("#cost").inner_text()).startswith("EUR 8.")  # 12 x 0.605 + 1.21 = 8.47
        await page.screenshot(path=str(shots / "driver-session.png"), full_page=True)
        await stop.click()
        await wait_for(lambda: any(a == "RemoteStopTransaction" for a, _ in cp.received))
        await cp.call(call.StopTransaction(meter_stop=12000, timestamp=iso(t0 + timedelta(minutes=16)),
                                           transaction_id=start.transaction_id))
        receipt = page.get_by_role("link", name="Receipt")
        await page.reload()
        await receipt.wait_for(timeout=15000)
        await receipt.click()
        await page.wait_for_url("**/receipt")
        text = await page.locator("main").inner_text()
        assert "Total EUR" in text and "8.47" in text
        await page.screenshot(path=str(shots / "driver-receipt.png"), full_page=True)
    await context.close()
