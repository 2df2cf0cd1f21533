"""A household's week: a car on two accounts, a malformed item, glitches, cars coming, leaving and coming back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util.unit_system import METRIC_SYSTEM
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw import async_remove_config_entry_device
from custom_components.orangepower_bmw.const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    CONF_TOKEN,
    DOMAIN,
)
from simulator import Simulator, default_scenario
from simulator.scenario import AccountSpec
from tests.conftest import EMAIL, I3S_VIN, IX_VIN
from tests.helpers import advance

SECOND_EMAIL = "partner@example.com"
SECOND_PASSWORD = "partner-password"
I3S_BATTERY = "sensor.bmw_i3s_94_rex_battery"
IX_BATTERY = "sensor.bmw_ix_xdrive50_battery"
IX_RANGE = "sensor.bmw_ix_xdrive50_electric_range"
IX_PLUG = "binary_sensor.bmw_ix_xdrive50_charger_connected"
I3S_STATUS = "sensor.bmw_i3s_94_rex_charging_status"
I3S_CHARGING = "binary_sensor.bmw_i3s_94_rex_charging"
SOLD_VIN = "WBASOLD0000000000"


@pytest.fixture
def simulator() -> Simulator:
    """Return the demo account, and a partner's account that shares the demo's i3s."""
    scenario = default_scenario()
    partner = AccountSpec(
        email=SECOND_EMAIL,
        password=SECOND_PASSWORD,
        account_email=SECOND_EMAIL,
        shared_cars=(I3S_VIN,),
    )
    return Simulator(replace(scenario, accounts=(*scenario.accounts, partner)))


@pytest.fixture
def partner_entry(entry_data: dict[str, Any]) -> MockConfigEntry:
    """Return the config entry of the partner's account (the secondary driver of the i3s)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="p***@example.com",
        unique_id=SECOND_EMAIL,
        data={
            **entry_data,
            CONF_EMAIL: SECOND_EMAIL,
            CONF_PASSWORD: SECOND_PASSWORD,
            CONF_ACCOUNT_EMAIL: SECOND_EMAIL,
        },
        options={CONF_ACTIVE_INTERVAL: 5, CONF_IDLE_INTERVAL: 15},
        minor_version=2,
    )


