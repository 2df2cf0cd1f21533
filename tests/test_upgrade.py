"""An upgrade keeps what the previous release stored: the day's count, a wait, missing cars, sessions.

The stores in fixtures/release_0_1_0/ were written by release 0.1.0 (two stores: the entry's and
its charging sessions'), at 21:10 on a charging evening: 16 requests made, the iX missing since
21:05, a wait the service asked for until 21:40, and an hour of the i3s's charge.
"""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.const import CONF_DAILY_REQUEST_LIMIT, DOMAIN
from simulator import Simulator
from tests.conftest import I3S_VIN, IX_VIN
from tests.helpers import FIXTURES, REQUESTS_TODAY, advance, requests, set_up

KEY = f"{DOMAIN}.01KDEMOENTRY0000000000000"
RATE = "sensor.bmw_i3s_94_rex_charging_rate"


@pytest.fixture
def release_0_1_0_stores(hass_storage: dict[str, Any]) -> dict[str, Any]:
    """Put the stores release 0.1.0 wrote where Home Assistant keeps them."""
    for name, key in (("store", KEY), ("store.charging", f"{KEY}.charging")):
        hass_storage[key] = json.loads((FIXTURES / "release_0_1_0" / f"{name}.json").read_text())
    return hass_storage


@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T21:11:00+00:00")
async def test_an_upgrade_keeps_the_count_the_wait_missing_cars_and_sessions(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    release_0_1_0_stores: dict[str, Any],
) -> None:
    # The i3s goes on charging at 10 % an hour from where release 0.1.0 last saw it.
    simulator.update_car(I3S_VIN, percentage=56.1)
    simulator.remove_car(IX_VIN)
    mock_config_entry.add_to_hass(hass)
    # The iX's device, as release 0.1.0 left it.
    device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={(DOMAIN, IX_VIN)}
    )
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 200})

    # Counted, and waiting until 21:40 as the service asked: nothing sent, nothing reset.
    assert hass.states.get(REQUESTS_TODAY).state == "16"
    await advance(hass, freezer, timedelta(minutes=28))
    assert requests(simulator) == 0
    await advance(hass, freezer, timedelta(minutes=2))
    assert requests(simulator) == 2
    # The session goes on: its rate shows at the first poll, not 20 minutes of changes later.
    assert float(hass.states.get(RATE).state) == pytest.approx(10, abs=1)
    assert hass.states.get(REQUESTS_TODAY).state == "18"
    # The iX went missing at 21:05: its device goes an hour and three polls later, at 22:05.
    await advance(hass, freezer, timedelta(minutes=20))
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, IX_VIN), mock_config_entry.entry_id
    )
    await advance(hass, freezer, timedelta(minutes=6))
    assert not device_registry.async_get_device_by_identifier(
        (DOMAIN, IX_VIN), mock_config_entry.entry_id
    )
    # One store of the new version; the old charging store is gone.
    assert f"{KEY}.charging" not in release_0_1_0_stores
    assert release_0_1_0_stores[KEY]["version"] == 2
