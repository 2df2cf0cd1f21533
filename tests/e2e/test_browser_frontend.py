"""What a user sees in Home Assistant's frontend, in headless Chromium driven by Playwright.

Screenshots go to artifacts/screenshots/; with UPDATE_DOCS_SCREENSHOTS=1 the README's ones are also
copied to docs/images/. The browser may only talk to 127.0.0.1: any other request is blocked and
fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import itertools
import json
import os
from pathlib import Path
import re
import shutil

import pytest

from custom_components.orangepower_bmw.charging import CarCharging, Session
from scripts.bootstrap_dev import (
    DASHBOARD_URL,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    HomeAssistantApi,
    wait_for_cars,
    wait_until_up,
)
from tests.e2e.conftest import (
    OWNER_PASSWORD,
    OWNER_USERNAME,
    ROOT,
    START_TIMEOUT,
    Stack,
    unpinned_requirements,
    use_energy_charged,
    wait_for,
)

I3S_VIN = "WBY7Z8C5XJV123456"
I3S_BATTERY = "sensor.bmw_i3s_94_rex_battery"

CHROMIUM = Path(os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: scripts/setup installs it with apt when run as root "
        "(or set CHROMIUM to its path)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (see requirements_test.txt)"
)
expect = playwright_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.incremental, pytest.mark.timeout(300)]

# Chromium without a sandbox (root, containers) and without its own calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
# The frontend renders its first page slowly on a cold start; later waits are quicker.
FIRST_RENDER_MS = 90_000  # the first render compiles the frontend; slow on a busy 2-core machine
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DOCS_IMAGES = ROOT / "docs" / "images"


def _keep_screenshot(png: bytes, name: str, *, for_docs: bool) -> None:
    """Write a screenshot to the artifacts, and to the README's images when asked to."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / name).write_bytes(png)
    if for_docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOTS / name, DOCS_IMAGES / name)


async def save_screenshot(png: bytes, name: str, *, for_docs: bool = False) -> None:
    """Keep a screenshot as an artifact, and for the README when asked to."""
    await asyncio.to_thread(_keep_screenshot, png, name, for_docs=for_docs)


@pytest.fixture
async def page(
    stack: Stack, owner_api: HomeAssistantApi, tmp_path: Path
) -> AsyncIterator[playwright_api.Page]:
    """Return a page logged in to Home Assistant as the owner, through the login form."""
    blocked: list[str] = []

    async def only_loopback(route: playwright_api.Route) -> None:
        if route.request.url.startswith((stack.ha_url, "data:", "blob:")):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with playwright_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            locale="en-US",
        )
        try:
            await context.route("**/*", only_loopback)
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(15_000)
            await page.goto(stack.ha_url)
            await page.get_by_label("Username").fill(OWNER_USERNAME)
            await page.get_by_role("textbox", name="Password").fill(OWNER_PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await expect(page.get_by_role("link", name="Settings")).to_be_visible(
                timeout=FIRST_RENDER_MS
            )
            yield page
        finally:
            await context.close()
    assert blocked == [], "the frontend reached beyond 127.0.0.1"


async def test_adding_the_integration_shows_translated_fields_and_errors(
    stack: Stack, owner_api: HomeAssistantApi, page: playwright_api.Page
) -> None:
    await page.goto(f"{stack.ha_url}/config/integrations/dashboard")
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_placeholder("Search for a brand name").fill("Orange Power")
    await page.get_by_role("button", name="Orange Power BMW").click()

    for text in (
        "Connect your BMW",
        "Sign in with your MyBMW account.",
        "The e-mail address you sign in to the MyBMW app with.",
        "Leave empty otherwise: the MyBMW e-mail is used.",
    ):
        await expect(page.get_by_text(text)).to_be_visible()
    email = page.get_by_role("textbox", name="MyBMW e-mail")
    password = page.get_by_role("textbox", name="MyBMW password")
    address = page.get_by_role("textbox", name="Service address")
    await expect(
        page.get_by_role("textbox", name="Orange Power Connect account e-mail")
    ).to_be_empty()
    await expect(address).to_have_value("https://www.connect.orangepower.co.uk")

    await email.fill(DEMO_EMAIL)
    # The screenshot shows the address scripts/develop uses, not this test's simulator port.
    await address.fill("http://127.0.0.1:3000")
    dialog = page.get_by_role("dialog").last
    await save_screenshot(await dialog.screenshot(), "config_dialog.png", for_docs=True)
    await address.fill(stack.simulator_url)

    await password.fill("not-the-password")
    await page.get_by_role("button", name="Submit").click()
    await expect(
        page.get_by_text(
            "The service did not accept this sign-in. Check the MyBMW e-mail and password",
            exact=False,
        )
    ).to_be_visible()
    await save_screenshot(await dialog.screenshot(), "config_dialog_invalid_auth.png")

    await password.fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Submit").click()
    # Home Assistant offers to name the new devices and put them in areas: the cars and the account.
    await expect(page.get_by_role("textbox", name="Device name")).to_have_count(3)
    await expect(page.get_by_text("i3s 94 REX (2018)")).to_be_visible()
    await expect(page.get_by_text("iX xDrive50 (2023)")).to_be_visible()
    await page.get_by_role("button", name="Skip and finish").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)

    entries = await owner_api.entries()
    assert [entry["state"] for entry in entries] == ["loaded"]


