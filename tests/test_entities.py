"""The entities a user sees for each car, in metric and in US customary units."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util.unit_system import METRIC_SYSTEM, US_CUSTOMARY_SYSTEM, UnitSystem
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.orangepower_bmw.const import DOMAIN
from tests.conftest import I3S_VIN, IX_VIN

pytestmark = pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    "units", [METRIC_SYSTEM, US_CUSTOMARY_SYSTEM], ids=["metric", "us_customary"]
)
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.NUMBER])
async def test_entities(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    units: UnitSystem,
    platform: Platform,
) -> None:
    hass.config.units = units
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.orangepower_bmw.PLATFORMS", [platform]):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)


async def test_range_is_converted_to_the_users_units(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    hass.config.units = US_CUSTOMARY_SYSTEM
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    # The iX reports 240 miles, kept in km and shown in miles again. The i3s reports 67 km.
    ix_range = hass.states.get("sensor.bmw_ix_xdrive50_electric_range")
    assert float(ix_range.state) == pytest.approx(240)
    assert ix_range.attributes["unit_of_measurement"] == "mi"
    i3s_range = hass.states.get("sensor.bmw_i3s_94_rex_electric_range")
    assert i3s_range.attributes["unit_of_measurement"] == "mi"
    assert float(i3s_range.state) == pytest.approx(67 / 1.609344, abs=0.01)


async def test_one_device_per_car(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    devices = dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)
    cars = [device for device in devices if device.entry_type is None]
    assert sorted(
        (device.name, device.manufacturer, device.model, device.serial_number) for device in cars
    ) == [
        ("BMW i3s 94 REX", "BMW", "i3s 94 REX (2018)", I3S_VIN),
        ("BMW iX xDrive50", "BMW", "iX xDrive50 (2023)", IX_VIN),
    ]
    assert {identifier for device in cars for identifier in device.identifiers} == {
        (DOMAIN, I3S_VIN),
        (DOMAIN, IX_VIN),
    }


async def test_one_service_device_for_the_account(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    account = device_registry.async_get_device_by_identifier(
        (DOMAIN, init_integration.entry_id), init_integration.entry_id
    )
    assert account is not None
    assert account.entry_type is dr.DeviceEntryType.SERVICE
    assert account.name == "Orange Power Connect"
    assert hass.states.get("sensor.orange_power_connect_requests_today").state == "2"


async def test_diagnostic_entities_are_disabled_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    entries = er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    # Seventeen per car, and the account's requests today and next update (shown: quota matters).
    assert len(entries) == 36
    disabled = sorted(entry.entity_id for entry in entries if entry.disabled_by)
    assert disabled == [
        f"sensor.bmw_{car}_{key}"
        for car in ("i3s_94_rex", "ix_xdrive50")
        for key in ("charging_type", "last_update")
    ]
    assert hass.states.get("sensor.bmw_i3s_94_rex_charging_type") is None
