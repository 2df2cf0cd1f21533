"""Fresh when it matters, silent when it does not: the polling schedule as a household lives it.

Waits the service asks for, refresh triggers, a daily request limit, and the account's sensors; the
tests below "A household's week" each pin a defect a review found by breaking the polling as a
week would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import itertools
import logging
from typing import Any
from unittest.mock import call, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw import async_remove_config_entry_device
from custom_components.orangepower_bmw.allocation import heartbeats
from custom_components.orangepower_bmw.budget import RequestBudget, next_midnight
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

pytestmark = pytest.mark.usefixtures("london", "entity_registry_enabled_by_default")


async def polls_within(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator, count: int
) -> int:
    """Move the clock on minute by minute; return how many vehicles calls were made."""
    before = simulator.counts["vehicles"]
    await minutes(hass, freezer, count)
    return simulator.counts["vehicles"] - before


async def minutes_to_next_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator
) -> int:
    """Return after how many minutes the next vehicles call comes (two hours at most)."""
    for minute in range(1, 121):
        if await polls_within(hass, freezer, simulator, 1):
            return minute
    raise AssertionError("no poll within two hours")


def next_update(hass: HomeAssistant) -> datetime | None:
    return dt_util.parse_datetime(hass.states.get(NEXT_UPDATE).state)


# 1. Fast only while a car charges.


@pytest.mark.parametrize(
    ("states", "interval"),
    [
        ({"CHARGING"}, 5),
        ({"PLUGGED_IN"}, 15),
        ({"WAITING_FOR_CHARGING"}, 15),
        ({"TARGET_REACHED"}, 15),
        ({"FULLY_CHARGED"}, 15),
        ({"NOT_CHARGING"}, 15),
        ({"CHARGING", "NOT_CHARGING"}, 5),
        ({"UNKNOWN", "PLUGGED_IN"}, 15),
    ],
)
async def test_polls_at_the_active_interval_only_while_a_car_charges(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    states: set[str],
    interval: int,
) -> None:
    """Plugged in but waiting (for a cheap period, say), nothing changes by the minute."""
    for vin, state in zip((I3S_VIN, IX_VIN), sorted(states) * 2, strict=False):
        simulator.update_car(vin, state=state)
    await advance(hass, freezer, timedelta(minutes=5))
    assert await polls_within(hass, freezer, simulator, interval - 1) == 0
    assert await polls_within(hass, freezer, simulator, 1) == 1


# 2. Never sooner than asked.


async def test_429s_without_retry_after_back_off_doubling_up_to_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    """Each wait twice the last, an hour at most, less a random part that only ever shortens it."""
    simulator.inject_fault("vehicles", status=429, count=5)
    with patch(
        "custom_components.orangepower_bmw.coordinator.random.uniform", return_value=1.0
    ) as uniform:
        await advance(hass, freezer, timedelta(minutes=5))  # first 429; interval was 5 minutes
        waits = [await minutes_to_next_poll(hass, freezer, simulator) for _ in range(4)]
        assert waits == [10, 20, 40, 60]
        # After the fifth 429 the wait stays at an hour; then a good poll brings back 5 minutes.
        assert await polls_within(hass, freezer, simulator, 59) == 0
        assert await polls_within(hass, freezer, simulator, 1) == 1
    assert hass.states.get(IX_BATTERY).state == "64"
    assert await polls_within(hass, freezer, simulator, 5) == 1
    assert uniform.call_args_list == [call(0.8, 1.0)] * 5


# Once broken: with a 403 and no Retry-After (a backoff), the repair came only at 75 to 90 minutes.
@pytest.mark.parametrize(
    ("fault", "at_setup"),
    [
        ({"status": 429, "retry_after": "1800"}, False),
        ({"status": 429, "retry_after": "1800"}, True),
        ({"status": 403}, True),
    ],
    ids=["429_retry_after", "429_retry_after_at_setup", "403_backoff_at_setup"],
)
async def test_rate_limited_for_an_hour_raises_a_repair_until_a_good_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    fault: dict[str, Any],
    at_setup: bool,
) -> None:
    """The repair comes an hour after the limiting began, poll or no poll, and goes with it."""
    if not at_setup:
        await set_up(hass, mock_config_entry)
    simulator.inject_fault("vehicles", count=100, **fault)
    if at_setup:
        await set_up(hass, mock_config_entry)
    else:
        await advance(hass, freezer, timedelta(minutes=5))  # the first refused poll
    issue_id = f"rate_limited_{mock_config_entry.entry_id}"

    await minutes(hass, freezer, 55)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await minutes(hass, freezer, 10)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "rate_limited"
    assert issue.severity is ir.IssueSeverity.WARNING

    simulator.clear_faults()
    await minutes(hass, freezer, 60)
    assert hass.states.get(IX_BATTERY).state == "64"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_retired_api_is_asked_once_an_hour_until_it_is_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Hourly, not backing off further, while the service answers 410; then the repair goes."""
    simulator.inject_fault("vehicles", status=410, count=2)
    await advance(hass, freezer, timedelta(minutes=5))
    assert issue_registry.async_get_issue(DOMAIN, f"service_gone_{init_integration.entry_id}")

    for _ in range(2):  # the second hourly poll is answered with 410 too
        assert await polls_within(hass, freezer, simulator, 59) == 0
        assert await polls_within(hass, freezer, simulator, 1) == 1
    assert hass.states.get(IX_BATTERY).state == "64"
    assert not issue_registry.issues


