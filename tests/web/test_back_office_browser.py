"""The back office in a real browser (the system's Chromium, driven by Playwright): signing in,
every page of the navigation opening without a console error (a screenshot of each), a Reset
pressed in the browser reaching an `ocpp`-library charger, a status change and meter values
appearing without a reload, charts drawn, a viewer who cannot act, a POST without its CSRF
token refused, and the tariff preview equal to `evroam tariff estimate`.

One browser and one evroam instance serve the whole module. EVROAM_UI_SCREENSHOTS=docs/ui
writes the screenshots where docs/ui.md shows them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import pytest_asyncio
from browser import (
    CHARGER,
    CHROMIUM,
    EVSE_2,
    LOCATION,
    USERS,
    build_network,
    chromium_missing,
    meter,
    screenshots_folder,
)
from charge_points import past
from ocpp.v16 import call

pytestmark = [pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or ""),
              pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

NAVIGATION = ["Overview", "Map", "Chargers", "Sessions", "CDRs", "Tariffs", "Partners", "Sites", "Drivers",
              "Statistics", "Log"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def network(tmp_path_factory):
    async with AsyncExitStack() as stack:
        yield await build_network(tmp_path_factory.mktemp("network"), stack)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    return screenshots_folder(tmp_path_factory.mktemp("screens"))


class Tab:
    """A signed-in page and the console errors it reported."""

    def __init__(self, context, page, errors: list[str]) -> None:
        self.context, self.page, self.errors = context, page, errors

    async def close(self) -> None:
        await self.context.close()


async def open_tab(browser, network, name: str | None = None) -> Tab:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, base_url=network.url)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.set_default_timeout(10_000)
    if name is not None:
        await page.goto("/")
        await page.get_by_label("Username").fill(name)
        await page.get_by_label("Password").fill(USERS[name][1])
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(network.url + "/")
    return Tab(context, page, errors)


async def test_sign_in(browser, network, screens):
    from playwright.async_api import expect

    tab = await open_tab(browser, network)
    page = tab.page
    await page.goto("/")
    assert page.url.startswith(network.url + "/login")  # no session: the sign-in page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the evroam back office")
    await page.screenshot(path=screens / "sign-in.png")
    await page.get_by_label("Username").fill("olly")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    await page.get_by_label("Password").fill(USERS["olly"][1])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(network.url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    nav = page.get_by_role("navigation", name="Main")
    assert await nav.get_by_role("link").all_inner_texts() == NAVIGATION
    cookies = {c["name"]: c for c in await tab.context.cookies()}
    session = cookies["evroam_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert tab.errors == []
    await tab.close()


async def test_every_page_opens_without_console_errors(browser, network, screens):
    from playwright.async_api import expect

    tab = await open_tab(browser, network, "ada")
    page = tab.page
    nav = page.get_by_role("navigation", name="Main")
    for label in NAVIGATION:
        await nav.get_by_role("link", name=label, exact=True).click()
        await page.wait_for_load_state("load")
        await expect(page.locator("h1")).to_have_count(1)
        await expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        for table in await page.locator("table").all():  # tables have header cells
            assert await table.locator("th").count() > 0
        for chart in await page.locator("figure").all():  # every chart: a figure with a caption
            assert await chart.locator("figcaption").count() == 1
            assert await chart.locator("canvas, svg").count() >= 1
        await page.screenshot(path=screens / f"{label.lower()}.png", full_page=True)
    # the pages behind the lists
    details = {"charger": f"/chargers/{CHARGER}", "session": f"/sessions/{network.running}",
               "cdr": f"/cdrs/NL/EVR/{network.finished}", "tariff": "/tariffs/DC-1", "site": f"/sites/{LOCATION}",
               "driver": "/drivers/Dana Driver", "audit": "/audit"}
    for name, path in details.items():
        await page.goto(path)
        await expect(page.locator("h1")).to_have_count(1)
        if name in ("session", "site"):
            await expect(page.locator("[data-drawn=true] canvas").first).to_be_visible()
        await page.screenshot(path=screens / f"{name}.png", full_page=True)
    assert tab.errors == [], tab.errors
    await tab.close()


async def test_keyboard_reaches_the_navigation_and_the_commands(browser, network):
    tab = await open_tab(browser, network, "olly")
    page = tab.page
    await page.goto(f"/chargers/{CHARGER}")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    seen = []
    for _ in range(60):
        await page.keyboard.press("Tab")
        seen.append(await page.evaluate("document.activeElement.textContent.trim()"))
    assert "Chargers" in seen and "Reset" in seen
    await tab.close()


async def test_reset_pressed_in_the_browser_reaches_the_charger(browser, network):
    from playwright.async_api import expect

    tab = await open_tab(browser, network, "olly")
    page = tab.page
    await page.goto(f"/chargers/{CHARGER}")
    before = len(network.cp.received)
    await page.get_by_label("hard").check()
    await page.get_by_role("button", name="Reset", exact=True).click()
    await expect(page.locator("#command-result")).to_contain_text("Reset (hard) sent")
    await expect(page.locator("#command-result")).to_contain_text('"status": "Accepted"')
    assert network.cp.received[before:] == [("Reset", {"type": "Hard"})]
    # who did it is in the audit log, shown in the browser
    await page.goto("/audit")
    row = page.locator("tbody tr").first
    await expect(row).to_contain_text("olly")
    await expect(row).to_contain_text("charger.reset")
    await expect(row).to_contain_text("answer: Accepted")
    assert tab.errors == []
    await tab.close()


async def test_a_status_change_appears_without_reload(browser, network):
    from playwright.async_api import expect

    tab = await open_tab(browser, network, "vic")
    page = tab.page
    await page.goto(f"/chargers/{CHARGER}")
    await expect(page.locator("#live-state")).to_have_text("live")
    await page.evaluate("window.notReloaded = true")
    badge = page.locator(f'[data-evse="{LOCATION}/{EVSE_2}"]')
    await expect(badge).to_have_text("AVAILABLE")
    await network.cp.call(call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted"))
    await expect(badge).to_have_text("OUTOFORDER")
    await expect(badge).to_have_class("badge bad")
    # the map too
    await page.goto("/map")
    await expect(page.locator("#live-state")).to_have_text("live")
    await page.evaluate("window.notReloaded = true")
    dot = page.locator("#map-svg circle").first
    await expect(page.locator(f'[data-location-status="{LOCATION}"]')).to_have_text("OUTOFORDER")
    await network.cp.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Available"))
    await expect(page.locator(f'[data-evse="{LOCATION}/{EVSE_2}"]')).to_have_text("AVAILABLE")
    await expect(page.locator(f'[data-location-status="{LOCATION}"]')).to_have_text("AVAILABLE")
    assert await dot.count() == 1 or await page.locator("#map-svg circle").count() == 3
    assert await page.evaluate("window.notReloaded") is True
    assert tab.errors == []
    await tab.close()


async def test_the_session_chart_is_drawn_and_grows_live(browser, network):
    from playwright.async_api import expect

    tab = await open_tab(browser, network, "vic")
    page = tab.page
    await page.goto(f"/sessions/{network.running}")
    await expect(page.locator("#live-state")).to_have_text("live")
    canvas = page.locator("#session-chart canvas")
    await expect(canvas).to_be_visible()
    painted = await canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }")
    assert painted > 1000  # lines and axes drawn, not an empty canvas
    points = page.locator('[data-chart-points="session-chart"]')
    before = int(await points.inner_text())
    await page.evaluate("window.notReloaded = true")
    await network.cp.call(call.MeterValues(connector_id=1, transaction_id=network.transaction_id,
                                           meter_value=[meter(past(0), 56000, 22500)]))
    await expect(points).to_have_text(str(before + 1))
    await expect(page.locator('[data-figure="kwh"]')).to_have_text("6.000 kWh")  # 56000 - 50000 Wh
    assert await page.evaluate("window.notReloaded") is True
    # the statistics' energy chart too
    await page.goto("/statistics")
    await expect(page.locator("#energy-chart canvas")).to_be_visible()
    assert await page.locator("svg.heatmap rect").count() == 7 * 24
    assert tab.errors == []
    await tab.close()


async def test_a_viewer_sees_no_actions_and_cannot_act(browser, network):
    tab = await open_tab(browser, network, "vic")
    page = tab.page
    await page.goto(f"/chargers/{CHARGER}")
    assert await page.get_by_role("button", name="Reset").count() == 0
    assert await page.locator("form[method=post]").count() == 1  # only "Sign out"
    for path in ("/partners", f"/sites/{LOCATION}", "/drivers/Dana Driver"):
        await page.goto(path)
        assert await page.locator("form[method=post]").count() == 1, path
    csrf = await page.evaluate("document.body.dataset.csrf")
    before = len(network.cp.received)
    reply = await page.request.post(f"/chargers/{CHARGER}/reset", form={"kind": "hard", "csrf": csrf})
    assert reply.status == 403 and "viewer" in await reply.text()
    reply = await page.request.post(f"/sites/{LOCATION}", form={"capacity_kw": "1", "csrf": csrf})
    assert reply.status == 403
    assert network.cp.received[before:] == []
    site = await network.platform.sites.get(LOCATION)
    assert site.capacity_kw == 50.0
    await tab.close()


async def test_a_post_without_its_csrf_token_is_refused(browser, network):
    tab = await open_tab(browser, network, "ada")
    page = tab.page
    before = len(network.cp.received)
    for form in ({"kind": "soft"}, {"kind": "soft", "csrf": "forged"}):
        reply = await page.request.post(f"/chargers/{CHARGER}/reset", form=form)
        assert reply.status == 403 and "CSRF" in await reply.text()
    reply = await page.request.post(f"/sites/{LOCATION}", form={"capacity_kw": "1"})
    assert reply.status == 403
    assert network.cp.received[before:] == []
    assert (await network.platform.sites.get(LOCATION)).capacity_kw == 50.0
    await tab.close()


@pytest.mark.parametrize("tariff_id, kwh, minutes, start", [("DC-1", "23.5", "47", "2024-05-06T18:30"),
                                                            ("AC-1", "11", "95", "2024-05-11T09:10")])
async def test_the_tariff_preview_equals_the_cli_estimate(browser, network, tmp_path, tariff_id, kwh, minutes, start):
    from playwright.async_api import expect

    tab = await open_tab(browser, network, "vic")
    page = tab.page
    await page.goto(f"/tariffs/{tariff_id}")
    await page.get_by_label("Energy (kWh)").fill(kwh)
    await page.get_by_label("Duration (minutes)").fill(minutes)
    await page.get_by_label("Start").fill(start)
    await page.get_by_label("Time zone").fill("Europe/Amsterdam")
    await page.get_by_role("button", name="Show the price").click()
    excl = page.locator('[data-preview="excl_vat"]')
    await expect(excl).to_be_visible()
    shown = (await excl.inner_text(), await page.locator('[data-preview="incl_vat"]').inner_text())

    tariff = await network.platform.price_views.tariff(tariff_id)
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(tariff))
    power = float(kwh) * 60 / float(minutes)
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "evroam", "tariff", "estimate", "--tariff", str(path), "--kwh", kwh,
                         "--power-kw", repr(power), "--start", start, "--tz", "Europe/Amsterdam", "--decimals", "2"],
        capture_output=True, text=True, timeout=60, check=True)
    total = json.loads(cli.stdout)["total_cost"]
    assert shown == (f"{total['excl_vat']:.2f} EUR", f"{total['incl_vat']:.2f} EUR")
    assert total["excl_vat"] > 0
    if tariff_id == "DC-1":  # 0.50 + 23.5 kWh x 0.25 = 6.375 -> 6.38 (6.36 + 0.60 ... incl. VAT)
        assert shown[0] == "6.38 EUR"
    if tariff_id == "DC-1":
        await page.screenshot(path=screenshots_folder(tmp_path) / "tariff-preview.png", full_page=True)
    assert tab.errors == []
    await tab.close()
