"""Energy for the Energy dashboard and planners: energy charged, charging power, the model's capacity."""

from __future__ import annotations

from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.orangepower_bmw.capacity import TABLE, Row, usable_capacity
from simulator import Simulator
from tests.conftest import I3S_VIN
from tests.helpers import README, advance, polls, set_number, set_up, state

pytestmark = pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")

ENERGY = "sensor.bmw_i3s_94_rex_energy_charged_estimate"
POWER = "sensor.bmw_i3s_94_rex_charging_power"
CAPACITY = "number.bmw_i3s_94_rex_battery_capacity"


@pytest.mark.parametrize(
    ("brand", "model", "year", "kwh"),
    [
        ("BMW", "i3s 94 REX", 2018, 27.2),
        ("BMW", "i3 (120 Ah)", 2020, 37.9),
        ("BMW", "i3", 2015, 18.8),
        ("BMW", "i3", 2016, None),  # both battery sizes were sold that year
        ("BMW", "iX xDrive50", 2023, 105.2),
        ("BMW", "iX xDrive45", 2025, 94.8),
        ("BMW", "i4 eDrive40", 2022, 80.7),
        ("BMW", "i4 eDrive40", 2024, 81.3),
        ("BMW", "i4 eDrive35", None, 66.0),
        ("BMW", "iX3", 2021, 74.0),
        ("BMW", "X5 xDrive45e", 2021, 21.0),
        ("BMW", "X5 xDrive40e", 2016, None),  # only its gross capacity is published
        ("BMW", "330e", 2021, 10.8),
        ("MINI", "Cooper SE", 2021, 28.9),
        ("MINI", "MINI Cooper SE Countryman ALL4", 2021, 8.8),
        ("MINI", "Countryman SE ALL4", 2024, 64.6),
        (None, "Cooper SE", 2021, 28.9),  # a MINI the service sent without a brand
        ("BMW", "Neue Klasse concept", 2027, None),
        ("BMW", None, 2020, None),
    ],
)
def test_the_capacity_known_from_the_model(
    brand: str | None, model: str | None, year: int | None, kwh: float | None
) -> None:
    assert usable_capacity(brand, model, year) == kwh


def test_the_readme_lists_the_table() -> None:
    """The README's list of capacities is the table, row for row (it is the supported-cars list)."""

    def years(row: Row) -> str:
        if row.first_year and row.last_year:
            return f"{row.first_year} to {row.last_year}"
        if row.first_year or row.last_year:
            return f"from {row.first_year}" if row.first_year else f"up to {row.last_year}"
        return "any"

    section = README.split("### Battery capacities\n", 1)[1].splitlines()
    listed = [line for line in section[: section.index("## Examples")] if line.startswith("|")]
    assert listed[2:] == [
        f"| {row.brand} | {row.name} | {years(row)} | "
        f"{'not known: set it' if row.kwh is None else f'{row.kwh:g}'} |"
        for row in TABLE
    ]


async def test_energy_charged_and_power_through_a_charge_a_drive_and_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    simulator.update_car(I3S_VIN, percentage=40)
    await set_up(hass, mock_config_entry)
    await set_number(hass, CAPACITY, 40)
    assert state(hass, ENERGY) == "0.0"
    assert state(hass, POWER) == "unknown"  # charging, no rate yet

    # 40 % to 80 % at 10 % an hour, of 40 kWh: 16 kWh, about 4 kW on the way.
    await polls(hass, freezer, 120)
    assert float(state(hass, POWER)) == pytest.approx(4, rel=0.2)
    await polls(hass, freezer, 120)
    assert float(state(hass, ENERGY)) == pytest.approx(16, abs=1)
    charged = state(hass, ENERGY)

    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, ENERGY) == charged

    # Unplugged, driven and glitching: nothing added, nothing taken away.
    simulator.unplug(I3S_VIN)
    await advance(hass, freezer, timedelta(minutes=15))
    assert state(hass, POWER) == "0.0"
    for level in (60, 58, 61):
        simulator.update_car(I3S_VIN, percentage=level)
        await advance(hass, freezer, timedelta(minutes=15))
    simulator.plug(I3S_VIN)
    for level in (61, 59, 61):
        simulator.update_car(I3S_VIN, percentage=level)
        await advance(hass, freezer, timedelta(minutes=15))
    assert state(hass, ENERGY) == charged

    # Charging again adds from where the car was plugged in.
    simulator.start_charging(I3S_VIN)
    await polls(hass, freezer, 60)
    assert float(state(hass, ENERGY)) == pytest.approx(float(charged) + 4, abs=0.5)


async def test_energy_charged_is_unknown_until_a_capacity_is_known(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.update_car(I3S_VIN, overrides={"model": "Vision Neue Klasse", "year": 2027})
    with caplog.at_level(logging.WARNING):
        await set_up(hass, mock_config_entry)
        await polls(hass, freezer, 30)
    entity = "sensor.bmw_vision_neue_klasse_energy_charged_estimate"
    assert state(hass, entity) == "unknown"
    assert state(hass, "number.bmw_vision_neue_klasse_battery_capacity") == "unknown"
    # The power, unknown too, says why.
    power = "sensor.bmw_vision_neue_klasse_charging_power"
    assert hass.states.get(power).attributes["waiting_for"] == "battery_capacity"
    # Said once, with the model to report.
    assert [r.getMessage() for r in caplog.records if "Vision Neue Klasse" in r.getMessage()] == [
        "The usable battery capacity of the BMW Vision Neue Klasse (2027) is not in this "
        "integration's table: set it in the car's Battery capacity setting, and please report "
        "the model and its capacity"
    ]

    await set_number(hass, "number.bmw_vision_neue_klasse_battery_capacity", 50)
    assert state(hass, entity) == "0.0"
    assert "waiting_for" not in hass.states.get(power).attributes
    await polls(hass, freezer, 60)
    assert float(state(hass, entity)) == pytest.approx(5, abs=0.6)


@pytest.mark.parametrize(
    ("restored", "shown"),
    [
        ({"native_value": 37.9}, "37.9"),  # release 0.1.0: the user's own value
        ({"native_value": 27.2, "set_by_user": False}, "27.2"),  # a later release's default
        ({"native_value": 30.0, "set_by_user": False}, "27.2"),  # the table's value wins
    ],
    ids=["user_value_of_0_1_0", "default", "old_default"],
)
async def test_the_capacity_after_an_upgrade_or_restart(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    restored: dict[str, object],
    shown: str,
) -> None:
    stored = {"native_min_value": 1, "native_max_value": 250, "native_step": 0.1}
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(CAPACITY, str(restored["native_value"])),
                {**stored, "native_unit_of_measurement": "kWh", **restored},
            )
        ],
    )
    await set_up(hass, mock_config_entry)
    assert state(hass, CAPACITY) == shown