@pytest.mark.usefixtures("idle")
async def test_a_minute_of_retry_after_on_an_hourly_interval_waits_the_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    await set_up(hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 60})
    simulator.inject_fault("vehicles", status=429, retry_after="60", count=100)
    await advance(hass, freezer, timedelta(minutes=60))
    assert simulator.counts["vehicles"] == 2

    # An independent server saw 60 requests in an hour here; the interval in force still holds.
    await minutes(hass, freezer, 59)
    assert simulator.counts["vehicles"] == 2
    await minutes(hass, freezer, 1)
    assert simulator.counts["vehicles"] == 3


@pytest.mark.parametrize(
    ("fault", "wait", "issue"),
    [
        ({"status": 429, "retry_after": "1800"}, 30, None),
        ({"status": 429}, 30, None),
        ({"status": 403}, 30, None),
        ({"status": 410}, 60, "service_gone"),
    ],
)
@pytest.mark.usefixtures("idle")
async def test_told_to_wait_at_setup_the_entry_loads_and_waits(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    fault: dict[str, Any],
    wait: int,
    issue: str | None,
) -> None:
    simulator.inject_fault("vehicles", **fault)
    await set_up(hass, mock_config_entry)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert simulator.counts["vehicles"] == 1
    if issue is not None:
        assert issue_registry.async_get_issue(DOMAIN, f"{issue}_{mock_config_entry.entry_id}")
    # No setup retry every few seconds: nothing until the wait is over (backoff: 2x15 min, less
    # up to 20 % jitter; the others as the service asked).
    await minutes(hass, freezer, int(wait * 0.8) - 1)
    assert simulator.counts["vehicles"] == 1
    await minutes(hass, freezer, int(wait * 0.2) + 2)
    assert simulator.counts["vehicles"] == 2
    assert hass.states.get(IX_BATTERY).state == "64"


# 3. Refresh triggers.


@pytest.fixture
async def linked(
    hass: HomeAssistant, idle: Simulator, mock_config_entry: MockConfigEntry, wallbox: str
) -> str:
    """Set the entry up with both cars idle, the wallbox linked and an hourly idle interval."""
    await set_up(
        hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [wallbox]}
    )
    return wallbox


@pytest.mark.parametrize("late", [False, True], ids=["reported_at_once", "reported_late"])
async def test_a_plug_in_shows_half_a_minute_after_the_wallbox_sees_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    linked: str,
    late: bool,
) -> None:
    """A refresh that shows nothing new is followed up once, 3 minutes later; one that does, not."""
    before = simulator.counts["vehicles"]

    if not late:
        simulator.plug(IX_VIN)
    await toggle(hass, linked)
    await advance(hass, freezer, timedelta(seconds=29))
    assert simulator.counts["vehicles"] == before
    await advance(hass, freezer, timedelta(seconds=2))
    assert simulator.counts["vehicles"] == before + 1
    # The car may report to BMW late: then it is plugged in by the follow-up.
    simulator.plug(IX_VIN)

    await minutes(hass, freezer, 3)
    assert simulator.counts["vehicles"] == before + 1 + late
    assert hass.states.get(IX_PLUG).state == "on"
    await minutes(hass, freezer, 20)
    assert simulator.counts["vehicles"] == before + 1 + late