async def advance_by_polls(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int, step: int = 5
) -> None:
    """Move the clock on a poll at a time."""
    for _ in range(minutes // step):
        await advance(hass, freezer, timedelta(minutes=step))


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add an entry and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def owner(entity_registry: er.EntityRegistry, entity_id: str) -> str | None:
    """Return the config entry that owns an entity."""
    entry = entity_registry.async_get(entity_id)
    return entry.config_entry_id if entry else None


def device_of(
    device_registry: dr.DeviceRegistry, vin: str, entry: MockConfigEntry
) -> dr.DeviceEntry | None:
    """Return an entry's device of a car."""
    return device_registry.async_get_device_by_identifier((DOMAIN, vin), entry.entry_id)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the messages logged at ERROR or above."""
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


# 1. A car on two accounts.


async def test_a_shared_car_is_shown_once_and_skipped_by_the_other_entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up(hass, mock_config_entry)
    with caplog.at_level(logging.INFO):
        await set_up(hass, partner_entry)

    assert partner_entry.state is ConfigEntryState.LOADED
    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id
    assert hass.states.get(I3S_BATTERY).state == "45"
    assert device_of(device_registry, I3S_VIN, partner_entry) is None
    assert errors(caplog) == []
    # Logged once, not at every poll.
    with caplog.at_level(logging.INFO):
        await advance(hass, freezer, timedelta(minutes=15))
        await advance(hass, freezer, timedelta(minutes=15))
    assert sum("this entry skips it" in r.getMessage() for r in caplog.records) == 1
    # The charging i3s is not the partner's to watch: its entry polls at the idle interval.
    assert partner_entry.runtime_data.schedule.interval == timedelta(minutes=15)


@pytest.mark.parametrize("how", ["remove", "unload", "disable", "stop_listing"])
async def test_the_showing_entry_letting_go_hands_the_car_to_the_other(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """At the other's next poll, with its entity ids and the names the user gave them."""
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    entity_registry.async_update_entity(I3S_BATTERY, name="Garage car")

    with caplog.at_level(logging.INFO):
        if how == "remove":
            await hass.config_entries.async_remove(mock_config_entry.entry_id)
        elif how == "unload":
            await hass.config_entries.async_unload(mock_config_entry.entry_id)
        elif how == "disable":
            await hass.config_entries.async_set_disabled_by(
                mock_config_entry.entry_id, ConfigEntryDisabler.USER
            )
        else:
            # No hour of grace: the partner still lists the car, so it shows it from its next poll.
            simulator.remove_car(I3S_VIN, EMAIL)
        await hass.async_block_till_done()
        await advance(hass, freezer, timedelta(minutes=15))

    entity = entity_registry.async_get(I3S_BATTERY)
    assert entity is not None
    assert entity.config_entry_id == partner_entry.entry_id
    assert entity.name == "Garage car"
    assert entity.disabled_by is None
    assert hass.states.get(I3S_BATTERY).state == "47"
    # The old entry's device is empty and goes; the car has a new one under the partner's entry.
    assert device_of(device_registry, I3S_VIN, mock_config_entry) is None
    assert entity.device_id == device_of(device_registry, I3S_VIN, partner_entry).id
    assert errors(caplog) == []
    # Now the partner's entry shows a charging car: it polls at the active interval.
    assert partner_entry.runtime_data.schedule.interval == timedelta(minutes=5)


# Once broken: the car stayed unavailable, possibly for days, while the entry showing it waited
# for a reauth, although the partner's entry polled fine and listed it.
async def test_a_car_on_an_entry_waiting_for_reauth_moves_to_the_other(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    simulator.set_password(EMAIL, "changed-in-the-app")

    with caplog.at_level(logging.INFO):
        await advance(hass, freezer, timedelta(minutes=5))  # the demo entry is refused
        assert mock_config_entry.state is ConfigEntryState.LOADED
        await advance(hass, freezer, timedelta(minutes=15))  # the partner's next good update

    assert owner(entity_registry, I3S_BATTERY) == partner_entry.entry_id
    assert hass.states.get(I3S_BATTERY).state not in (STATE_UNAVAILABLE, "unknown")
    assert device_of(device_registry, I3S_VIN, partner_entry) is not None
    assert device_of(device_registry, I3S_VIN, mock_config_entry) is None
    # The demo entry's own car stays with it, unavailable until the user signs in again.
    assert owner(entity_registry, IX_BATTERY) == mock_config_entry.entry_id
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    assert [error for error in errors(caplog) if "Authentication failed" not in error] == []


async def test_a_reload_keeps_the_car_where_it_is(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)

    # The partner's entry polls while the demo's reload is in progress.
    reload = hass.async_create_task(hass.config_entries.async_reload(mock_config_entry.entry_id))
    await partner_entry.runtime_data.async_refresh()
    await reload
    await advance(hass, freezer, timedelta(minutes=15))

    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE


async def test_the_first_entry_back_after_a_restart_keeps_the_car(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    for entry in (partner_entry, mock_config_entry):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    # After a restart the partner's entry happens to come back first: the car stays the demo's.
    hass.set_state(CoreState.not_running)
    await hass.config_entries.async_setup(partner_entry.entry_id)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    await advance(hass, freezer, timedelta(minutes=15))

    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE


# 2. One malformed car does not blank the others.


async def test_an_item_without_a_vin_is_skipped_and_the_others_stay(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.update_car(IX_VIN, overrides={"device_id": None, "id": None})
    with caplog.at_level(logging.WARNING):
        await advance(hass, freezer, timedelta(minutes=5))
        await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    warnings = [r for r in caplog.records if "without a VIN" in r.getMessage()]
    assert len(warnings) == 1

    # A clean poll, then the same glitch again: warned again.
    simulator.update_car(IX_VIN, overrides={})
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(IX_BATTERY).state == "64"
    simulator.update_car(IX_VIN, overrides={"device_id": ""})
    with caplog.at_level(logging.WARNING):
        await advance(hass, freezer, timedelta(minutes=5))
    assert sum("without a VIN" in r.getMessage() for r in caplog.records) == 2


async def test_an_item_with_odd_fields_shows_what_it_can(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.update_car(IX_VIN, overrides={"id": None, "user_id": 7, "charging_state": "odd"})
    await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get(IX_BATTERY).state == "unknown"
    assert float(hass.states.get(IX_RANGE).state) == pytest.approx(240 * 1.609344)
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE


# 3. Glitches, and a car that comes back.


async def test_an_empty_answer_keeps_every_device(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.inject_fault("vehicles", body="[]")
    await advance(hass, freezer, timedelta(minutes=5))

    # Nor does the glitch slow the polling of the charging i3s.
    assert init_integration.runtime_data.schedule.interval == timedelta(minutes=5)
    assert hass.states.get(I3S_BATTERY).state == STATE_UNAVAILABLE
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    for vin in (I3S_VIN, IX_VIN):
        assert device_of(device_registry, vin, init_integration) is not None

    await advance(hass, freezer, timedelta(minutes=15))
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_a_new_car_gets_its_device_and_entities_at_the_next_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.add_car(
        EMAIL, {"vin": "WBA71AW050FN00001", "model": "i4 eDrive40", "year": 2024, "percentage": 80}
    )
    await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get("sensor.bmw_i4_edrive40_battery").state == "80"
    device = device_of(device_registry, "WBA71AW050FN00001", init_integration)
    assert device is not None
    assert device.name == "BMW i4 eDrive40"
    assert device.model == "i4 eDrive40 (2024)"
    # Three cars, still one call per poll for the whole account.
    assert simulator.counts == {"token": 1, "vehicles": 2}


async def test_a_car_that_leaves_and_returns_gets_its_device_and_entities_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Unavailable at once, its device and entities gone at the first poll an hour on, back when it is."""
    simulator.remove_car(IX_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    await advance_by_polls(hass, freezer, 60)
    assert device_of(device_registry, IX_VIN, init_integration) is None
    assert entity_registry.async_get(IX_BATTERY) is None
    assert hass.states.get(IX_BATTERY) is None
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE

    simulator.add_car(
        EMAIL, {"vin": IX_VIN, "model": "iX xDrive50", "year": 2023, "percentage": 70}
    )
    await advance(hass, freezer, timedelta(minutes=15))

    assert device_of(device_registry, IX_VIN, init_integration) is not None
    assert hass.states.get(IX_BATTERY).state == "70"


async def test_the_time_a_car_went_missing_survives_a_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.remove_car(IX_VIN)
    await advance_by_polls(hass, freezer, 40)
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert device_of(device_registry, IX_VIN, init_integration) is not None

    # 40 minutes before the restart count: an hour after it went missing, the device goes.
    await advance_by_polls(hass, freezer, 20)
    assert device_of(device_registry, IX_VIN, init_integration) is not None
    await advance_by_polls(hass, freezer, 5)
    assert device_of(device_registry, IX_VIN, init_integration) is None


async def test_device_of_a_car_sold_while_home_assistant_was_off_goes_after_the_grace_period(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    mock_config_entry.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={(DOMAIN, SOLD_VIN)}
    )
    await set_up(hass, mock_config_entry)

    assert device_of(device_registry, SOLD_VIN, mock_config_entry) is not None
    await advance(hass, freezer, timedelta(minutes=55))
    assert device_of(device_registry, SOLD_VIN, mock_config_entry) is not None
    await advance(hass, freezer, timedelta(minutes=5))
    assert device_of(device_registry, SOLD_VIN, mock_config_entry) is None
    assert device_of(device_registry, IX_VIN, mock_config_entry) is not None


async def test_a_changed_model_and_year_update_the_device(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.update_car(IX_VIN, overrides={"model": "iX M60", "year": 2024})
    await advance(hass, freezer, timedelta(minutes=5))
    device = device_of(device_registry, IX_VIN, init_integration)
    assert (device.name, device.model) == ("BMW iX M60", "iX M60 (2024)")


# 4. Values that mean one thing.


async def test_a_car_switching_to_kilometres_keeps_the_range_entity_in_km(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    hass.config.units = METRIC_SYSTEM
    before = hass.states.get(IX_RANGE)
    assert before.attributes["unit_of_measurement"] == "km"

    simulator.update_car(IX_VIN, units="KILOMETERS")
    await advance(hass, freezer, timedelta(minutes=5))

    after = hass.states.get(IX_RANGE)
    assert after.attributes["unit_of_measurement"] == "km"
    assert float(after.state) == pytest.approx(float(before.state), abs=1)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    ("state", "warned"), [("SUPERCHARGING", 1), ("UNKNOWN", 0)], ids=["new_to_us", "bmw_unknown"]
)
async def test_a_charging_state_not_known_is_unknown_not_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    state: str,
    warned: int,
) -> None:
    """Not "not charging": BMW does not know, or we do not, and so neither does the user."""
    simulator.update_car(I3S_VIN, state=state)
    with caplog.at_level(logging.WARNING):
        await advance(hass, freezer, timedelta(minutes=5))
        await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get(I3S_STATUS).state == STATE_UNKNOWN
    assert hass.states.get(I3S_CHARGING).state == STATE_UNKNOWN
    # Plugged in, charging or not: the Charger cannot say either.
    assert hass.states.get("sensor.bmw_i3s_94_rex_charger").state == STATE_UNKNOWN
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE
    # A state new to the integration is worth one warning; BMW's own UNKNOWN is none.
    assert sum(state in record.getMessage() for record in caplog.records) == warned


async def test_null_fields_are_unknown_not_zero_or_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.update_car(
        IX_VIN,
        overrides={
            "charging_state": {"charge_percentage": None, "is_charger_connected": None},
            "electric_range": None,
        },
    )
    await advance(hass, freezer, timedelta(minutes=5))

    for entity_id in (IX_BATTERY, IX_RANGE, IX_PLUG):
        assert hass.states.get(entity_id).state == STATE_UNKNOWN


# 5. Store only what is used.


@pytest.mark.parametrize(
    "stored",
    [
        {
            "access_token": "stored-access-token",
            "refresh_token": "stored-refresh-token",
            "token_type": "Bearer",
            "scopes": ["smacc"],
            "expires_at": "2020-01-01T00:00:00+00:00",
        },
        {"refresh_token": "stored-refresh-token"},
    ],
    ids=["expired_token", "only_a_refresh_token"],
)
async def test_an_old_entry_is_migrated_and_its_refresh_token_dropped(
    hass: HomeAssistant,
    entry_data: dict[str, Any],
    simulator: Simulator,
    stored: dict[str, Any],
) -> None:
    """An entry of the first version loads, logging in again; only a token's two fields are kept."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=EMAIL, minor_version=1, data={**entry_data, CONF_TOKEN: stored}
    )
    await set_up(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == 2
    assert simulator.counts["token"] == 1
    assert set(entry.data[CONF_TOKEN]) == {"access_token", "expires_at"}
    assert "stored-refresh-token" not in repr(entry.data)


async def test_an_entry_from_a_newer_version_is_not_loaded(
    hass: HomeAssistant, entry_data: dict[str, Any]
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=EMAIL, version=2, data=entry_data)
    await set_up(hass, entry)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


# 6. Entry life cycle.


async def test_removing_an_entry_withdraws_its_repairs(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    simulator.inject_fault("vehicles", status=410)
    await advance(hass, freezer, timedelta(minutes=5))
    issue_id = f"service_gone_{init_integration.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()

    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_cars_device_can_be_deleted_once_the_car_left_or_the_entry_is_not_loaded(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    present = device_of(device_registry, IX_VIN, init_integration)
    gone = device_registry.async_get_or_create(
        config_entry_id=init_integration.entry_id, identifiers={(DOMAIN, SOLD_VIN)}
    )
    assert not await async_remove_config_entry_device(hass, init_integration, present)
    assert await async_remove_config_entry_device(hass, init_integration, gone)

    await hass.config_entries.async_unload(init_integration.entry_id)
    assert await async_remove_config_entry_device(hass, init_integration, present)


async def delete_the_missing_ix(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Take the iX off the account and delete its device, as the user may once it is missing."""
    simulator.remove_car(IX_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    device = device_of(device_registry, IX_VIN, entry)
    assert await async_remove_config_entry_device(hass, entry, device)
    device_registry.async_remove_device(device.id)
    await hass.async_block_till_done()


async def test_deleting_a_missing_cars_device_stops_showing_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await delete_the_missing_ix(hass, freezer, simulator, init_integration, device_registry)
    await advance(hass, freezer, timedelta(minutes=5))

    assert IX_VIN not in init_integration.runtime_data.cars.shown
    assert hass.states.get(IX_BATTERY) is None


# Found by a review that tried to break the above.


async def test_a_deleted_device_comes_back_when_its_car_returns(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await delete_the_missing_ix(hass, freezer, simulator, init_integration, device_registry)

    simulator.add_car(
        EMAIL, {"vin": IX_VIN, "model": "iX xDrive50", "year": 2023, "percentage": 70}
    )
    await advance_by_polls(hass, freezer, 15)

    assert device_of(device_registry, IX_VIN, init_integration) is not None
    assert hass.states.get(IX_BATTERY).state == "70"


async def test_a_showing_entry_that_fails_to_start_keeps_its_shared_car(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    demo_device = device_of(device_registry, I3S_VIN, mock_config_entry)
    for entry in (partner_entry, mock_config_entry):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    hass.set_state(CoreState.not_running)
    simulator.inject_fault("vehicles", status=503)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_setup(partner_entry.entry_id)
    await hass.async_block_till_done()
    hass.set_state(CoreState.running)
    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id

    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await advance(hass, freezer, timedelta(minutes=15))
    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id
    assert device_of(device_registry, I3S_VIN, mock_config_entry) == demo_device


async def test_one_empty_answer_to_the_showing_entry_does_not_move_a_shared_car(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    before = device_of(device_registry, I3S_VIN, mock_config_entry)

    simulator.inject_fault("vehicles", body="[]")
    await mock_config_entry.runtime_data.async_refresh()
    await advance(hass, freezer, timedelta(minutes=15))

    assert device_of(device_registry, I3S_VIN, mock_config_entry) == before
    assert device_of(device_registry, I3S_VIN, partner_entry) is None


@pytest.mark.parametrize(
    ("first", "glitch"),
    [
        ({"model": "iX M60", "year": 2024}, {"model": "iX M60", "year": None}),
        ({"brand": "MINI", "model": "Cooper SE", "year": 2024}, {"brand": None}),
        ({"model": "iX M60", "year": 2024}, {"model": None, "year": None, "brand": None}),
    ],
    ids=["year_left_out", "brand_left_out", "all_left_out"],
)
async def test_a_field_left_out_once_does_not_change_the_device(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    first: dict[str, Any],
    glitch: dict[str, Any],
) -> None:
    simulator.update_car(IX_VIN, overrides=first)
    await advance(hass, freezer, timedelta(minutes=5))
    before = device_of(device_registry, IX_VIN, init_integration)
    simulator.update_car(IX_VIN, overrides={**first, **glitch})
    await advance(hass, freezer, timedelta(minutes=5))
    after = device_of(device_registry, IX_VIN, init_integration)
    assert (after.name, after.manufacturer, after.model) == (
        before.name,
        before.manufacturer,
        before.model,
    )


async def test_a_car_first_seen_with_a_field_left_out_gets_it_from_a_later_answer(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.update_car(IX_VIN, overrides={"year": None})
    await set_up(hass, mock_config_entry)
    assert device_of(device_registry, IX_VIN, mock_config_entry).model == "iX xDrive50"

    simulator.update_car(IX_VIN, overrides={"year": 2023})
    await advance(hass, freezer, timedelta(minutes=15))
    assert device_of(device_registry, IX_VIN, mock_config_entry).model == "iX xDrive50 (2023)"


async def test_a_car_the_user_disabled_stays_disabled_after_a_takeover(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    device = device_of(device_registry, I3S_VIN, mock_config_entry)
    device_registry.async_update_device(device.id, disabled_by=dr.DeviceEntryDisabler.USER)
    await hass.async_block_till_done()

    await hass.config_entries.async_set_disabled_by(
        mock_config_entry.entry_id, ConfigEntryDisabler.USER
    )
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=15))

    entity = entity_registry.async_get(I3S_BATTERY)
    assert entity.config_entry_id == partner_entry.entry_id
    # Still disabled, and in a way the user can undo: by the user, not by a device that is gone.
    assert entity.disabled_by is er.RegistryEntryDisabler.USER


async def test_removing_the_entry_right_after_a_car_went_missing_leaves_no_store(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    simulator.remove_car(IX_VIN)
    await init_integration.runtime_data.async_refresh()
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(seconds=5))
    assert f"{DOMAIN}.{init_integration.entry_id}" not in hass_storage


async def test_a_field_left_out_at_the_first_poll_after_a_restart_does_not_change_the_device(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    before = device_of(device_registry, IX_VIN, init_integration)
    simulator.update_car(IX_VIN, overrides={"year": None})
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()

    after = device_of(device_registry, IX_VIN, init_integration)
    assert (
        (after.name, after.model)
        == (before.name, before.model)
        == (
            "BMW iX xDrive50",
            "iX xDrive50 (2023)",
        )
    )


# 6. A household's week of cars leaving, returning and being shared, with restarts in between.

I3S_TARGET = "number.bmw_i3s_94_rex_charge_target"
IX_TARGET = "number.bmw_ix_xdrive50_charge_target"
IX_CAPACITY = "number.bmw_ix_xdrive50_battery_capacity"
IX_AGAIN = {"vin": IX_VIN, "model": "iX xDrive50", "year": 2023, "percentage": 70}


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """Set a car's setting as the user does."""
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
    )
    await hass.async_block_till_done()


async def test_a_field_left_out_before_and_after_a_restart_does_not_change_the_device(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The stored answer is not what is known of the car: it left the model and year out too."""
    before = device_of(device_registry, IX_VIN, init_integration)
    simulator.update_car(IX_VIN, overrides={"model": None, "year": None})
    await advance(hass, freezer, timedelta(minutes=15))
    kept = device_of(device_registry, IX_VIN, init_integration)
    assert (kept.name, kept.model) == (before.name, before.model)

    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=15))

    after = device_of(device_registry, IX_VIN, init_integration)
    assert (after.name, after.model) == ("BMW iX xDrive50", "iX xDrive50 (2023)")


async def test_a_charging_car_missing_at_a_restart_keeps_its_close_polls(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """README: until its device goes, polling goes on as for the car last seen (kept across restarts)."""
    schedule = init_integration.runtime_data.schedule
    assert schedule.interval == timedelta(minutes=5)
    simulator.remove_car(I3S_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert init_integration.runtime_data.schedule.interval == timedelta(minutes=5)

    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.runtime_data.schedule.interval == timedelta(minutes=5)


async def test_a_car_missing_at_a_restart_comes_back_with_its_entities_and_settings(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await set_number(hass, IX_TARGET, 80)
    simulator.remove_car(IX_VIN)
    await advance(hass, freezer, timedelta(minutes=15))
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    simulator.add_car(EMAIL, IX_AGAIN)
    await advance(hass, freezer, timedelta(minutes=15))

    assert hass.states.get(IX_BATTERY).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert hass.states.get(IX_TARGET).state == "80.0"
    ids = [
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    ]
    assert not [entity_id for entity_id in ids if entity_id.endswith("_2")]


async def test_a_car_re_added_after_its_grace_keeps_its_entity_ids_and_settings(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await set_number(hass, IX_TARGET, 80)
    await set_number(hass, IX_CAPACITY, 100)
    simulator.remove_car(IX_VIN)
    await advance_by_polls(hass, freezer, 70)
    assert entity_registry.async_get(IX_BATTERY) is None
    simulator.add_car(EMAIL, IX_AGAIN)
    await advance(hass, freezer, timedelta(minutes=15))

    assert hass.states.get(IX_BATTERY).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert hass.states.get(IX_TARGET).state == "80.0"
    assert hass.states.get(IX_CAPACITY).state == "100.0"


async def test_a_shared_car_taken_over_during_a_reauth_stays_once_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    await set_number(hass, I3S_TARGET, 80)
    unique_ids = {
        e.unique_id
        for e in entity_registry.entities.values()
        if e.platform == DOMAIN and e.unique_id.startswith(I3S_VIN)
    }
    simulator.set_password(EMAIL, "changed-in-the-app")
    await advance(hass, freezer, timedelta(minutes=5))
    await advance(hass, freezer, timedelta(minutes=15))
    assert owner(entity_registry, I3S_BATTERY) == partner_entry.entry_id
    assert hass.states.get(I3S_TARGET).state == "80.0"

    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "changed-in-the-app"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await advance_by_polls(hass, freezer, 30)

    assert owner(entity_registry, I3S_BATTERY) == partner_entry.entry_id
    assert hass.states.get(I3S_BATTERY).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert hass.states.get(I3S_TARGET).state == "80.0"
    assert device_of(device_registry, I3S_VIN, mock_config_entry) is None
    assert device_of(device_registry, I3S_VIN, partner_entry) is not None
    now = [
        e
        for e in entity_registry.entities.values()
        if e.platform == DOMAIN and e.unique_id.startswith(I3S_VIN)
    ]
    assert {e.unique_id for e in now} == unique_ids
    assert not [
        e.entity_id for e in entity_registry.entities.values() if e.entity_id.endswith("_2")
    ]
    # The demo entry's own iX is back; the i3s's charge does not drive its polls.
    assert hass.states.get(IX_BATTERY).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert mock_config_entry.runtime_data.schedule.interval == timedelta(minutes=15)
    assert partner_entry.runtime_data.schedule.interval == timedelta(minutes=5)


async def test_a_shared_car_missing_from_both_answers_at_a_restart_stays_where_it_was(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A glitch that drops the car from both accounts, and a restart in it, move nothing."""
    await set_up(hass, mock_config_entry)
    await set_up(hass, partner_entry)
    car = simulator.car(I3S_VIN)
    simulator.remove_car(I3S_VIN)
    # Both answers leave it out: neither entry lists it, so the demo entry keeps it in its grace.
    await partner_entry.runtime_data.async_refresh()
    await mock_config_entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(I3S_BATTERY).state == STATE_UNAVAILABLE
    assert I3S_VIN in mock_config_entry.runtime_data.cars.shown
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    simulator.account(EMAIL).cars.append(car)
    simulator.account(SECOND_EMAIL).cars.append(car)
    # The partner's entry happens to poll first once the car is back.
    await partner_entry.runtime_data.async_refresh()
    await advance(hass, freezer, timedelta(minutes=15))

    assert owner(entity_registry, I3S_BATTERY) == mock_config_entry.entry_id
    assert device_of(device_registry, I3S_VIN, mock_config_entry) is not None
    assert device_of(device_registry, I3S_VIN, partner_entry) is None


async def test_a_new_charge_target_sends_nothing_while_the_password_is_refused(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.set_password(EMAIL, "changed-in-the-app")
    await advance(hass, freezer, timedelta(minutes=5))
    assert init_integration.runtime_data.schedule.refused
    sent = dict(simulator.counts)
    await set_number(hass, I3S_TARGET, 50)
    await set_number(hass, I3S_TARGET, 90)
    await advance_by_polls(hass, freezer, 120)
    assert simulator.counts == sent
    assert init_integration.runtime_data.next_update is None
