"""A newcomer makes the cheap-tariff automation from the blueprint in the UI, and it charges the car.

What the README's "Try the blueprint there" asks of a newcomer, in headless Chromium: the demo
account is added through the API (as scripts/develop does), then, only through the frontend, an
automation is made from "Charge a BMW on a cheap tariff" with the i3s's entities and the
development configuration's stand-ins, and saved. A cheap period that starts while the i3s charges
below its target turns the Wallbox stand-in on. Screenshots go to artifacts/screenshots/blueprint_*
(artifacts only, none is the README's).
"""

from __future__ import annotations

from datetime import UTC, datetime
import re
from typing import Any
from urllib.parse import quote

import pytest

from scripts.bootstrap_dev import HomeAssistantApi, wait_for_cars
from tests.e2e.conftest import START_TIMEOUT, Stack, wait_for, wait_for_states
from tests.e2e.test_browser_frontend import (
    FIRST_RENDER_MS,
    expect,
    page,
    playwright_api,
    save_screenshot,
)

# The logged-in page fixture of the frontend tests, on this module's own Home Assistant: pytest
# finds a fixture by its name in the module.
__all__ = ["page"]

pytestmark = [pytest.mark.browser, pytest.mark.incremental, pytest.mark.timeout(300)]

BLUEPRINT = "Charge a BMW on a cheap tariff"
I3S = "BMW i3s 94 REX"
BATTERY = "sensor.bmw_i3s_94_rex_battery"
PLUG = "binary_sensor.bmw_i3s_94_rex_charger_connected"
CHARGER = "sensor.bmw_i3s_94_rex_charger"
TARGET = "number.bmw_i3s_94_rex_charge_target"
CHEAP_TOGGLE = "input_boolean.cheap_electricity"
CHEAP_NOW = "binary_sensor.cheap_now"
WALLBOX = "switch.wallbox"
# The blueprint's inputs as the automation saves them.
INPUTS = {
    "battery_sensor": BATTERY,
    "charger_connected_sensor": PLUG,
    "cheap_now_sensor": CHEAP_NOW,
    "charger_switch": WALLBOX,
    "charge_target_entity": TARGET,
}


# Whether no animation runs, in the document or any shadow root (the frontend's are in theirs).
NO_ANIMATION_RUNS = """() => {
    const roots = [document];
    for (let i = 0; i < roots.length; i++) {
        for (const element of roots[i].querySelectorAll("*")) {
            if (element.shadowRoot) roots.push(element.shadowRoot);
        }
    }
    return roots.every(root => root.getAnimations().every(a => a.playState !== "running"));
}"""


async def test_the_demo_account_is_added(stack: Stack, owner_api: HomeAssistantApi) -> None:
    # As scripts/develop's first run does, through the config-flow API.
    await owner_api.add_integration(stack.simulator_url)
    await wait_for_cars(owner_api, START_TIMEOUT)
    # The stand-ins of the development configuration are there, off. The template entities are
    # unknown until Home Assistant has started and they render.
    stand_ins = dict.fromkeys((CHEAP_TOGGLE, CHEAP_NOW, WALLBOX), "off")
    await wait_for_states(owner_api, "the stand-ins to be off", stand_ins)


async def open_picker(
    page: playwright_api.Page, label: str
) -> tuple[playwright_api.Locator, list[str]]:
    """Open the entity picker of a blueprint input; return the input's row and what it offers.

    Each option reads "name device domain", e.g. "Battery BMW i3s 94 REX Sensor".
    """
    row = page.locator("ha-settings-row").filter(has=page.get_by_text(label, exact=True))
    await row.locator("ha-entity-picker").click()
    options = page.get_by_role("dialog", name="Select option").locator("ha-combo-box-item")
    await expect(options.first).to_be_visible()
    # The list slides and fades in: wait for it to be drawn whole, for the screenshots.
    await page.wait_for_function(NO_ANIMATION_RUNS)
    offered: list[str] = await options.evaluate_all(
        "items => items.map(item => item.textContent.replace(/\\s+/g, ' ').trim())"
    )
    return row, offered


async def pick(page: playwright_api.Page, row: playwright_api.Locator, option: str) -> None:
    """Choose an option of the open picker; wait until the input shows it."""
    dialog = page.get_by_role("dialog", name="Select option")
    await dialog.locator("ha-combo-box-item").filter(has_text=option).click()
    await expect(dialog).to_have_count(0)
    await expect(row.locator("ha-entity-picker")).to_contain_text(option)


