"""A household's week: a car on two accounts, a malformed item, glitches, cars coming, leaving and coming back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
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
from tests.helpers import IX_BATTERY
from tests.home import Home

SECOND_EMAIL = "partner@example.com"
SECOND_PASSWORD = "partner-password"
I3S_BATTERY = "sensor.bmw_i3s_94_rex_battery"
I3S_TARGET = "number.bmw_i3s_94_rex_charge_target"
IX_RANGE = "sensor.bmw_ix_xdrive50_electric_range"
IX_TARGET = "number.bmw_ix_xdrive50_charge_target"
IX_CAPACITY = "number.bmw_ix_xdrive50_battery_capacity"
SOLD_VIN = "WBASOLD0000000000"
IX_AGAIN = {"vin": IX_VIN, "model": "iX xDrive50", "year": 2023, "percentage": 70}
# The iX's device as the demo account describes it: name, manufacturer, model.
IX_DEVICE = ("BMW iX xDrive50", "BMW", "iX xDrive50 (2023)")
FIVE_MINUTES = timedelta(minutes=5)
FIFTEEN_MINUTES = timedelta(minutes=15)


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


@dataclass
class House(Home):
    """The demo account's Home, with the partner's entry and the registries."""

    partner: MockConfigEntry
    entities: er.EntityRegistry
    devices: dr.DeviceRegistry

    async def add(self, *entries: MockConfigEntry) -> None:
        """Add the entries and set them up, one after the other."""
        for entry in entries:
            entry.add_to_hass(self.hass)
            await self.hass.config_entries.async_setup(entry.entry_id)
            await self.hass.async_block_till_done()

    async def poll(self, minutes: int = 5) -> None:
        """Move the clock on by this many minutes at once."""
        await self.advance(minutes=minutes)

    async def polls(self, minutes: int) -> None:
        """Move the clock on a poll (five minutes) at a time."""
        for _ in range(minutes // 5):
            await self.poll()

    def known(self, entity_id: str) -> bool:
        """Return whether an entity shows a value: neither unavailable nor unknown."""
        return self.state(entity_id) not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    def owner(self, entity_id: str) -> str | None:
        """Return the config entry that owns an entity."""
        entry = self.entities.async_get(entity_id)
        return entry.config_entry_id if entry else None

    def device(self, vin: str, entry: MockConfigEntry | None = None) -> dr.DeviceEntry | None:
        """Return an entry's (the demo's unless told) device of a car."""
        entry_id = (entry or self.entry).entry_id
        return self.devices.async_get_device_by_identifier((DOMAIN, vin), entry_id)

    def described(self, vin: str) -> tuple[str | None, str | None, str | None]:
        """Return the name, manufacturer and model of the demo entry's device of a car."""
        device = self.device(vin)
        return (device.name, device.manufacturer, device.model)

    def i3s_unique_ids(self) -> set[str]:
        """Return the unique ids of the i3s's entities, whichever entry has them."""
        return {
            e.unique_id
            for e in self.entities.entities.values()
            if e.platform == DOMAIN and e.unique_id.startswith(I3S_VIN)
        }

    def doubled_entity_ids(self) -> list[str]:
        """Return the entity ids a car got a second time (with _2), which none should have."""
        return [e.entity_id for e in self.entities.entities.values() if e.entity_id.endswith("_2")]