async def test_the_device_page_shows_the_cars_values(
    stack: Stack, owner_api: HomeAssistantApi, page: playwright_api.Page
) -> None:
    if not await owner_api.entries():  # when run on its own
        await owner_api.add_integration(stack.simulator_url)

    await page.goto(f"{stack.ha_url}/config/integrations/integration/orangepower_bmw")
    await expect(page.get_by_text("Orange Power BMW").first).to_be_visible(timeout=FIRST_RENDER_MS)
    await expect(page.get_by_text("2 devices").first).to_be_visible()
    await expect(page.get_by_text("BMW iX xDrive50")).to_be_visible()
    await save_screenshot(await page.screenshot(), "integration_page.png")

    await page.get_by_text("BMW i3s 94 REX").click()
    await expect(page.get_by_text("Serial number: WBY7Z8C5XJV123456")).to_be_visible()
    for name, shown in (
        ("Battery", "45%"),
        ("Charger connected", "Plugged in"),
        ("Charger", "Charging"),
        ("Electric range", "67 km"),
    ):
        row = page.locator("hui-generic-entity-row").filter(
            has=page.locator(".info").get_by_text(name, exact=True)
        )
        await expect(row).to_contain_text(shown)
    # Disabled: charging and charging status (the Charger says it), and the diagnostics charging
    # type, last update and battery last changed.
    await expect(page.get_by_text("+2 disabled entities")).to_have_count(1)
    await expect(page.get_by_text("+3 disabled entities")).to_have_count(1)
    await save_screenshot(await page.screenshot(), "device_page.png", for_docs=True)


def a_week_of_statistics(now: datetime, level_now: int) -> list[tuple[datetime, float]]:
    """Return the i3s's hourly battery level over the last week, ending in the charge it is in now.

    Each night it charges 10 % an hour for six hours from 10 % below the level it shows now (its
    charge began an hour ago), holds until the morning, and is driven back down by night.
    """
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    lowest, highest = level_now - 10, level_now + 50
    levels = []
    for hours_ago in range(7 * 24, 0, -1):
        # Hour 0 of each day's pattern is when the charge starts: the last hour is one.
        hour = (1 - hours_ago) % 24
        if hour < 6:
            level = lowest + 10 * hour
        elif hour < 10:
            level = highest
        else:
            level = highest - (highest - lowest) * (hour - 10) / 14
        levels.append((this_hour - timedelta(hours=hours_ago), float(level)))
    return levels