async def test_a_flapping_trigger_asks_at_most_once_a_minute(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    linked: str,
) -> None:
    before = simulator.counts["vehicles"]

    for _ in range(10 * 12):  # every 5 seconds for 10 minutes
        await toggle(hass, linked)
        await advance(hass, freezer, timedelta(seconds=5))

    made = simulator.counts["vehicles"] - before
    assert 5 <= made <= 10


async def test_changes_close_together_make_one_refresh(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    linked: str,
) -> None:
    before = simulator.counts["vehicles"]
    simulator.plug(IX_VIN)
    for _ in range(3):
        await toggle(hass, linked)
        await advance(hass, freezer, timedelta(seconds=5))
    await advance(hass, freezer, timedelta(seconds=30))
    assert simulator.counts["vehicles"] == before + 1


@pytest.mark.usefixtures("idle")
@pytest.mark.parametrize(
    ("old", "new", "attributes"),
    [
        ("on", "on", {"power": 11}),
        ("unavailable", "on", {}),
        ("on", "unavailable", {}),
        ("unknown", "on", {}),
        (None, "on", {}),
    ],
    ids=["attributes_only", "from_unavailable", "to_unavailable", "from_unknown", "created"],
)
async def test_changes_that_are_not_a_new_state_are_ignored(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    old: str | None,
    new: str,
    attributes: dict[str, Any],
) -> None:
    sensor = "binary_sensor.wallbox_plug"
    await set_up(
        hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [sensor]}
    )
    if old is not None:
        hass.states.async_set(sensor, old)
        await advance(hass, freezer, timedelta(minutes=2))
    before = simulator.counts["vehicles"]

    hass.states.async_set(sensor, new, attributes)
    await minutes(hass, freezer, 5)
    assert simulator.counts["vehicles"] == before


@pytest.mark.usefixtures("idle")
async def test_an_entity_added_later_triggers_and_listeners_go_with_the_entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    sensor = "binary_sensor.wallbox_plug"
    await set_up(
        hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [sensor]}
    )
    hass.states.async_set(sensor, "off")
    await advance(hass, freezer, timedelta(minutes=2))
    before = simulator.counts["vehicles"]

    hass.states.async_set(sensor, "on")
    await advance(hass, freezer, timedelta(seconds=31))
    assert simulator.counts["vehicles"] == before + 1

    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    hass.states.async_set(sensor, "off")
    await minutes(hass, freezer, 5)
    assert simulator.counts["vehicles"] == before + 1


@pytest.mark.usefixtures("idle")
async def test_triggers_and_manual_updates_wait_as_long_as_the_service_asked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    await set_up(hass, mock_config_entry, **{CONF_REFRESH_ENTITIES: [wallbox]})
    simulator.inject_fault("vehicles", status=429, retry_after="1800", count=1)
    await advance(hass, freezer, timedelta(minutes=15))
    assert simulator.counts["vehicles"] == 2

    # Half an hour of a flapping wallbox and impatient updates: nothing until the wait is over.
    for _ in range(29):
        await toggle(hass, wallbox)
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
        )
        await advance(hass, freezer, timedelta(minutes=1))
    assert simulator.counts["vehicles"] == 2
    await minutes(hass, freezer, 2)
    assert simulator.counts["vehicles"] == 3
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_update_entity_still_refreshes_and_counts(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    before = requests(simulator)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
    )
    await hass.async_block_till_done()
    assert requests(simulator) == before + 1
    assert hass.states.get(REQUESTS_TODAY).state == str(before + 1)


# 4. A daily request limit.