@pytest.fixture
def new_house(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    partner_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> House:
    """Return the household before any entry is set up."""
    return House(
        hass, freezer, simulator, mock_config_entry, partner_entry, entity_registry, device_registry
    )


@pytest.fixture
async def house(new_house: House) -> House:
    """Return the household with the demo account's entry set up."""
    await new_house.add(new_house.entry)
    return new_house


@pytest.fixture
async def shared(house: House) -> None:
    """Set up the partner's entry too, after the demo's, which so shows the shared i3s."""
    await house.add(house.partner)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the messages logged at ERROR or above."""
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


# 1. A car on two accounts.


async def test_a_shared_car_is_shown_once_and_skipped_by_the_other_entry(
    house: House, caplog: pytest.LogCaptureFixture
) -> None:
    """The entry set up first shows the i3s; the other skips it, says so once, and polls idly."""
    with caplog.at_level(logging.INFO):
        await house.add(house.partner)

    assert house.partner.state is ConfigEntryState.LOADED
    assert house.owner(I3S_BATTERY) == house.entry.entry_id
    assert house.state(I3S_BATTERY) == "45"
    assert house.device(I3S_VIN, house.partner) is None
    assert errors(caplog) == []
    # Logged once, not at every poll.
    with caplog.at_level(logging.INFO):
        await house.poll(15)
        await house.poll(15)
    assert sum("this entry skips it" in r.getMessage() for r in caplog.records) == 1
    # The charging i3s is not the partner's to watch: its entry polls at the idle interval.
    assert house.partner.runtime_data.schedule.interval == FIFTEEN_MINUTES


@pytest.mark.usefixtures("shared")
@pytest.mark.parametrize("how", ["remove", "unload", "disable", "stop_listing"])
async def test_the_showing_entry_letting_go_hands_the_car_to_the_other(
    house: House, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """At the other's next poll, with its entity ids and the names the user gave them."""
    entries = house.hass.config_entries
    house.entities.async_update_entity(I3S_BATTERY, name="Garage car")

    with caplog.at_level(logging.INFO):
        if how == "remove":
            await entries.async_remove(house.entry.entry_id)
        elif how == "unload":
            await entries.async_unload(house.entry.entry_id)
        elif how == "disable":
            await entries.async_set_disabled_by(house.entry.entry_id, ConfigEntryDisabler.USER)
        else:
            # No hour of grace: the partner still lists the car, so it shows it from its next poll.
            house.simulator.remove_car(I3S_VIN, EMAIL)
        await house.hass.async_block_till_done()
        await house.poll(15)

    entity = house.entities.async_get(I3S_BATTERY)
    assert entity is not None
    assert entity.config_entry_id == house.partner.entry_id
    assert entity.name == "Garage car"
    assert entity.disabled_by is None
    assert house.state(I3S_BATTERY) == "47"
    # The old entry's device is empty and goes; the car has a new one under the partner's entry.
    assert house.device(I3S_VIN) is None
    assert entity.device_id == house.device(I3S_VIN, house.partner).id
    assert errors(caplog) == []
    # Now the partner's entry shows a charging car: it polls at the active interval.
    assert house.partner.runtime_data.schedule.interval == FIVE_MINUTES


# Once broken: the car stayed unavailable, possibly for days, while the entry showing it waited
# for a reauth, although the partner's entry polled fine and listed it.
@pytest.mark.usefixtures("shared")
async def test_a_car_on_an_entry_waiting_for_reauth_moves_to_the_other_and_stays_after_it(
    house: House, caplog: pytest.LogCaptureFixture
) -> None:
    """Once, with its settings and unique ids, before the reauth and after it."""
    await house.set_number(I3S_TARGET, 80)
    unique_ids = house.i3s_unique_ids()
    house.simulator.set_password(EMAIL, "changed-in-the-app")

    with caplog.at_level(logging.INFO):
        await house.poll()  # the demo entry is refused
        assert house.entry.state is ConfigEntryState.LOADED
        await house.poll(15)  # the partner's next good update

    assert house.owner(I3S_BATTERY) == house.partner.entry_id
    assert house.known(I3S_BATTERY)
    assert house.state(I3S_TARGET) == "80.0"
    assert house.device(I3S_VIN, house.partner) is not None
    assert house.device(I3S_VIN) is None
    # The demo entry's own car stays with it, unavailable until the user signs in again.
    assert house.owner(IX_BATTERY) == house.entry.entry_id
    assert house.state(IX_BATTERY) == STATE_UNAVAILABLE
    assert [error for error in errors(caplog) if "Authentication failed" not in error] == []

    [flow] = house.hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    result = await house.hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "changed-in-the-app"}
    )
    assert result["reason"] == "reauth_successful"
    await house.hass.async_block_till_done()
    await house.polls(30)

    assert house.owner(I3S_BATTERY) == house.partner.entry_id
    assert house.known(I3S_BATTERY)
    assert house.state(I3S_TARGET) == "80.0"
    assert house.device(I3S_VIN) is None
    assert house.device(I3S_VIN, house.partner) is not None
    assert house.i3s_unique_ids() == unique_ids
    assert house.doubled_entity_ids() == []
    # The demo entry's own iX is back; the i3s's charge does not drive its polls.
    assert house.known(IX_BATTERY)
    assert house.coordinator.schedule.interval == FIFTEEN_MINUTES
    assert house.partner.runtime_data.schedule.interval == FIVE_MINUTES


