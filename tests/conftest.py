"""Fixtures: the simulator served on loopback, a config entry pointing at it, a loaded integration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import settings
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported here so that the project's package, not one under the test plugin's testing_config, is cached.
import custom_components.orangepower_bmw  # noqa: F401
from custom_components.orangepower_bmw.const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    DOMAIN,
)
from simulator import Simulator, run_simulator
from tests.helpers import WALLBOX

# The same examples on every run and machine: a property test fails for the code, not for the draw.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.load_profile("reproducible")

EMAIL = "demo@example.com"
PASSWORD = "demo-password"
I3S_VIN = "WBY7Z8C5XJV123456"
IX_VIN = "WBY21CF0XPC654321"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


class SnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot format, kept in tests/snapshots/."""

    snapshot_dirname = "snapshots"


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Return the snapshot fixture writing to tests/snapshots/."""
    return snapshot.use_extension(SnapshotExtension)


@pytest.fixture
def local_day_in_utc() -> Iterator[None]:
    """Keep the local day in UTC for pure code, whatever zone another test left behind."""
    previous = dt_util.get_default_time_zone()
    dt_util.set_default_time_zone(UTC)
    yield
    dt_util.set_default_time_zone(previous)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable the entities that are disabled by default, so tests see all of them."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def simulator() -> Simulator:
    """Return a simulator of the default scenario: a charging i3s (km) and an unplugged iX (miles)."""
    return Simulator()


@pytest.fixture
async def simulator_url(simulator: Simulator, socket_enabled: None) -> AsyncIterator[str]:
    """Serve the simulator on 127.0.0.1 and return its base URL."""
    async with run_simulator(simulator) as url:
        yield url


@pytest.fixture
def entry_data(simulator_url: str) -> dict[str, Any]:
    """Return the data of a config entry for the demo account, without a stored token."""
    return {
        CONF_EMAIL: EMAIL,
        CONF_PASSWORD: PASSWORD,
        CONF_ACCOUNT_EMAIL: EMAIL,
        CONF_URL: simulator_url,
    }


@pytest.fixture
def mock_config_entry(entry_data: dict[str, Any]) -> MockConfigEntry:
    """Return a config entry for the demo account with default options."""
    return MockConfigEntry(
        domain=DOMAIN,
        # Fixed, so that snapshots of the account's entities (unique ids f"{entry_id}_...") hold.
        entry_id="01KDEMOENTRY0000000000000",
        title="d***@example.com",
        unique_id=EMAIL,
        data=entry_data,
        options={CONF_ACTIVE_INTERVAL: 5, CONF_IDLE_INTERVAL: 15},
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up the integration against the simulator and return its entry."""
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
async def london(hass: HomeAssistant) -> None:
    """Use a European household's time zone: UTC in winter, UTC+1 in summer."""
    await hass.config.async_set_time_zone("Europe/London")


@pytest.fixture
def idle(simulator: Simulator) -> Simulator:
    """Stop the i3s charging: both cars idle, the account polled every idle interval."""
    simulator.stop_charging(I3S_VIN)
    return simulator


@pytest.fixture
async def wallbox(hass: HomeAssistant) -> str:
    """Return an input_boolean standing in for the wallbox's plug sensor, off."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"wallbox_plugged_in": None}}
    )
    await hass.async_block_till_done()
    return WALLBOX
