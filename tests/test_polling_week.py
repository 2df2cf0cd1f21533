"""A household's week against the schedule: waits that outlast a reload, a bad store, the count.

Each test pins a defect a review found by breaking the polling as a week would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.const import (
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
    CONF_REFRESH_ENTITIES,
    DOMAIN,
)
from custom_components.orangepower_bmw.store import storage_key
from simulator import Simulator
from tests.conftest import I3S_VIN, IX_VIN
from tests.helpers import (
    IX_BATTERY,
    IX_PLUG,
    NEXT_UPDATE,
    REQUESTS_TODAY,
    advance,
    minutes,
    requests,
    set_up,
    toggle,
)

pytestmark = pytest.mark.usefixtures("london")


def next_update(hass: HomeAssistant) -> datetime | None:
    return dt_util.parse_datetime(hass.states.get(NEXT_UPDATE).state)


# Once broken: a refresh asked for before a wait began ignores the wait.
@pytest.mark.parametrize(
    "fault", [{"status": 429, "retry_after": "1800"}, {"status": 410}], ids=repr
)
@pytest.mark.usefixtures("idle")
async def test_a_pending_trigger_waits_for_a_wait_that_began_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
    fault: dict[str, Any],
) -> None:
    await set_up(hass, mock_config_entry, **{CONF_REFRESH_ENTITIES: [wallbox]})
    await advance(hass, freezer, timedelta(minutes=14, seconds=45))
    await toggle(hass, wallbox)  # a refresh asked for at 15:15
    simulator.inject_fault("vehicles", count=100, **fault)
    await advance(hass, freezer, timedelta(seconds=16))  # the 15:00 poll is told to wait
    assert simulator.counts["vehicles"] == 2
    await minutes(hass, freezer, 25)
    assert simulator.counts["vehicles"] == 2


# Once broken: a reload (options change) or restart during a wait asks at once.
@pytest.mark.parametrize(
    ("fault", "quiet"),
    [
        ({"status": 429, "retry_after": "1800"}, 25),
        ({"status": 410}, 55),
        # Backing off twice the 15 minutes, less up to a fifth: the backoff is stored too.
        ({"status": 403}, 20),
    ],
    ids=repr,
)
@pytest.mark.usefixtures("idle")
async def test_a_reload_during_a_wait_keeps_waiting(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    fault: dict[str, Any],
    quiet: int,
) -> None:
    await set_up(hass, mock_config_entry)
    simulator.inject_fault("vehicles", count=100, **fault)
    await advance(hass, freezer, timedelta(minutes=15))
    assert simulator.counts["vehicles"] == 2
    await advance(hass, freezer, timedelta(minutes=1))
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await minutes(hass, freezer, quiet)
    assert simulator.counts["vehicles"] == 2


# Once broken: a reload under a limit drops a pending triggered refresh (and pushes the next poll out).
async def test_a_reload_keeps_a_pending_trigger_under_a_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    freezer.move_to("2026-11-24T00:00:30+00:00")
    simulator.stop_charging(I3S_VIN)
    await set_up(
        hass,
        mock_config_entry,
        **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [wallbox], CONF_DAILY_REQUEST_LIMIT: 48},
    )
    await advance(hass, freezer, timedelta(minutes=10))
    simulator.plug(IX_VIN)
    await toggle(hass, wallbox)  # waits for the next paced slot, about 00:33
    slot = mock_config_entry.runtime_data.schedule.ask.at
    await advance(hass, freezer, timedelta(minutes=5))
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, slot - dt_util.utcnow() + timedelta(minutes=1))
    assert hass.states.get(IX_PLUG).state == "on"


# Once broken: the account sensors freeze during an outage (second and later failures in a row).
@pytest.mark.usefixtures("idle")
async def test_the_account_sensors_follow_an_outage(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    await set_up(hass, mock_config_entry)
    simulator.inject_fault("vehicles", status=503, count=3)
    for _ in range(3):
        await advance(hass, freezer, timedelta(minutes=15))
    assert mock_config_entry.runtime_data.budget.count == 5
    assert hass.states.get(REQUESTS_TODAY).state == "5"
    assert next_update(hass) > dt_util.utcnow()


# Once broken: next_update left in the past when a poll just before answered a trigger.
@pytest.mark.usefixtures("idle")
async def test_next_update_after_a_trigger_answered_by_the_regular_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    await set_up(hass, mock_config_entry, **{CONF_REFRESH_ENTITIES: [wallbox]})
    await advance(hass, freezer, timedelta(minutes=14, seconds=35))
    simulator.plug(IX_VIN)
    await toggle(hass, wallbox)  # asked for 15:05; the 15:00 poll answers it
    await advance(hass, freezer, timedelta(seconds=26))  # 15:01: the regular poll made
    await advance(hass, freezer, timedelta(seconds=10))  # 15:11: the trigger skipped
    assert hass.states.get(IX_PLUG).state == "on"
    assert next_update(hass) > dt_util.utcnow()


# Once broken: next_update under a spent budget says a time before midnight.
async def test_next_update_under_a_spent_budget_after_a_trigger(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    freezer.move_to("2026-11-24T20:00:00+00:00")
    simulator.stop_charging(I3S_VIN)
    await set_up(
        hass, mock_config_entry, **{CONF_REFRESH_ENTITIES: [wallbox], CONF_DAILY_REQUEST_LIMIT: 10}
    )
    mock_config_entry.runtime_data.budget.count = 10
    await advance(hass, freezer, timedelta(hours=1))  # 21:00
    await toggle(hass, wallbox)
    await advance(hass, freezer, timedelta(seconds=1))
    assert next_update(hass) >= dt_util.parse_datetime("2026-11-25T00:00:00+00:00")


# Once broken: next_update with polling disabled (system option) names a poll that never comes.
async def test_next_update_with_polling_disabled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, pref_disable_polling=True)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    made = requests(simulator)
    state = hass.states.get(NEXT_UPDATE).state
    await advance(hass, freezer, timedelta(hours=2))
    assert requests(simulator) == made
    assert state in ("unknown", "unavailable"), state


# Once broken: a triggered refresh that failed gets no follow-up.
@pytest.mark.usefixtures("idle")
async def test_a_triggered_refresh_that_failed_gets_its_follow_up(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    await set_up(
        hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 240, CONF_REFRESH_ENTITIES: [wallbox]}
    )
    before = simulator.counts["vehicles"]
    simulator.plug(IX_VIN)
    simulator.inject_fault("vehicles", status=503, count=1)
    await toggle(hass, wallbox)
    await advance(hass, freezer, timedelta(seconds=31))
    assert simulator.counts["vehicles"] == before + 1  # failed
    await minutes(hass, freezer, 5)
    assert simulator.counts["vehicles"] == before + 2
    assert hass.states.get(IX_PLUG).state == "on"


# Once broken: stored data of a bad shape puts the entry in setup retry for good.
@pytest.mark.parametrize(
    "stored", [{"missing": []}, {"missing": None}, {"cars": None}, "junk"], ids=repr
)
async def test_a_bad_store_does_not_stop_setup(
    hass: HomeAssistant,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    stored: Any,
) -> None:
    key = storage_key(mock_config_entry.entry_id)
    hass_storage[key] = {"version": 1, "key": key, "data": stored}
    await set_up(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(IX_BATTERY).state == "64"


@pytest.mark.parametrize(
    "change",
    [
        {"polled_at": 5},
        {"requests": {"day": "2026-11-24", "count": 3, "last_request": "2026-11-24T10:00:00"}},
        {
            "car": {
                "charging": {
                    "percentage": "lots",
                    "state": None,
                    "type": None,
                    "charger_connected": True,
                }
            }
        },
    ],
    ids=["polled_at_number", "naive_last_request", "percentage_text"],
)
async def test_a_bad_store_after_a_first_run(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    change: dict[str, Any],
) -> None:
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 48})
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    data = hass_storage[storage_key(mock_config_entry.entry_id)]["data"]
    for key, value in change.items():
        if key == "car":
            for car in data["cars"]:
                car.update(value)
        else:
            data[key] = value
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    await advance(hass, freezer, timedelta(hours=1))
    assert hass.states.get(IX_BATTERY).state == "64"


# Once broken: "one warning per day" does not survive a reload.
@pytest.mark.usefixtures("idle")
async def test_one_budget_warning_a_day_across_reloads(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 10})
    mock_config_entry.runtime_data.budget.count = 10
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            await hass.services.async_call(
                "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
            )
            # Refused twice, as a timer that lands early would be.
            for _ in range(2):
                await mock_config_entry.runtime_data.async_refresh()
            await advance(hass, freezer, timedelta(hours=5))
            await hass.config_entries.async_reload(mock_config_entry.entry_id)
            await hass.async_block_till_done()
    assert sum("daily limit" in r.getMessage() for r in caplog.records) == 1


# Once broken: with a 403 and no Retry-After (backoff), the rate_limited repair comes at ~75-90 min.
async def test_a_403_raises_the_repair_after_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    simulator.inject_fault("vehicles", status=403, count=100)
    await set_up(hass, mock_config_entry)
    await minutes(hass, freezer, 65)
    assert issue_registry.async_get_issue(DOMAIN, f"rate_limited_{mock_config_entry.entry_id}")


# Once broken: after the service refused the password, triggers, manual updates and follow-ups
# still logged in with it, and the next update promised a poll that never came.
@pytest.mark.usefixtures("idle")
async def test_nothing_is_sent_once_the_password_is_refused(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    await set_up(hass, mock_config_entry, **{CONF_REFRESH_ENTITIES: [wallbox]})
    simulator.set_password("demo@example.com", "changed-in-the-app")
    await toggle(hass, wallbox)  # its refresh is refused; its follow-up would come 3 minutes later
    await advance(hass, freezer, timedelta(seconds=31))
    assert [flow["context"]["source"] for flow in hass.config_entries.flow.async_progress()] == [
        "reauth"
    ]
    made = requests(simulator)

    for _ in range(10):
        await toggle(hass, wallbox)
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
        )
        await minutes(hass, freezer, 6)

    await mock_config_entry.runtime_data.async_refresh()  # nor a direct refresh
    assert requests(simulator) == made
    assert hass.states.get(NEXT_UPDATE).state == "unknown"


# Once broken: with the limit spent, the poll planned for midnight fell a fraction of a second
# before it (the coordinator's timer drops the fraction), was refused as yesterday's, and the new
# day began an idle interval (here 4 hours) late.
@pytest.mark.parametrize("early", [0.05, 0.5, 0.95])
@pytest.mark.usefixtures("idle")
async def test_a_spent_limit_polls_within_a_minute_after_midnight(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    early: float,
) -> None:
    freezer.move_to("2026-11-24T20:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 240, CONF_DAILY_REQUEST_LIMIT: 10})
    coordinator = mock_config_entry.runtime_data
    coordinator.budget.count = 10
    made = requests(simulator)
    midnight = dt_util.parse_datetime("2026-11-25T00:00:00+00:00")
    freezer.move_to(midnight - timedelta(seconds=early))
    await coordinator.async_refresh()  # as the timer planned for midnight may land
    assert requests(simulator) == made
    for _ in range(60):
        await advance(hass, freezer, timedelta(seconds=1))
    assert requests(simulator) > made
    assert hass.states.get(REQUESTS_TODAY).state in ("1", "2")


# Once broken: a clock stepping back over midnight (a Raspberry Pi booting with its last shutdown's
# time, then corrected) started a fresh count, allowing up to twice the limit that day.
@pytest.mark.usefixtures("idle")
async def test_a_clock_stepping_back_keeps_todays_count(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    freezer.move_to("2026-11-25T00:05:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 10})
    mock_config_entry.runtime_data.budget.count = 10
    made = requests(simulator)

    freezer.move_to("2026-11-24T23:50:00+00:00")
    for _ in range(3):
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
        )
        await minutes(hass, freezer, 5)

    assert requests(simulator) == made
    assert hass.states.get(REQUESTS_TODAY).state == "10"
