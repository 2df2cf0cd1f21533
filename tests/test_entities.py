"""The entities a user sees for each car, and what changes for a user of US customary units."""

from __future__ import annotations

import json
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.orangepower_bmw.const import DOMAIN
from tests.conftest import I3S_VIN, IX_VIN

pytestmark = pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")


def shows(hass: HomeAssistant, entry: er.RegistryEntry) -> dict[str, str]:
    """An entity as registered and as its state shows, one line each: what tells entities apart.

    What every entity shares is asserted here instead of repeated in the snapshot.
    """
    assert (entry.platform, entry.has_entity_name, entry.object_id_base) == (
        DOMAIN,
        True,
        entry.original_name,
    )
    assert (entry.name, entry.icon, entry.hidden_by, entry.aliases, entry.labels) == (
        None,
        None,
        None,
        [er.COMPUTED_NAME],
        set(),
    )
    assert (entry.area_id, entry.supported_features, entry.previous_unique_id) == (None, 0, None)
    registered = {
        "name": entry.original_name,
        "translation_key": entry.translation_key,
        "unique_id": entry.unique_id,
        "device_class": entry.original_device_class,
        "unit": entry.unit_of_measurement,
        "category": entry.entity_category,
        "disabled_by": entry.disabled_by,
        "icon": entry.original_icon,
        "capabilities": entry.capabilities,
        "options": {key: dict(value) for key, value in entry.options.items()},
    }
    state = hass.states.get(entry.entity_id)
    assert state is not None
    return {
        "entry": json.dumps({k: v for k, v in registered.items() if v not in (None, {})}),
        "state": json.dumps({"state": state.state, **state.attributes}, default=str),
    }


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.NUMBER])
async def test_entities(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of the account and of the charging i3s, as registered and shown, in metric units.

    The iX's entities are the i3s's under its own name (the test below says what they show).
    """
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.orangepower_bmw.PLATFORMS", [platform]):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    ix = device_registry.async_get_device_by_identifier(
        (DOMAIN, IX_VIN), mock_config_entry.entry_id
    )
    assert ix is not None
    entries = er.async_entries_for_config_entry(entity_registry, mock_config_entry.entry_id)
    shown = [entry for entry in entries if entry.device_id != ix.id]
    assert (
        len(shown) == {Platform.SENSOR: 14, Platform.BINARY_SENSOR: 3, Platform.NUMBER: 2}[platform]
    )
    assert {entry.entity_id: shows(hass, entry) for entry in shown} == snapshot

    # The iX has the same entities, registered alike but for its name and ids.
    def alike(entry: er.RegistryEntry, car: str, vin: str) -> tuple[object, ...]:
        return (
            entry.entity_id.replace(car, "car"),
            entry.unique_id.replace(vin, "vin"),
            entry.translation_key,
            entry.original_device_class,
            entry.unit_of_measurement,
            entry.entity_category,
            entry.disabled_by,
            entry.options,
            entry.capabilities,
        )

    ix_entries = [entry for entry in entries if entry.device_id == ix.id]
    assert len(ix_entries) == len(shown) - (2 if platform is Platform.SENSOR else 0)
    assert sorted(alike(entry, "ix_xdrive50", IX_VIN) for entry in ix_entries) == sorted(
        alike(entry, "i3s_94_rex", I3S_VIN)
        for entry in shown
        if entry.unique_id.startswith(I3S_VIN)
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_a_parked_car_shows(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The iX, parked and unplugged at 64 %: what each of its entities shows (enabled or not)."""
    shown = {
        state.entity_id: state.state
        for state in hass.states.async_all()
        if state.entity_id.split(".")[1].startswith("bmw_ix_xdrive50_")
    }
    assert shown == {
        "binary_sensor.bmw_ix_xdrive50_charger_connected": "off",
        "binary_sensor.bmw_ix_xdrive50_charging": "off",
        "binary_sensor.bmw_ix_xdrive50_charging_stalled": "off",
        "number.bmw_ix_xdrive50_charge_target": "100",
        "number.bmw_ix_xdrive50_battery_capacity": "105.2",
        "sensor.bmw_ix_xdrive50_battery": "64",
        # 240 miles as the service reports them, in km.
        "sensor.bmw_ix_xdrive50_electric_range": "386.24256",
        "sensor.bmw_ix_xdrive50_charger": "disconnected",
        "sensor.bmw_ix_xdrive50_charging_status": "not_charging",
        "sensor.bmw_ix_xdrive50_charging_type": "conductive",
        "sensor.bmw_ix_xdrive50_last_update": "2026-11-23T12:00:00+00:00",
        # Nothing charges: no rate, no end, no change seen yet; no power, no energy yet.
        "sensor.bmw_ix_xdrive50_charging_rate": "unknown",
        "sensor.bmw_ix_xdrive50_charge_end": "unknown",
        "sensor.bmw_ix_xdrive50_battery_last_changed": "unknown",
        "sensor.bmw_ix_xdrive50_charging_power": "0.0",
        "sensor.bmw_ix_xdrive50_energy_charged_estimate": "0.0",
        # 36 % of 105.2 kWh.
        "sensor.bmw_ix_xdrive50_energy_to_target": "37.872",
    }
    # The estimates say why they are unknown: they wait for a charge.
    waiting = {
        key: hass.states.get(f"sensor.bmw_ix_xdrive50_{key}").attributes.get("waiting_for")
        for key in ("charging_rate", "charge_end", "charging_power")
    }
    assert waiting == {"charging_rate": "charge", "charge_end": "charge", "charging_power": None}


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_us_customary_units_show_the_range_in_miles_and_convert_nothing_else(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """The range is shown in miles; levels, rates, capacities and energy keep their units."""
    hass.config.units = US_CUSTOMARY_SYSTEM
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    shown = {
        state.entity_id: (state.state, state.attributes["unit_of_measurement"])
        for state in hass.states.async_all()
        if "unit_of_measurement" in state.attributes
    }
    assert shown == {
        # The iX reports 240 miles, kept in km and shown in miles again. The i3s reports 67 km.
        "sensor.bmw_ix_xdrive50_electric_range": ("240.0", "mi"),
        "sensor.bmw_i3s_94_rex_electric_range": ("41.6318698799014", "mi"),
        # The capacities are the models' (27.2 and 105.2 kWh), in kWh whatever the unit system.
        "number.bmw_i3s_94_rex_battery_capacity": ("27.2", "kWh"),
        "number.bmw_ix_xdrive50_battery_capacity": ("105.2", "kWh"),
        "sensor.bmw_i3s_94_rex_energy_to_target": ("14.96", "kWh"),
        "sensor.bmw_ix_xdrive50_energy_to_target": ("37.872", "kWh"),
        **{
            f"sensor.bmw_{car}_energy_charged_estimate": ("0.0", "kWh")
            for car in ("i3s_94_rex", "ix_xdrive50")
        },
        # The i3s charges at a rate not known yet; the iX does not charge.
        "sensor.bmw_i3s_94_rex_charging_power": ("unknown", "kW"),
        "sensor.bmw_ix_xdrive50_charging_power": ("0.0", "kW"),
        **{
            f"number.bmw_{car}_charge_target": ("100", "%") for car in ("i3s_94_rex", "ix_xdrive50")
        },
        **{
            f"sensor.bmw_{car}_charging_rate": ("unknown", "%/h")
            for car in ("i3s_94_rex", "ix_xdrive50")
        },
        "sensor.bmw_i3s_94_rex_battery": ("45", "%"),
        "sensor.bmw_ix_xdrive50_battery": ("64", "%"),
    }
    for car in ("i3s_94_rex", "ix_xdrive50"):
        entry = entity_registry.async_get(f"sensor.bmw_{car}_electric_range")
        assert entry.unit_of_measurement == "mi"
        assert entry.options["sensor.private"] == {"suggested_unit_of_measurement": "mi"}


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
    # Named after the entry, so that two accounts' devices are told apart.
    assert account.name == "Orange Power Connect (d***@example.com)"


async def test_diagnostic_entities_are_disabled_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    entries = er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    # Seventeen per car, and the account's requests today and next update (shown: quota matters).
    assert len(entries) == 36
    disabled = sorted(entry.entity_id for entry in entries if entry.disabled_by)
    # Diagnostics (charging type, last update, battery last changed, next update: the two times
    # would fill the Activity log), and charging and charging status, which the Charger sensor
    # says in a user's words (they stay for the planners that want them).
    assert disabled == sorted(
        [
            *(
                f"{platform}.bmw_{car}_{key}"
                for car in ("i3s_94_rex", "ix_xdrive50")
                for platform, key in (
                    ("binary_sensor", "charging"),
                    ("sensor", "battery_last_changed"),
                    ("sensor", "charging_status"),
                    ("sensor", "charging_type"),
                    ("sensor", "last_update"),
                )
            ),
            "sensor.orange_power_connect_d_example_com_next_update",
        ]
    )
    assert hass.states.get("sensor.bmw_i3s_94_rex_charging_type") is None