async def test_a_limit_of_48_over_two_days_of_charging_keeps_the_heartbeat_then_learns(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    # Charging all day, at a level that does not move (no estimated end): the first day knows
    # nothing of the hours ahead, the second learned them from the first.
    freezer.move_to("2026-11-24T00:00:30+00:00")
    simulator.update_car(I3S_VIN, state="CHARGING")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 48})

    polls: list[datetime] = []
    per_day: dict[int, int] = {}
    for _ in range(2 * 24 * 12 - 1):
        before = requests(simulator)
        await advance(hass, freezer, timedelta(minutes=5))
        if requests(simulator) > before:
            polls.append(dt_util.utcnow())
        per_day[dt_util.utcnow().day] = mock_config_entry.runtime_data.budget.count

    assert per_day == {24: per_day[24], 25: per_day[25]}
    assert 40 <= per_day[24] <= 48
    assert 40 <= per_day[25] <= 48
    first = [b - a for a, b in itertools.pairwise(polls) if b.day == 24]
    second = [b - a for a, b in itertools.pairwise(polls) if a.day == 25]
    # The first day spends early what it thought a short charge, and keeps a poll every 2 hours.
    assert min(first) == timedelta(minutes=5)
    assert max(first) <= timedelta(hours=2)
    # The second knows the whole day charges: about every half hour, all day.
    assert max(second) <= timedelta(minutes=45)
    assert polls[-1] >= datetime(2026, 11, 25, 23, tzinfo=dt_util.UTC)


@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_under_a_tight_limit_a_poll_comes_just_after_the_charges_estimated_end(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    # 20:00 in Home Assistant's zone (London); the i3s charges from 45 % at 10 % an hour to a 60 %
    # target, where the car stops. Sixteen requests leave the charge about a poll every quarter hour.
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 16})
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.bmw_i3s_94_rex_charge_target", "value": 60},
        blocking=True,
    )
    reasons: set[str] = set()
    polls: list[datetime] = []
    reached = None
    for _ in range(3 * 60):
        before = requests(simulator)
        await advance(hass, freezer, timedelta(minutes=1))
        if requests(simulator) > before:
            polls.append(dt_util.utcnow())
        reasons.add(hass.states.get(NEXT_UPDATE).attributes["reason"])
        if reached is None and simulator.car(I3S_VIN).charge_percentage >= 60:
            simulator.stop_charging(I3S_VIN)
            reached = dt_util.utcnow()

    assert reached is not None
    assert {"daily_limit", "charge_end"} <= reasons
    charging = [b - a for a, b in itertools.pairwise(polls) if b <= reached]
    assert max(charging) <= timedelta(minutes=15)
    # The target reached is seen within minutes: the poll planned just after the estimated end.
    assert next(poll for poll in polls if poll >= reached) - reached <= timedelta(minutes=5)
    assert hass.states.get("sensor.bmw_i3s_94_rex_charger").state == "connected"
    assert hass.states.get(REQUESTS_TODAY).attributes["daily_limit"] == 16
    assert mock_config_entry.runtime_data.budget.count <= 16


async def test_a_restart_with_the_budget_spent_shows_the_last_values_and_asks_nothing(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 10})
    mock_config_entry.runtime_data.budget.count = 10
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    made = requests(simulator)

    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert requests(simulator) == made
    assert hass.states.get(IX_BATTERY).state == "64"
    assert hass.states.get(REQUESTS_TODAY).state == "10"


async def test_a_reload_mid_day_keeps_the_count(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 48})
    await advance(hass, freezer, timedelta(hours=1))
    made = requests(simulator)

    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    # Not a fresh budget, and not a request before the next paced slot.
    assert mock_config_entry.runtime_data.budget.count == made
    assert requests(simulator) == made


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-29", 23), ("2026-10-25", 25), ("2026-11-24", 24)],
)
async def test_the_day_is_the_local_calendar_day(hass: HomeAssistant, day: str, hours: int) -> None:
    await hass.config.async_set_time_zone("Europe/Berlin")
    start = dt_util.start_of_local_day(datetime.fromisoformat(day).date())
    budget = RequestBudget(limit=49, day=start.date())

    # The day's length, and the heartbeats it keeps (a poll every two hours), follow the clocks.
    assert next_midnight(start) - dt_util.as_utc(start) == timedelta(hours=hours)
    assert heartbeats(start) == (hours + 1) // 2
    end = dt_util.as_utc(start) + timedelta(hours=hours)
    assert not budget.roll(end - timedelta(seconds=1))
    assert budget.roll(end)