async def seed_statistics(api: HomeAssistantApi, level_now: int) -> None:
    """Import a week of the i3s's hourly battery and range statistics, as a week of use leaves."""
    week = a_week_of_statistics(datetime.now(UTC), level_now)
    for key, unit, unit_class, per_percent in (
        ("battery", "%", None, 1.0),
        ("electric_range", "km", "distance", 1.48),
    ):
        await api.ws(
            "recorder/import_statistics",
            metadata={
                "statistic_id": f"sensor.bmw_i3s_94_rex_{key}",
                "source": "recorder",
                "name": None,
                "has_mean": True,
                "mean_type": 1,
                "has_sum": False,
                "unit_of_measurement": unit,
                "unit_class": unit_class,
            },
            stats=[
                {
                    "start": start.isoformat(),
                    "mean": level * per_percent,
                    "min": (level - 1) * per_percent,
                    "max": (level + 1) * per_percent,
                }
                for start, level in week
            ],
        )
    ids = [f"sensor.bmw_i3s_94_rex_{key}" for key in ("battery", "electric_range")]

    async def imported() -> bool:
        # The recorder imports in its own thread: wait until every hour is there.
        found = await api.ws(
            "recorder/statistics_during_period",
            start_time=week[0][0].isoformat(),
            statistic_ids=ids,
            period="hour",
            types=["mean"],
        )
        return all(len(found.get(statistic_id, [])) == len(week) for statistic_id in ids)

    await wait_for("the week's statistics to be imported", imported)


@pytest.fixture
async def seeded_estimate(stack: Stack, owner_api: HomeAssistantApi) -> int:
    """Restart Home Assistant with the last hour of the i3s's charge stored; return its level.

    An estimate needs level changes spanning 20 minutes of the current charge, and the simulator's
    charge moves 1 % in 6 minutes. Rather than wait, this seeds the estimator's stored session (as
    it would be after an hour of 10 % an hour) while Home Assistant is stopped; its first poll
    after the start goes on from there.
    """
    entry_id = (await owner_api.entries())[0]["entry_id"]
    level = int((await owner_api.states(I3S_BATTERY))[I3S_BATTERY]["state"])
    stack.stop_hass()
    now = datetime.now(UTC)
    changes = [(now - timedelta(minutes=6 * step), level - step) for step in range(9, -1, -1)]
    seeded = CarCharging(
        level=level,
        level_since=now,
        session=Session(
            started_at=now - timedelta(hours=1),
            level=level,
            level_since=now,
            last_poll=now,
            changes=changes,
        ),
    )
    path = stack.config_dir / ".storage" / f"orangepower_bmw.{entry_id}"
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["data"]["charging"][I3S_VIN] = seeded.as_dict()
    path.write_text(json.dumps(stored), encoding="utf-8")
    stack.start_hass()
    await wait_until_up(owner_api.session, stack.ha_url, START_TIMEOUT, alive=stack.hass_alive)
    await wait_for_cars(owner_api, START_TIMEOUT)
    return level


