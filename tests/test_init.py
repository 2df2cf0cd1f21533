"""Setting up and unloading a config entry."""

from __future__ import annotations

from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.orangepower_bmw.const import DOMAIN
from simulator import Simulator


async def test_setup_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry, simulator: Simulator
) -> None:
    assert init_integration.state is ConfigEntryState.LOADED
    assert simulator.counts == {"token": 1, "vehicles": 1}
    assert hass.states.get("sensor.bmw_i3s_94_rex_battery") is not None
    await hass.config_entries.async_unload(init_integration.entry_id)
    assert init_integration.state is ConfigEntryState.NOT_LOADED


async def test_setup_retries_while_the_service_is_unreachable(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    """Retried by Home Assistant, without asking the user anything."""
    # A password refused at setup asks for a new one: test_config_flow's
    # test_the_forms_requests_count_against_the_entry.
    simulator.inject_fault("vehicles", status=503)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


# What this integration relies on in Home Assistant's DataUpdateCoordinator, which sets no timer
# of its own here: the schedule's one timer is set after every refresh.


class Probe(DataUpdateCoordinator[int]):
    """A coordinator without an interval that fails as told and counts its refreshes."""

    fail: Exception | None = None
    updates = 0
    finished = 0

    async def _async_update_data(self) -> int:
        self.updates += 1
        if self.fail is not None:
            raise self.fail
        return self.updates

    @callback
    def _async_refresh_finished(self) -> None:
        self.finished += 1


async def test_home_assistant_calls_back_after_every_refresh_and_polls_on_its_own_never(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    entry = MockConfigEntry(domain="probe")
    entry.add_to_hass(hass)
    probe = Probe(hass, logging.getLogger(__name__), config_entry=entry, name="probe")
    probe.async_add_listener(lambda: None)

    for fail in (None, UpdateFailed("down"), ConfigEntryAuthFailed("refused")):
        probe.fail = fail
        await probe.async_refresh()
    freezer.tick(timedelta(days=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    assert (probe.updates, probe.finished) == (3, 3)
    assert probe.data == 1


async def test_home_assistant_keeps_the_data_when_a_first_refresh_fails(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(domain="probe")
    entry.add_to_hass(hass)
    entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    probe = Probe(hass, logging.getLogger(__name__), config_entry=entry, name="probe")
    probe.data, probe.fail = 7, UpdateFailed("down")

    with pytest.raises(ConfigEntryNotReady):
        await probe.async_config_entry_first_refresh()

    assert (probe.data, probe.last_update_success) == (7, False)