def test_the_budget_keeps_back_renewals_and_stops_when_spent() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=dt_util.UTC)
    budget = RequestBudget(limit=20, day=now.date(), count=17)
    # Three requests left, all kept for the token renewals: no poll is left.
    assert budget.polls_left(now, reserve=3) == 0
    assert budget.polls_left(now, reserve=1) == 2
    assert budget.allows(now, 3)
    assert not budget.allows(now, 4)


@pytest.mark.parametrize("stored", [{}, {"day": "yesterday", "count": 3}, {"count": "many"}])
def test_an_unusable_stored_count_starts_the_day_afresh(stored: dict[str, Any]) -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=dt_util.UTC)
    budget = RequestBudget.from_dict(48, stored, now)
    assert (budget.day, budget.count) == (now.date(), 0)


async def test_the_limit_holds_within_a_poll_that_must_renew_a_refused_token(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 10})
    mock_config_entry.runtime_data.budget.count = 8
    simulator.expire_tokens()
    before = requests(simulator)

    # The vehicles call is refused, and the limit has no room for the renewal and the retry it
    # is for: no login that could not be used.
    await advance(hass, freezer, timedelta(hours=2))

    assert requests(simulator) == before + 1
    assert mock_config_entry.runtime_data.budget.count == 9
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_a_flapping_wallbox_under_a_limit_keeps_the_limit_and_the_heartbeat(
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
    # A wallbox flapping every minute for a day: triggers go at once while the day's heartbeats
    # are kept, then wait for the planned polls.
    polls: list[datetime] = []
    per_day: dict[Any, int] = {}
    for _ in range(24 * 60):
        before = requests(simulator)
        await toggle(hass, wallbox)
        await advance(hass, freezer, timedelta(minutes=1))
        if requests(simulator) > before:
            polls.append(dt_util.utcnow())
        per_day[dt_util.now().date()] = mock_config_entry.runtime_data.budget.count

    assert max(per_day.values()) <= 48
    assert max(b - a for a, b in itertools.pairwise(polls)) <= timedelta(hours=2, minutes=1)
    # The first triggers were answered within a minute or two.
    assert polls[1] - polls[0] <= timedelta(minutes=2)


# 5. The account device.


async def test_requests_today_restart_at_local_midnight(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    freezer.move_to("2026-11-24T23:50:00+00:00")
    simulator.stop_charging(I3S_VIN)
    await set_up(hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 240})
    assert hass.states.get(REQUESTS_TODAY).state == "2"
    # Without a limit, no "Daily limit: unknown".
    assert "daily_limit" not in hass.states.get(REQUESTS_TODAY).attributes
    await minutes(hass, freezer, 11)
    assert hass.states.get(REQUESTS_TODAY).state == "0"


async def test_the_account_device_is_neither_stale_nor_deletable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    account = device_registry.async_get_device_by_identifier(
        (DOMAIN, init_integration.entry_id), init_integration.entry_id
    )
    assert not await async_remove_config_entry_device(hass, init_integration, account)
    for _ in range(15):
        await advance(hass, freezer, timedelta(minutes=5))
    assert device_registry.async_get(account.id) is not None


# 6. A household's week.


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
    made = requests(simulator)
    simulator.plug(IX_VIN)
    await toggle(hass, wallbox)  # the limit has room: asked for 30 seconds later
    await advance(hass, freezer, timedelta(seconds=10))
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert requests(simulator) == made  # the reload itself asks nothing
    await advance(hass, freezer, timedelta(seconds=25))
    assert hass.states.get(IX_PLUG).state == "on"
    assert requests(simulator) == made + 1


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
    "stored",
    [
        {"missing": []},
        {"missing": None},
        {"cars": None},
        "junk",
        {"cars": [{"vin": "WBA1"}], "requests": {"day": "2026-11-24", "count": 5}},
    ],
    ids=repr,
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
    assert hass.states.get(IX_BATTERY).state == "64"
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
