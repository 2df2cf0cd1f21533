"""Charging insight in a Home Assistant test instance, against the simulator's charging i3s.

The i3s charges from 45 % at 10 % per hour; polls come every 5 minutes while it is plugged in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.orangepower_bmw.const import CONF_DAILY_REQUEST_LIMIT, DOMAIN
from simulator import Simulator
from tests.conftest import I3S_VIN
from tests.helpers import advance, polls, set_number, set_up, state

pytestmark = pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")

CAR = "bmw_i3s_94_rex"
RATE = f"sensor.{CAR}_charging_rate"
END = f"sensor.{CAR}_charge_end"
ENERGY = f"sensor.{CAR}_energy_to_target"
CHARGER = f"sensor.{CAR}_charger"
LAST_CHANGED = f"sensor.{CAR}_battery_last_changed"
STALLED = f"binary_sensor.{CAR}_charging_stalled"
TARGET = f"number.{CAR}_charge_target"
CAPACITY = f"number.{CAR}_battery_capacity"
NEW_ENTITIES = (RATE, END, ENERGY, CHARGER, LAST_CHANGED, STALLED, TARGET, CAPACITY)
STARTED = datetime.fromisoformat("2026-11-23T12:00:00+00:00")


def end_minutes(hass: HomeAssistant) -> float:
    """Return the charge end in minutes after the start of the charge."""
    end = dt_util.parse_datetime(state(hass, END))
    assert end is not None
    return (end - STARTED) / timedelta(minutes=1)


@pytest.mark.usefixtures("init_integration")
async def test_unknown_then_known_then_following_a_new_target(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No estimate until the levels support one; then close to the truth, and a new target moves it."""
    assert state(hass, CHARGER) == "charging"
    assert state(hass, TARGET) == "100"
    assert state(hass, RATE) == STATE_UNKNOWN
    assert state(hass, END) == STATE_UNKNOWN

    # Levels 46 to 49 in the first 25 minutes: changes only 15 minutes apart.
    await polls(hass, freezer, 25)
    assert state(hass, RATE) == STATE_UNKNOWN
    assert state(hass, END) == STATE_UNKNOWN

    await polls(hass, freezer, 5)
    assert float(state(hass, RATE)) > 0
    assert state(hass, END) != STATE_UNKNOWN

    # After two hours: 10 % per hour, and 100 % at 5.5 hours.
    await polls(hass, freezer, 90)
    assert float(state(hass, RATE)) == pytest.approx(10, abs=0.5)
    assert end_minutes(hass) == pytest.approx(330, abs=10)

    await set_number(hass, TARGET, 80)
    assert float(state(hass, TARGET)) == 80
    assert end_minutes(hass) == pytest.approx(210, abs=10)

    await set_number(hass, TARGET, 50)  # already above it
    assert state(hass, END) == STATE_UNKNOWN


@pytest.mark.usefixtures("init_integration")
async def test_unplug(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator
) -> None:
    """Unplugging ends the session: disconnected, and no rate or end."""
    await polls(hass, freezer, 60)
    assert state(hass, END) != STATE_UNKNOWN

    simulator.unplug(I3S_VIN)
    await polls(hass, freezer, 5)
    assert state(hass, CHARGER) == "disconnected"
    assert state(hass, RATE) == STATE_UNKNOWN
    assert state(hass, END) == STATE_UNKNOWN
    assert state(hass, STALLED) == "off"


# Battery last changed is disabled by default.
@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_frozen_level_raises_and_clears_the_stall_flag(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator
) -> None:
    """Charging but stuck at one level for 45 minutes: stalled; unknown while polls fail; cleared on a move."""
    await polls(hass, freezer, 60)
    assert state(hass, STALLED) == "off"
    frozen_at = state(hass, LAST_CHANGED)

    # The i3's known fault: the state says charging, the level does not move.
    simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
    await polls(hass, freezer, 40)
    assert state(hass, STALLED) == "off"
    await polls(hass, freezer, 10)
    assert state(hass, STALLED) == "on"
    assert state(hass, LAST_CHANGED) == frozen_at

    simulator.inject_fault("vehicles", status=500, count=10)
    await polls(hass, freezer, 5)
    assert state(hass, STALLED) == STATE_UNKNOWN
    assert state(hass, RATE) == STATE_UNAVAILABLE
    simulator.clear_faults()

    simulator.update_car(I3S_VIN, charging=True, state=None)
    await polls(hass, freezer, 10)
    assert state(hass, STALLED) == "off"
    assert state(hass, LAST_CHANGED) != frozen_at