@pytest.mark.usefixtures("shared")
@pytest.mark.parametrize("demo", ["starts_second", "fails_to_start_first"])
async def test_a_restart_keeps_a_shared_car_with_the_entry_that_showed_it(
    house: House, demo: str
) -> None:
    """Whether the partner's entry happens to come back first, or the demo's fails to start."""
    entries = house.hass.config_entries
    device = house.device(I3S_VIN)
    for entry in (house.partner, house.entry):
        await entries.async_unload(entry.entry_id)
    await house.hass.async_block_till_done()

    house.hass.set_state(CoreState.not_running)
    if demo == "fails_to_start_first":
        house.simulator.inject_fault("vehicles", status=503)
        await entries.async_setup(house.entry.entry_id)
        assert house.entry.state is ConfigEntryState.SETUP_RETRY
        await entries.async_setup(house.partner.entry_id)
    else:
        await entries.async_setup(house.partner.entry_id)
        await entries.async_setup(house.entry.entry_id)
    await house.hass.async_block_till_done()
    house.hass.set_state(CoreState.running)
    assert house.owner(I3S_BATTERY) == house.entry.entry_id

    if demo == "fails_to_start_first":
        await house.reload()
    await house.poll(15)
    assert house.owner(I3S_BATTERY) == house.entry.entry_id
    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE
    assert house.device(I3S_VIN) == device


@pytest.mark.usefixtures("shared")
async def test_a_reload_of_the_showing_entry_does_not_move_a_shared_car(house: House) -> None:
    """The partner's entry polls during the demo's reload (an empty answer: below)."""
    before = house.device(I3S_VIN)
    reload = house.hass.async_create_task(
        house.hass.config_entries.async_reload(house.entry.entry_id)
    )
    await house.partner.runtime_data.async_refresh()
    await reload
    await house.poll(15)

    assert house.owner(I3S_BATTERY) == house.entry.entry_id
    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE
    assert house.device(I3S_VIN) == before
    assert house.device(I3S_VIN, house.partner) is None


@pytest.mark.usefixtures("shared")
async def test_a_car_the_user_disabled_stays_disabled_after_a_takeover(house: House) -> None:
    """Disabled by the user, who can undo it, not by a device that is gone."""
    device = house.device(I3S_VIN)
    house.devices.async_update_device(device.id, disabled_by=dr.DeviceEntryDisabler.USER)
    await house.hass.async_block_till_done()

    await house.hass.config_entries.async_set_disabled_by(
        house.entry.entry_id, ConfigEntryDisabler.USER
    )
    await house.hass.async_block_till_done()
    await house.poll(15)

    entity = house.entities.async_get(I3S_BATTERY)
    assert entity.config_entry_id == house.partner.entry_id
    assert entity.disabled_by is er.RegistryEntryDisabler.USER


@pytest.mark.usefixtures("shared")
async def test_a_shared_car_missing_from_both_answers_at_a_restart_stays_where_it_was(
    house: House,
) -> None:
    """A glitch that drops the car from both accounts, and a restart in it, move nothing."""
    car = house.simulator.car(I3S_VIN)
    house.simulator.remove_car(I3S_VIN)
    # Both answers leave it out: neither entry lists it, so the demo entry keeps it in its grace.
    await house.partner.runtime_data.async_refresh()
    await house.coordinator.async_refresh()
    await house.hass.async_block_till_done()
    assert house.state(I3S_BATTERY) == STATE_UNAVAILABLE
    assert I3S_VIN in house.coordinator.cars.shown
    await house.reload()

    house.simulator.account(EMAIL).cars.append(car)
    house.simulator.account(SECOND_EMAIL).cars.append(car)
    # The partner's entry happens to poll first once the car is back.
    await house.partner.runtime_data.async_refresh()
    await house.poll(15)

    assert house.owner(I3S_BATTERY) == house.entry.entry_id
    assert house.device(I3S_VIN) is not None
    assert house.device(I3S_VIN, house.partner) is None


# 2. One malformed car does not blank the others.


async def test_an_item_without_a_vin_is_skipped_and_the_others_stay(
    house: House, caplog: pytest.LogCaptureFixture
) -> None:
    """Warned once while the glitch lasts, and again when it comes back after a clean poll."""
    house.simulator.update_car(IX_VIN, overrides={"device_id": None, "id": None})
    with caplog.at_level(logging.WARNING):
        await house.poll()
        await house.poll()

    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE
    assert house.state(IX_BATTERY) == STATE_UNAVAILABLE
    assert sum("without a VIN" in r.getMessage() for r in caplog.records) == 1

    house.simulator.update_car(IX_VIN, overrides={})
    await house.poll()
    assert house.state(IX_BATTERY) == "64"
    house.simulator.update_car(IX_VIN, overrides={"device_id": ""})
    with caplog.at_level(logging.WARNING):
        await house.poll()
    assert sum("without a VIN" in r.getMessage() for r in caplog.records) == 2


