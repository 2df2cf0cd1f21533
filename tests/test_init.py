"""Setting up and unloading a config entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import Simulator


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: Simulator
) -> None:
    assert init_integration.state is ConfigEntryState.LOADED
    assert simulator.counts == {"token": 1, "vehicles": 1}
    assert hass.states.get("sensor.bmw_i3s_94_rex_battery") is not None
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert init_integration.state is ConfigEntryState.NOT_LOADED