async def test_a_newcomer_makes_the_automation_from_the_blueprint(
    stack: Stack, owner_api: HomeAssistantApi, page: playwright_api.Page
) -> None:
    # Settings > Automations & scenes > Blueprints, as the README says.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name=re.compile(r"^Automations & scenes")).click()
    await page.get_by_role("tab", name="Blueprints").click()
    blueprint = page.get_by_role("rowheader", name=BLUEPRINT)
    await expect(blueprint).to_be_visible(timeout=FIRST_RENDER_MS)
    await save_screenshot(await page.screenshot(), "blueprint_list.png")

    await blueprint.click()
    await expect(page).to_have_url(re.compile(r"/config/automation/edit/new$"))
    await expect(page.get_by_text("The car's battery sensor (charge level in %).")).to_be_visible()

    row, offered = await open_picker(page, "Battery")
    assert offered == [f"Battery {I3S} Sensor", "Battery BMW iX xDrive50 Sensor"]
    await pick(page, row, f"Battery {I3S}")

    row, offered = await open_picker(page, "Charger connected")
    assert offered == [
        f"Charger connected {I3S} Binary sensor",
        "Charger connected BMW iX xDrive50 Binary sensor",
    ]
    await pick(page, row, f"Charger connected {I3S}")

    # Any binary sensor: the stand-in is among the cars' own.
    row, offered = await open_picker(page, "Cheap now")
    assert "Cheap now Binary sensor" in offered
    await pick(page, row, "Cheap now")

    row, offered = await open_picker(page, "Charger switch")
    assert offered == ["Wallbox Switch"]
    await save_screenshot(await page.screenshot(), "blueprint_charger_picker.png")
    await pick(page, row, "Wallbox")

    # Only the cars' Charge target numbers: Battery capacity is a number of the cars too.
    row, offered = await open_picker(page, "Charge target entity (optional)")
    assert offered == [f"Charge target {I3S} Number", "Charge target BMW iX xDrive50 Number"]
    await save_screenshot(await page.screenshot(), "blueprint_charge_target_picker.png")
    await pick(page, row, f"Charge target {I3S}")

    await save_screenshot(await page.screenshot(full_page=True), "blueprint_filled_in.png")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"/config/automation/edit/\d+$"))
    # A saved automation has traces (the Save button only slides out of view: it stays "visible").
    await expect(page.get_by_text("Traces", exact=True)).to_be_visible()
    await save_screenshot(await page.screenshot(), "blueprint_saved.png")

    automation_id = page.url.rsplit("/", 1)[1]
    saved = await owner_api.get(f"/api/config/automation/config/{automation_id}")
    assert saved["alias"] == BLUEPRINT
    assert saved["use_blueprint"] == {
        "path": "orangepower_bmw/charge_on_cheap_tariff.yaml",
        "input": INPUTS,
    }

    async def automation_on() -> bool:
        automations = await owner_api.states("automation.")
        return any(
            found["attributes"].get("id") == automation_id and found["state"] == "on"
            for found in automations.values()
        )

    await wait_for("the saved automation to be on", automation_on)


async def test_a_cheap_period_switches_the_wallbox_on(
    stack: Stack, owner_api: HomeAssistantApi, page: playwright_api.Page
) -> None:
    # The simulator's i3s is plugged in and charging, below its Charge target (100 % unless set).
    shown = {key: found["state"] for key, found in (await owner_api.states()).items()}
    assert shown[PLUG] == "on"
    assert shown[CHARGER] == "charging"
    level = float(shown[BATTERY])
    target = float(shown[TARGET])
    assert target == 100
    assert level < target
    assert shown[WALLBOX] == "off"

    # A cheap period starts: the stand-in's toggle, as its entity page would turn it.
    since = datetime.now(UTC).isoformat()
    await owner_api.post("/api/services/input_boolean/turn_on", {"entity_id": CHEAP_TOGGLE})

    async def wallbox_on() -> dict[str, Any] | None:
        found = (await owner_api.states(WALLBOX))[WALLBOX]
        return found if found["state"] == "on" else None

    switched = await wait_for("the Wallbox to be switched on", wallbox_on)
    # By an automation (a parent context, no user), not by the owner's call.
    assert switched["context"]["parent_id"] is not None
    assert switched["context"]["user_id"] is None

    # What the newcomer sees: the Activity page names the automation beside the Wallbox. It shows
    # what the recorder had written when it was opened, and the recorder writes in batches: the
    # page is opened once the logbook API tells the automation's doing (until then it names the
    # owner, whose toggle the automation ran for).
    async def logbook_names_the_automation() -> bool:
        logbook = await owner_api.get(f"/api/logbook/{quote(since)}?entity={WALLBOX}")
        return any(
            entry.get("state") == "on" and entry.get("context_domain") == "automation"
            for entry in logbook
        )

    await wait_for("the logbook to name the automation", logbook_names_the_automation, seconds=60)
    await page.get_by_role("link", name="Activity").click()
    wallbox = page.locator(".entry").filter(has=page.get_by_text("Wallbox", exact=True)).first
    await expect(wallbox).to_contain_text(
        re.compile(rf"Wallbox\s*→\s*On\s*By automation:\s*{BLUEPRINT}"), timeout=FIRST_RENDER_MS
    )
    await save_screenshot(await page.screenshot(), "blueprint_wallbox_on.png")