async def test_an_item_with_odd_fields_shows_what_it_can(house: House) -> None:
    """An odd charging state blanks the battery only: the range and the other car stay."""
    house.simulator.update_car(
        IX_VIN, overrides={"id": None, "user_id": 7, "charging_state": "odd"}
    )
    await house.poll()

    assert house.state(IX_BATTERY) == STATE_UNKNOWN
    assert float(house.state(IX_RANGE)) == pytest.approx(240 * 1.609344)
    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE


# 3. Glitches, and cars that come, go and come back.


@pytest.mark.usefixtures("shared")
async def test_an_empty_answer_keeps_every_device(house: House) -> None:
    """Nor does the glitch slow the polling of the charging i3s, or hand the shared i3s to the
    partner's entry, polling before the next good answer."""
    before = house.device(I3S_VIN)
    house.simulator.inject_fault("vehicles", body="[]")
    await house.coordinator.async_refresh()
    await house.partner.runtime_data.async_refresh()

    assert house.coordinator.schedule.interval == FIVE_MINUTES
    assert house.state(I3S_BATTERY) == STATE_UNAVAILABLE
    assert house.state(IX_BATTERY) == STATE_UNAVAILABLE
    assert house.device(I3S_VIN) == before
    assert house.device(IX_VIN) is not None
    assert house.owner(I3S_BATTERY) == house.entry.entry_id
    assert house.device(I3S_VIN, house.partner) is None

    await house.poll(15)
    assert house.state(IX_BATTERY) == "64"
    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE


async def test_a_new_car_gets_its_device_and_entities_at_the_next_poll(house: House) -> None:
    """Three cars, still one call per poll for the whole account."""
    i4 = {"vin": "WBA71AW050FN00001", "model": "i4 eDrive40", "year": 2024, "percentage": 80}
    house.simulator.add_car(EMAIL, i4)
    await house.poll()

    assert house.state("sensor.bmw_i4_edrive40_battery") == "80"
    assert house.described(i4["vin"]) == ("BMW i4 eDrive40", "BMW", "i4 eDrive40 (2024)")
    assert house.simulator.counts == {"token": 1, "vehicles": 2}


@pytest.mark.parametrize("back_after", ["a_restart", "its_grace"])
async def test_a_car_that_leaves_and_returns_keeps_its_entity_ids_and_settings(
    house: House, back_after: str
) -> None:
    """Unavailable at once; its device, kept across a restart, and entities gone at the first poll
    an hour after it went missing; back when it is, without a second set of entity ids."""
    await house.set_number(IX_TARGET, 80)
    await house.set_number(IX_CAPACITY, 100)
    house.simulator.remove_car(IX_VIN)
    await house.poll()
    assert house.state(IX_BATTERY) == STATE_UNAVAILABLE
    await house.polls(35)
    await house.reload()
    await house.polls(20)  # the time it went missing survived the restart
    assert house.device(IX_VIN) is not None
    if back_after == "its_grace":
        await house.polls(5)
        assert house.device(IX_VIN) is None
        assert house.entities.async_get(IX_BATTERY) is None
        assert house.hass.states.get(IX_BATTERY) is None
        assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE

    house.simulator.add_car(EMAIL, IX_AGAIN)
    await house.poll(15)

    assert house.device(IX_VIN) is not None
    assert house.state(IX_BATTERY) == "70"
    assert house.state(IX_TARGET) == "80.0"
    assert house.state(IX_CAPACITY) == "100.0"
    assert house.doubled_entity_ids() == []


async def test_device_of_a_car_sold_while_home_assistant_was_off_goes_after_the_grace_period(
    new_house: House,
) -> None:
    """A device no answer lists goes an hour after the start, the listed cars' stay."""
    new_house.entry.add_to_hass(new_house.hass)
    new_house.devices.async_get_or_create(
        config_entry_id=new_house.entry.entry_id, identifiers={(DOMAIN, SOLD_VIN)}
    )
    await new_house.add(new_house.entry)

    assert new_house.device(SOLD_VIN) is not None
    await new_house.poll(55)
    assert new_house.device(SOLD_VIN) is not None
    await new_house.poll(5)
    assert new_house.device(SOLD_VIN) is None
    assert new_house.device(IX_VIN) is not None


