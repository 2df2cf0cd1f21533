"""What a user sees in Home Assistant's frontend, in headless Chromium driven by Playwright.

Screenshots go to artifacts/screenshots/; with UPDATE_DOCS_SCREENSHOTS=1 the README's ones are also
copied to docs/images/. The browser may only talk to 127.0.0.1: any other request is blocked and
fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import os
from pathlib import Path
import shutil

import pytest

from scripts.bootstrap_dev import DEMO_EMAIL, DEMO_PASSWORD, HomeAssistantApi
from tests.e2e.conftest import OWNER_PASSWORD, OWNER_USERNAME, ROOT, Stack

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

    await expect(page.get_by_text("Connect your BMW")).to_be_visible()
    await expect(page.get_by_text("Sign in with your MyBMW account.")).to_be_visible()
    await expect(
        page.get_by_text("The e-mail address you sign in to the MyBMW app with.")
    ).to_be_visible()
    await expect(
        page.get_by_text("Leave empty to use your MyBMW e-mail.", exact=False)
    ).to_be_visible()
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
            "The service did not accept this e-mail and password. Check them in the MyBMW app."
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
        ("Charging", "Charging"),
        ("Charging status", "Charging"),
        ("Electric range", "67 km"),
    ):
        row = page.locator("hui-generic-entity-row").filter(
            has=page.locator(".info").get_by_text(name, exact=True)
        )
        await expect(row).to_contain_text(shown)
    await expect(page.get_by_text("+2 disabled entities")).to_be_visible()
    await save_screenshot(await page.screenshot(), "device_page.png", for_docs=True)