async def test_the_cars_dashboard_is_what_a_newcomer_lands_on(
    stack: Stack, owner_api: HomeAssistantApi, seeded_estimate: int, page: playwright_api.Page
) -> None:
    # Seeded, so that the week's graph (and the README's screenshot) shows what a week of use leaves;
    # a new car has its first hourly statistics an hour after it is added.
    await seed_statistics(owner_api, seeded_estimate)
    # What scripts/develop's first run does, after the cars arrived.
    assert await owner_api.add_dashboard() == "added"
    assert await owner_api.add_dashboard() == "kept"  # a second run leaves it alone

    await page.goto(stack.ha_url)
    await expect(page).to_have_url(re.compile(f"/{DASHBOARD_URL}/cars$"), timeout=FIRST_RENDER_MS)
    i3s = page.locator("hui-grid-section").filter(has=page.get_by_text("BMW i3s 94 REX"))
    ix = page.locator("hui-grid-section").filter(has=page.get_by_text("BMW iX xDrive50"))

    def tile(section: playwright_api.Locator, name: str) -> playwright_api.Locator:
        return section.locator("hui-tile-card").filter(has=page.get_by_text(name, exact=True))

    # A regular expression meets the text as the frontend renders it, spaces around it included.
    level = re.compile(rf"^\s*({seeded_estimate}|{seeded_estimate + 1})%\s*$")
    await expect(tile(i3s, "Battery").get_by_text(level)).to_be_visible(timeout=FIRST_RENDER_MS)
    await expect(tile(i3s, "Charger").get_by_text("Charging", exact=True)).to_be_visible()

    # From 50-odd % at 10 % an hour: about five hours to the 100 % target.
    # A timestamp is drawn as a relative time, in a shadow root of its own: read it from there.
    async def charge_end_shown() -> str | None:
        shown: str = await (
            tile(i3s, "Charge end")
            .locator("hui-timestamp-display")
            .evaluate("display => display.shadowRoot.textContent.trim()")
        )
        return shown if re.fullmatch(r"In [4-6] hours", shown) else None

    await wait_for("the estimated end about five hours away", charge_end_shown)
    await expect(
        tile(i3s, "Charging rate").get_by_text(re.compile(r"^\s*\d+(\.\d)? ?%/h\s*$"))
    ).to_be_visible()
    await expect(tile(i3s, "Charge target").get_by_text("100%")).to_be_visible()
    await expect(tile(ix, "Battery").get_by_text("64%")).to_be_visible()
    await expect(tile(ix, "Charger").get_by_text("Disconnected", exact=True)).to_be_visible()
    await expect(tile(ix, "Charge end").get_by_text("Unknown", exact=True)).to_be_visible()

    # The 24-hour graph is drawn, with the battery's line in it.
    graph = i3s.locator("hui-history-graph-card")
    await expect(graph.locator("canvas").first).to_be_visible()
    await expect(graph.get_by_text("BMW i3s 94 REX ▸ Battery")).to_be_visible()
    week = i3s.locator("hui-statistics-graph-card")
    await expect(week.locator("canvas").first).to_be_visible()
    await expect(week.get_by_text("No statistics found")).to_have_count(0)
    # The charts draw their lines in an animation of about a second: let it end for the picture.
    await page.wait_for_timeout(2_000)
    await save_screenshot(await page.screenshot(full_page=True), "dashboard.png", for_docs=True)


async def test_the_energy_dashboard_shows_a_car_as_an_individual_device(
    stack: Stack, owner_api: HomeAssistantApi, page: playwright_api.Page
) -> None:
    # A week of nightly charges, as hourly statistics, so that the picture shows what use leaves.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [now - timedelta(hours=hours_ago) for hours_ago in range(7 * 24, 0, -1)]
    added = itertools.accumulate(2.5 if hour.hour in (1, 2, 3, 4) else 0.0 for hour in hours)
    totals = list(zip(hours, added, strict=True))
    await use_energy_charged(owner_api, "bmw_i3s_94_rex", totals)

    await page.goto(f"{stack.ha_url}/energy")
    await expect(page.get_by_text("Individual devices detail")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    await expect(
        page.get_by_text("BMW i3s 94 REX Energy charged (estimate)", exact=True).first
    ).to_be_visible()
    # The charts draw their bars in an animation: let it end for the picture.
    await page.wait_for_timeout(3_000)
    await save_screenshot(await page.screenshot(), "energy_dashboard.png", for_docs=True)


async def test_the_pages_opened_installed_no_package(
    stack: Stack, owner_api: HomeAssistantApi
) -> None:
    """The pages a newcomer opens load integrations too: none was installed, all are pinned."""
    assert "Attempting install" not in stack.log_text()
    assert unpinned_requirements(await owner_api.get("/api/components")) == []