# Once broken under a limit: the reload took the stored values without a poll, and the end was
# thrown away when the target number restored itself.
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("limit", [0, 48], ids=["no_limit", "under_a_limit"])
async def test_new_entities_mid_charge_and_after_a_reload(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    limit: int,
) -> None:
    """Every new entity of the charging car after an hour, with a target and a capacity set; after
    a reload the same at once, with the user's target and capacity. The model's capacity and the
    energy to target's formula are pinned by test_entities and test_charging.

    What they show; their attributes are pinned by the entity snapshots (test_entities).
    """
    await set_number(hass, TARGET, 80)
    await set_number(hass, CAPACITY, 37.9)
    # Energy to target follows a new capacity at once (from the model's 27.2 kWh until then).
    assert state(hass, ENERGY) == "13.265"
    await polls(hass, freezer, 60)
    shown = {
        RATE: "10.4",
        END: "2026-11-23T15:24:35+00:00",
        ENERGY: "9.475",
        CHARGER: "charging",
        LAST_CHANGED: "2026-11-23T13:00:00+00:00",
        STALLED: "off",
        TARGET: "80.0",
        CAPACITY: "37.9",
    }
    assert {entity_id: state(hass, entity_id) for entity_id in NEW_ENTITIES} == shown

    hass.config_entries.async_update_entry(
        init_integration,
        options={**init_integration.options, CONF_DAILY_REQUEST_LIMIT: limit},
    )
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    assert {entity_id: state(hass, entity_id) for entity_id in NEW_ENTITIES} == shown


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_restart_mid_charge(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, object],
) -> None:
    """Sessions and settings stored before a restart give the estimate at the first poll after it."""
    now = dt_util.utcnow()
    # 41 % to 45 %, one every 6 minutes (10 % per hour), 45 % reached 3 minutes ago.
    changes = [[(now - timedelta(minutes=27 - 6 * n)).isoformat(), 41 + n] for n in range(5)]
    polled = (now - timedelta(minutes=1)).isoformat()
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.charging"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            I3S_VIN: {
                "level": 45,
                "level_since": polled,
                "session": {
                    "started_at": (now - timedelta(minutes=35)).isoformat(),
                    "level": 45,
                    "level_since": polled,
                    "last_poll": polled,
                    "changes": changes,
                },
                "shown_end": None,
            }
        },
    }
    stored = {"native_min_value": 20, "native_max_value": 100, "native_step": 1}
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(TARGET, "80"),
                {**stored, "native_unit_of_measurement": "%", "native_value": 80},
            ),
            (
                State(CAPACITY, "37.9"),
                {"native_min_value": 1, "native_max_value": 250, "native_step": 0.1}
                | {"native_unit_of_measurement": "kWh", "native_value": 37.9},
            ),
        ],
    )
    await set_up(hass, mock_config_entry)

    assert state(hass, TARGET) == "80"
    assert state(hass, CAPACITY) == "37.9"
    assert float(state(hass, RATE)) == pytest.approx(10)
    # 45 % was reached 3 minutes ago; 80 % is 3.5 hours after that.
    end = dt_util.parse_datetime(state(hass, END))
    assert end == now - timedelta(minutes=3) + timedelta(hours=3.5)
    assert state(hass, LAST_CHANGED) == polled
    assert float(state(hass, ENERGY)) == pytest.approx(35 / 100 * 37.9)


async def test_removing_the_entry_removes_its_sessions(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, object],
) -> None:
    """The stored sessions go with the entry."""
    key = f"{DOMAIN}.{init_integration.entry_id}"
    await polls(hass, freezer, 5)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert I3S_VIN in hass_storage[key]["data"]["charging"]  # type: ignore[index]

    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_unreadable_sessions_are_started_afresh(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A damaged store costs the estimates for a while, not the integration."""
    key = f"{DOMAIN}.{mock_config_entry.entry_id}.charging"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {I3S_VIN: {}}}
    await set_up(hass, mock_config_entry)

    assert state(hass, CHARGER) == "charging"
    assert state(hass, RATE) == STATE_UNKNOWN
    assert "cannot be read; starting afresh" in caplog.text


# Once broken: the end stayed in the past while the car still charged below its target.
async def test_the_end_is_never_in_the_past_while_charging_below_the_target(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    await polls(hass, freezer, 60)
    await set_number(hass, TARGET, int(state(hass, "sensor.bmw_i3s_94_rex_battery")) + 3)
    seen = set()
    for _ in range(60):  # 30 minutes, every 30 seconds
        await advance(hass, freezer, timedelta(seconds=30))
        end = state(hass, END)
        seen.add(end == STATE_UNKNOWN)
        if end != STATE_UNKNOWN:
            assert dt_util.parse_datetime(end) >= dt_util.utcnow()
    assert seen == {True, False}
