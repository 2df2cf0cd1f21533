"""Helpers shared by the integration's tests."""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
import yaml

from simulator import Simulator

FIXTURES = Path(__file__).parent / "fixtures"
README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
WALLBOX = "input_boolean.wallbox_plugged_in"
IX_BATTERY = "sensor.bmw_ix_xdrive50_battery"
IX_PLUG = "binary_sensor.bmw_ix_xdrive50_charger_connected"
REQUESTS_TODAY = "sensor.orange_power_connect_d_example_com_requests_today"
NEXT_UPDATE = "sensor.orange_power_connect_d_example_com_next_update"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move the clock on and let every refresh that falls due run to its end."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def requests(simulator: Simulator) -> int:
    """Return every request the service received."""
    return sum(simulator.counts.values())


async def set_up(hass: HomeAssistant, entry: MockConfigEntry, **options: Any) -> None:
    """Set up the entry with these options on top of the fixture's."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, **options})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def minutes(hass: HomeAssistant, freezer: FrozenDateTimeFactory, count: int) -> None:
    """Move the clock on minute by minute."""
    for _ in range(count):
        await advance(hass, freezer, timedelta(minutes=1))


async def toggle(hass: HomeAssistant, entity_id: str) -> None:
    """Flip the stand-in wallbox."""
    await hass.services.async_call("input_boolean", "toggle", {"entity_id": entity_id}, True)


def reference(name: str) -> Any:
    """Return one of the service's reference answers, as its API reference shows it (fixtures/)."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def readme_yaml(section: str) -> Any:
    """Return the first YAML block of a README section."""
    text = README.split(f"### {section}\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None, section
    return yaml.safe_load(block.group(1))


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state."""
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """Set a number as the user does in the UI."""
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
    )


async def polls(hass: HomeAssistant, freezer: FrozenDateTimeFactory, count: int) -> None:
    """Let this many minutes pass, a poll every 5 (a charging car's interval)."""
    for _ in range(count // 5):
        await advance(hass, freezer, timedelta(minutes=5))