IX_M60 = {"model": "iX M60", "year": 2024}
IX_M60_DEVICE = ("BMW iX M60", "BMW", "iX M60 (2024)")
MINI = {"brand": "MINI", "model": "Cooper SE", "year": 2024}


@pytest.mark.parametrize(
    ("changed", "left_out", "device"),
    [
        (IX_M60, {"year": None}, IX_M60_DEVICE),
        (MINI, {"brand": None}, ("MINI Cooper SE", "MINI", "Cooper SE (2024)")),
        (IX_M60, {"model": None, "year": None, "brand": None}, IX_M60_DEVICE),
    ],
    ids=["year_left_out", "brand_left_out", "all_left_out"],
)
async def test_a_changed_description_updates_the_device_and_a_field_left_out_once_does_not(
    house: House, changed: dict[str, Any], left_out: dict[str, Any], device: tuple[str, ...]
) -> None:
    """A new model, year or brand shows on the device; the next answer leaving one out changes nothing."""
    house.simulator.update_car(IX_VIN, overrides=changed)
    await house.poll()
    assert house.described(IX_VIN) == device
    house.simulator.update_car(IX_VIN, overrides={**changed, **left_out})
    await house.poll()
    assert house.described(IX_VIN) == device


async def test_a_car_first_seen_with_a_field_left_out_gets_it_from_a_later_answer(
    new_house: House,
) -> None:
    """The year left out at the first answer shows once an answer has it."""
    new_house.simulator.update_car(IX_VIN, overrides={"year": None})
    await new_house.add(new_house.entry)
    assert new_house.device(IX_VIN).model == "iX xDrive50"

    new_house.simulator.update_car(IX_VIN, overrides={"year": 2023})
    await new_house.poll(15)
    assert new_house.device(IX_VIN).model == "iX xDrive50 (2023)"


@pytest.mark.parametrize(
    ("left_out", "before_the_restart"),
    [({"year": None}, False), ({"model": None, "year": None}, True)],
    ids=["at_the_first_poll_after_it", "before_and_after_it"],
)
async def test_a_field_left_out_around_a_restart_does_not_change_the_device(
    house: House, left_out: dict[str, Any], before_the_restart: bool
) -> None:
    """What is known of the car is kept, not the stored answer, which may have left it out too."""
    house.simulator.update_car(IX_VIN, overrides=left_out)
    if before_the_restart:
        await house.poll(15)
        assert house.described(IX_VIN) == IX_DEVICE
    await house.reload()
    assert house.described(IX_VIN) == IX_DEVICE
    await house.poll(15)
    assert house.described(IX_VIN) == IX_DEVICE


async def test_a_charging_car_missing_at_a_restart_keeps_its_close_polls(house: House) -> None:
    """README: until its device goes, polling goes on as for the car last seen (kept across restarts)."""
    assert house.coordinator.schedule.interval == FIVE_MINUTES
    house.simulator.remove_car(I3S_VIN)
    await house.poll()
    assert house.coordinator.schedule.interval == FIVE_MINUTES

    await house.reload()
    assert house.coordinator.schedule.interval == FIVE_MINUTES


# 4. Values that mean one thing.


async def test_a_car_switching_to_kilometres_keeps_the_range_entity_in_km(house: House) -> None:
    """The range keeps its unit and its value when the car's answer changes units."""
    house.hass.config.units = METRIC_SYSTEM
    before = house.hass.states.get(IX_RANGE)
    assert before.attributes["unit_of_measurement"] == "km"

    house.simulator.update_car(IX_VIN, units="KILOMETERS")
    await house.poll()

    after = house.hass.states.get(IX_RANGE)
    assert after.attributes["unit_of_measurement"] == "km"
    assert float(after.state) == pytest.approx(float(before.state), abs=1)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    ("state", "warned"), [("SUPERCHARGING", 1), ("UNKNOWN", 0)], ids=["new_to_us", "bmw_unknown"]
)
async def test_a_charging_state_not_known_is_unknown_not_off(
    house: House, caplog: pytest.LogCaptureFixture, state: str, warned: int
) -> None:
    """Not "not charging": BMW does not know, or we do not, and so neither does the user."""
    house.simulator.update_car(I3S_VIN, state=state)
    with caplog.at_level(logging.WARNING):
        await house.poll()
        await house.poll()

    assert house.state("sensor.bmw_i3s_94_rex_charging_status") == STATE_UNKNOWN
    assert house.state("binary_sensor.bmw_i3s_94_rex_charging") == STATE_UNKNOWN
    # Plugged in, charging or not: the Charger cannot say either.
    assert house.state("sensor.bmw_i3s_94_rex_charger") == STATE_UNKNOWN
    assert house.state(I3S_BATTERY) != STATE_UNAVAILABLE
    # A state new to the integration is worth one warning; BMW's own UNKNOWN is none.
    assert sum(state in record.getMessage() for record in caplog.records) == warned


async def test_null_fields_are_unknown_not_zero_or_off(house: House) -> None:
    """A level, a plug and a range the answer gives as null are unknown."""
    house.simulator.update_car(
        IX_VIN,
        overrides={
            "charging_state": {"charge_percentage": None, "is_charger_connected": None},
            "electric_range": None,
        },
    )
    await house.poll()

    for entity_id in (IX_BATTERY, IX_RANGE, "binary_sensor.bmw_ix_xdrive50_charger_connected"):
        assert house.state(entity_id) == STATE_UNKNOWN


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
    new_house: House, entry_data: dict[str, Any], stored: dict[str, Any]
) -> None:
    """An entry of the first version loads, logging in again; only a token's two fields are kept."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=EMAIL, minor_version=1, data={**entry_data, CONF_TOKEN: stored}
    )
    await new_house.add(entry)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == 2
    assert new_house.simulator.counts["token"] == 1
    assert set(entry.data[CONF_TOKEN]) == {"access_token", "expires_at"}
    assert "stored-refresh-token" not in repr(entry.data)


async def test_an_entry_from_a_newer_version_is_not_loaded(
    new_house: House, entry_data: dict[str, Any]
) -> None:
    """A version this release does not know is a migration error, not a guess."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id=EMAIL, version=2, data=entry_data)
    await new_house.add(entry)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


# 6. Entry life cycle.


async def test_removing_an_entry_withdraws_its_repairs(
    house: House, issue_registry: ir.IssueRegistry
) -> None:
    """The service-gone repair goes with its entry."""
    house.simulator.inject_fault("vehicles", status=410)
    await house.poll()
    issue_id = f"service_gone_{house.entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    await house.hass.config_entries.async_remove(house.entry.entry_id)
    await house.hass.async_block_till_done()

    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_cars_device_can_be_deleted_once_the_car_left_or_the_entry_is_not_loaded(
    house: House,
) -> None:
    """Not the device of a car the loaded entry shows, nor ever the account's device, which an
    hour of polls does not remove as stale either."""
    entry_id = house.entry.entry_id
    account = house.devices.async_get_device_by_identifier((DOMAIN, entry_id), entry_id)
    await house.polls(75)
    assert house.devices.async_get(account.id) is not None
    present = house.device(IX_VIN)
    gone = house.devices.async_get_or_create(
        config_entry_id=entry_id, identifiers={(DOMAIN, SOLD_VIN)}
    )
    remove = partial(async_remove_config_entry_device, house.hass, house.entry)
    assert not await remove(present)
    assert not await remove(account)
    assert await remove(gone)

    await house.hass.config_entries.async_unload(entry_id)
    assert await remove(present)
    assert not await remove(account)


# Found by a review that tried to break the deletion: the car may come back.
async def test_a_missing_cars_deleted_device_goes_and_comes_back_with_the_car(
    house: House,
) -> None:
    """The user may delete a missing car's device: it is no longer shown, until the car returns."""
    house.simulator.remove_car(IX_VIN)
    await house.poll()
    device = house.device(IX_VIN)
    assert await async_remove_config_entry_device(house.hass, house.entry, device)
    house.devices.async_remove_device(device.id)
    await house.hass.async_block_till_done()
    await house.poll()
    assert IX_VIN not in house.coordinator.cars.shown
    assert house.hass.states.get(IX_BATTERY) is None

    house.simulator.add_car(EMAIL, IX_AGAIN)
    await house.polls(15)
    assert house.device(IX_VIN) is not None
    assert house.state(IX_BATTERY) == "70"


async def test_removing_the_entry_right_after_a_car_went_missing_leaves_no_store(
    house: House, hass_storage: dict[str, Any]
) -> None:
    """The missing car's time, saved late, does not bring the removed entry's store back."""
    house.simulator.remove_car(IX_VIN)
    await house.coordinator.async_refresh()
    await house.hass.config_entries.async_remove(house.entry.entry_id)
    await house.hass.async_block_till_done()
    await house.advance(seconds=5)
    assert f"{DOMAIN}.{house.entry.entry_id}" not in hass_storage
