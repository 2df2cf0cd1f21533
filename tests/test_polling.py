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
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.const import (
    CONF_IDLE_INTERVAL,
    CONF_REFRESH_ENTITIES,
    DOMAIN,
)
from custom_components.orangepower_bmw.store import storage_key
from simulator import Simulator
from tests.conftest import EMAIL, I3S_VIN, IX_VIN
from tests.helpers import (
    IX_BATTERY,
    IX_PLUG,
    NEXT_UPDATE,
    REQUESTS_TODAY,
    WALLBOX,
    requests,
    toggle,
)
from tests.home import Home

pytestmark = pytest.mark.usefixtures("london", "entity_registry_enabled_by_default")

JITTER = "custom_components.orangepower_bmw.coordinator.random.uniform"
NOON = "2026-11-24T12:00:00+00:00"
EVENING = "2026-11-24T20:00:00+00:00"
JUST_AFTER_MIDNIGHT = "2026-11-24T00:00:30+00:00"
MIDNIGHT = datetime(2026, 11, 25, tzinfo=dt_util.UTC)
I3S_TARGET = "number.bmw_i3s_94_rex_charge_target"


@pytest.fixture
def home(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> Home:
    """Return the household, its entry not yet set up."""
    return Home(hass, freezer, simulator, mock_config_entry)


@pytest.fixture
async def core(hass: HomeAssistant) -> None:
    """Set up Home Assistant's core integration, whose update_entity action a user may call."""
    assert await async_setup_component(hass, "homeassistant", {})


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
    home: Home, states: set[str], interval: int
) -> None:
    """Plugged in but waiting (for a cheap period, say), nothing changes by the minute."""
    await home.set_up()
    for vin, state in zip((I3S_VIN, IX_VIN), sorted(states) * 2, strict=False):
        home.simulator.update_car(vin, state=state)
    await home.advance(minutes=5)
    assert await home.minutes(interval - 1) == 0
    assert await home.minutes(1) == 1


# 2. Never sooner than asked.


@pytest.mark.parametrize(
    ("fault", "waits"),
    [
        # Without Retry-After: each wait twice the last, an hour at most, less a random part that
        # only ever shortens it.
        ({"status": 429}, [10, 20, 40, 60, 60]),
        # A retired API: once an hour, not backing off further.
        ({"status": 410}, [60, 60]),
    ],
    ids=["429", "410"],
)
async def test_refusals_in_a_row_wait_up_to_an_hour_until_a_good_poll(
    home: Home, issue_registry: ir.IssueRegistry, fault: dict[str, Any], waits: list[int]
) -> None:
    """The waits after each refusal; after the good poll the values, 5 minutes and no repair."""
    await home.set_up()
    home.simulator.inject_fault("vehicles", count=len(waits), **fault)
    with patch(JITTER, return_value=1.0) as uniform:
        await home.advance(minutes=5)  # the first refusal; the interval was 5 minutes
        assert [await home.minutes_to_next_poll() for _ in waits] == waits
    assert home.state(IX_BATTERY) == "64"
    assert not issue_registry.issues
    assert await home.minutes(5) == 1
    assert uniform.call_args_list == [call(0.8, 1.0)] * len(waits)


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
    home: Home, issue_registry: ir.IssueRegistry, fault: dict[str, Any], at_setup: bool
) -> None:
    """The repair comes an hour after the limiting began, poll or no poll, and goes with it.

    Once broken: with a 403 and no Retry-After (a backoff), it came only at 75 to 90 minutes.
    """
    if not at_setup:
        await home.set_up()
    home.simulator.inject_fault("vehicles", count=100, **fault)
    if at_setup:
        await home.set_up()
    else:
        await home.advance(minutes=5)  # the first refused poll
    issue_id = f"rate_limited_{home.entry.entry_id}"

    await home.minutes(55)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await home.minutes(10)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "rate_limited"
    assert issue.severity is ir.IssueSeverity.WARNING

    home.simulator.clear_faults()
    await home.minutes(60)
    assert home.state(IX_BATTERY) == "64"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.usefixtures("idle")
async def test_a_minute_of_retry_after_on_an_hourly_interval_waits_the_hour(home: Home) -> None:
    """An independent server saw 60 requests in an hour here; the interval in force still holds."""
    await home.set_up(**{CONF_IDLE_INTERVAL: 60})
    home.simulator.inject_fault("vehicles", status=429, retry_after="60", count=100)
    await home.advance(minutes=60)
    assert home.calls == 2
    assert await home.minutes(59) == 0
    assert await home.minutes(1) == 1


@pytest.mark.parametrize(
    ("fault", "wait"),
    [
        ({"status": 429, "retry_after": "1800"}, 30),
        ({"status": 429}, 30),
        ({"status": 403}, 30),
        ({"status": 410}, 60),  # its repair: test_households
    ],
)
@pytest.mark.usefixtures("idle")
async def test_told_to_wait_at_setup_the_entry_loads_and_waits(
    home: Home, fault: dict[str, Any], wait: int
) -> None:
    """No setup retry every few seconds: nothing until the wait is over."""
    home.simulator.inject_fault("vehicles", **fault)
    await home.set_up()

    assert home.entry.state is ConfigEntryState.LOADED
    assert home.calls == 1
    # The backoff is 2x15 minutes less up to 20 % jitter; the others as the service asked.
    assert await home.minutes(int(wait * 0.8) - 1) == 0
    assert await home.minutes(int(wait * 0.2) + 2) == 1
    assert home.state(IX_BATTERY) == "64"


# 3. Refresh triggers.


@pytest.fixture
async def linked(home: Home, idle: Simulator, wallbox: str) -> Home:
    """Set the entry up with both cars idle, the wallbox linked and an hourly idle interval."""
    await home.set_up(**{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [wallbox]})
    return home


@pytest.mark.parametrize(
    ("plugged", "fault", "more_changes", "follow_ups"),
    [
        pytest.param(True, None, 0, 0, id="reported_at_once"),
        pytest.param(True, None, 2, 0, id="changes_close_together"),
        pytest.param(False, None, 0, 1, id="reported_late"),
        pytest.param(True, 503, 0, 1, id="refresh_failed"),
    ],
)
async def test_a_plug_in_shows_half_a_minute_after_the_wallbox_sees_it(
    linked: Home, plugged: bool, fault: int | None, more_changes: int, follow_ups: int
) -> None:
    """One refresh for changes close together; one that failed or showed nothing new is followed
    up once, 3 minutes later."""
    before = linked.calls
    if plugged:
        linked.simulator.plug(IX_VIN)
    if fault:
        linked.simulator.inject_fault("vehicles", status=fault, count=1)
    await toggle(linked.hass, WALLBOX)
    for _ in range(more_changes):  # 5 seconds apart
        await linked.advance(seconds=5)
        await toggle(linked.hass, WALLBOX)
    await linked.advance(seconds=29 - 5 * more_changes)  # 29 seconds after the first
    assert linked.calls == before
    await linked.advance(seconds=2)
    assert linked.calls == before + 1
    # The car may report to BMW late: then it is plugged in by the follow-up.
    linked.simulator.plug(IX_VIN)

    assert await linked.minutes(3) == follow_ups
    assert linked.state(IX_PLUG) == "on"
    assert await linked.minutes(20) == 0


async def test_a_flapping_trigger_asks_at_most_once_a_minute(linked: Home) -> None:
    """A wallbox flapping every 5 seconds for 10 minutes."""
    before = linked.calls
    for _ in range(10 * 12):
        await toggle(linked.hass, WALLBOX)
        await linked.advance(seconds=5)
    assert 5 <= linked.calls - before <= 10


@pytest.mark.usefixtures("idle")
@pytest.mark.parametrize(
    ("old", "new", "attributes", "refreshes"),
    [
        pytest.param("off", "on", {}, 2, id="new_state"),
        pytest.param("on", "on", {"power": 11}, 0, id="attributes_only"),
        pytest.param("unavailable", "on", {}, 0, id="from_unavailable"),
        pytest.param("on", "unavailable", {}, 0, id="to_unavailable"),
        pytest.param("unknown", "on", {}, 0, id="from_unknown"),
        pytest.param(None, "on", {}, 0, id="created"),
    ],
)
async def test_only_a_new_state_triggers_and_the_listeners_go_with_the_entry(
    home: Home, old: str | None, new: str, attributes: dict[str, Any], refreshes: int
) -> None:
    """The linked entity appears after setup; a new state brings a refresh and its follow-up."""
    sensor = "binary_sensor.wallbox_plug"
    await home.set_up(**{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [sensor]})
    if old is not None:
        home.hass.states.async_set(sensor, old)
        await home.advance(minutes=2)

    home.hass.states.async_set(sensor, new, attributes)
    assert await home.minutes(5) == refreshes

    await home.hass.config_entries.async_unload(home.entry.entry_id)
    home.hass.states.async_set(sensor, "off")
    assert await home.minutes(5) == 0


@pytest.mark.usefixtures("idle", "core", "wallbox")
async def test_triggers_and_manual_updates_wait_as_long_as_the_service_asked(home: Home) -> None:
    """Half an hour of a flapping wallbox and impatient updates: nothing until the wait is over."""
    await home.set_up(**{CONF_REFRESH_ENTITIES: [WALLBOX]})
    home.simulator.inject_fault("vehicles", status=429, retry_after="1800", count=1)
    await home.advance(minutes=15)
    assert home.calls == 2

    for _ in range(29):
        await toggle(home.hass, WALLBOX)
        await home.update_entity()
        await home.advance(minutes=1)
    assert home.calls == 2
    assert await home.minutes(2) == 1
    assert home.state(IX_BATTERY) == "64"


# Without the freezer: the update's timer, due at once, runs on the real clock.
@pytest.mark.usefixtures("core")
async def test_update_entity_still_refreshes_and_counts(
    hass: HomeAssistant, simulator: Simulator, init_integration: MockConfigEntry
) -> None:
    """A manual update is one more request, shown in the day's count."""
    before = requests(simulator)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
    )
    await hass.async_block_till_done()
    assert requests(simulator) == before + 1
    assert hass.states.get(REQUESTS_TODAY).state == str(before + 1)


# 4. A daily request limit.


async def test_a_limit_of_48_over_two_days_of_charging_keeps_the_heartbeat_then_learns(
    home: Home,
) -> None:
    """The first day knows nothing of the hours ahead, the second learned them from the first."""
    # Charging all day, at a level that does not move (no estimated end).
    home.freezer.move_to(JUST_AFTER_MIDNIGHT)
    home.simulator.update_car(I3S_VIN, state="CHARGING")
    await home.set_up(48)

    polls: list[datetime] = []
    per_day: dict[int, int] = {}
    for _ in range(2 * 24 * 12 - 1):
        before = home.requests
        await home.advance(minutes=5)
        if home.requests > before:
            polls.append(dt_util.utcnow())
        per_day[dt_util.utcnow().day] = home.budget.count

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


@pytest.mark.parametrize("spent", [False, True], ids=["mid_day", "budget_spent"])
async def test_a_reload_keeps_the_days_count(home: Home, spent: bool) -> None:
    """Not a fresh budget, no request before the next paced slot; spent, the last values shown."""
    await home.set_up_at(NOON, 48)
    await home.advance(hours=1)
    if spent:
        home.budget.count = 48
    made = home.requests

    await home.reload()

    assert home.requests == made
    assert home.budget.count == (48 if spent else made)
    assert home.state(REQUESTS_TODAY) == str(home.budget.count)
    assert home.state(IX_BATTERY) == "64"


async def test_the_limit_holds_within_a_poll_that_must_renew_a_refused_token(home: Home) -> None:
    """The vehicles call is refused, with no room for the renewal and its retry: no login."""
    await home.set_up_at(NOON, 10, spent=8)
    home.simulator.expire_tokens()
    before = home.requests

    await home.advance(hours=2)

    assert home.requests == before + 1
    assert home.budget.count == 9
    assert home.state(IX_BATTERY) == "64"


@pytest.mark.usefixtures("idle", "wallbox")
async def test_a_flapping_wallbox_under_a_limit_keeps_the_limit_and_the_heartbeat(
    home: Home,
) -> None:
    """Flapping every minute for a day: triggers at once while the heartbeats are kept, then not."""
    await home.set_up_at(
        JUST_AFTER_MIDNIGHT, 48, **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [WALLBOX]}
    )
    polls: list[datetime] = []
    per_day: dict[Any, int] = {}
    for _ in range(24 * 60):
        before = home.requests
        await toggle(home.hass, WALLBOX)
        await home.advance(minutes=1)
        if home.requests > before:
            polls.append(dt_util.utcnow())
        per_day[dt_util.now().date()] = home.budget.count

    assert max(per_day.values()) <= 48
    assert max(b - a for a, b in itertools.pairwise(polls)) <= timedelta(hours=2, minutes=1)
    # The first triggers were answered within a minute or two.
    assert polls[1] - polls[0] <= timedelta(minutes=2)


# 5. The account's count of the day (its device: test_households).


@pytest.mark.usefixtures("idle")
async def test_requests_today_restart_at_local_midnight(home: Home) -> None:
    """Without a limit, no "Daily limit: unknown"."""
    home.freezer.move_to("2026-11-24T23:50:00+00:00")
    await home.set_up(**{CONF_IDLE_INTERVAL: 240})
    assert home.state(REQUESTS_TODAY) == "2"
    assert "daily_limit" not in home.hass.states.get(REQUESTS_TODAY).attributes
    await home.minutes(11)
    assert home.state(REQUESTS_TODAY) == "0"


# 6. A household's week.


@pytest.mark.parametrize("then", ["trigger", "reload"])
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
@pytest.mark.usefixtures("idle", "wallbox")
async def test_a_wait_holds_for_a_trigger_asked_before_it_and_across_a_reload(
    home: Home, fault: dict[str, Any], quiet: int, then: str
) -> None:
    """Once broken: a refresh asked for before a wait began ignored the wait, and a reload (options
    change) or restart during a wait asked at once (the 15:00 poll here is told to wait)."""
    await home.set_up(**{CONF_REFRESH_ENTITIES: [WALLBOX]})
    await home.advance(minutes=14, seconds=45)
    if then == "trigger":
        await toggle(home.hass, WALLBOX)  # a refresh asked for at 15:15
    home.simulator.inject_fault("vehicles", count=100, **fault)
    await home.advance(seconds=16)  # the 15:00 poll is told to wait
    assert home.calls == 2
    if then == "reload":
        await home.advance(minutes=1)
        await home.reload()
    assert await home.minutes(quiet) == 0


@pytest.mark.usefixtures("idle", "wallbox")
async def test_a_reload_keeps_a_pending_trigger_under_a_limit(home: Home) -> None:
    """Once broken: a reload under a limit dropped a pending trigger, pushing the next poll out."""
    await home.set_up_at(
        JUST_AFTER_MIDNIGHT, 48, **{CONF_IDLE_INTERVAL: 60, CONF_REFRESH_ENTITIES: [WALLBOX]}
    )
    await home.advance(minutes=10)
    made = home.requests
    home.simulator.plug(IX_VIN)
    await toggle(home.hass, WALLBOX)  # the limit has room: asked for 30 seconds later
    await home.advance(seconds=10)
    await home.reload()
    assert home.requests == made  # the reload itself asks nothing
    await home.advance(seconds=25)
    assert home.state(IX_PLUG) == "on"
    assert home.requests == made + 1


@pytest.mark.usefixtures("idle")
async def test_the_account_sensors_follow_an_outage(home: Home) -> None:
    """Once broken: the account sensors froze during an outage, after its first failure."""
    await home.set_up()
    home.simulator.inject_fault("vehicles", status=503, count=3)
    for _ in range(3):
        await home.advance(minutes=15)
    assert home.budget.count == 5
    assert home.state(REQUESTS_TODAY) == "5"
    assert home.next_update() > dt_util.utcnow()


@pytest.mark.usefixtures("idle", "wallbox")
async def test_next_update_after_a_trigger_answered_by_the_regular_poll(home: Home) -> None:
    """Once broken: next_update was left in the past when a poll just before answered a trigger."""
    await home.set_up(**{CONF_REFRESH_ENTITIES: [WALLBOX]})
    await home.advance(minutes=14, seconds=35)
    home.simulator.plug(IX_VIN)
    await toggle(home.hass, WALLBOX)
    await home.advance(seconds=26)  # 15:01: the regular poll made
    await home.advance(seconds=10)  # 15:11: the trigger skipped
    assert home.state(IX_PLUG) == "on"
    assert home.next_update() > dt_util.utcnow()


@pytest.mark.usefixtures("idle", "wallbox")
async def test_next_update_under_a_spent_budget_after_a_trigger(home: Home) -> None:
    """Once broken: next_update under a spent budget said a time before midnight."""
    await home.set_up_at(EVENING, 10, spent=10, **{CONF_REFRESH_ENTITIES: [WALLBOX]})
    await home.advance(hours=1)
    await toggle(home.hass, WALLBOX)
    await home.advance(seconds=1)
    assert home.next_update() >= MIDNIGHT


async def test_next_update_with_polling_disabled(home: Home) -> None:
    """Once broken: with polling disabled (system option), next_update named a poll never made."""
    home.entry.add_to_hass(home.hass)
    home.hass.config_entries.async_update_entry(home.entry, pref_disable_polling=True)
    await home.hass.config_entries.async_setup(home.entry.entry_id)
    await home.hass.async_block_till_done()
    made = home.requests
    state = home.state(NEXT_UPDATE)
    await home.advance(hours=2)
    assert home.requests == made
    assert state in ("unknown", "unavailable"), state


BAD_CHARGING = {"percentage": "lots", "state": None, "type": None, "charger_connected": True}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (None, {"missing": []}),
        (None, {"missing": None}),
        (None, {"cars": None}),
        (None, "junk"),
        (None, {"cars": [{"vin": "WBA1"}], "requests": {"day": "2026-11-24", "count": 5}}),
        ("polled_at", 5),
        ("requests", {"day": "2026-11-24", "count": 3, "last_request": "2026-11-24T10:00:00"}),
        ("car", {"charging": BAD_CHARGING}),
    ],
    ids=repr,
)
async def test_a_bad_store_does_not_stop_setup(
    home: Home, hass_storage: dict[str, Any], key: str | None, value: Any
) -> None:
    """Once broken: stored data of a bad shape put the entry in setup retry for good. A first
    run's store gone bad: all of it, as version 1 (key None), or one part (key car: each car)."""
    await home.set_up_at(NOON, 48)
    await home.hass.config_entries.async_unload(home.entry.entry_id)
    stored = hass_storage[storage_key(home.entry.entry_id)]
    if key is None:
        stored.update(version=1, data=value)  # migrated to this version's layout at setup
    elif key == "car":
        for car in stored["data"]["cars"]:
            car.update(value)
    else:
        stored["data"][key] = value
    await home.hass.config_entries.async_setup(home.entry.entry_id)
    await home.hass.async_block_till_done()
    assert home.entry.state is ConfigEntryState.LOADED
    await home.advance(hours=1)
    assert home.state(IX_BATTERY) == "64"


@pytest.mark.usefixtures("idle", "core")
async def test_one_budget_warning_a_day_across_reloads(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    """Once broken: "one warning per day" did not survive a reload."""
    await home.set_up_at(NOON, 10, spent=10)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            await home.update_entity()
            # Refused twice, as a timer that lands early would be.
            for _ in range(2):
                await home.entry.runtime_data.async_refresh()
            await home.advance(hours=5)
            await home.reload()
    assert sum("daily limit" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("limit", [0, 24])
@pytest.mark.usefixtures("idle", "core", "wallbox")
async def test_nothing_is_sent_once_the_password_is_refused(home: Home, limit: int) -> None:
    """Once broken: after the service refused the password, triggers, manual updates, follow-ups
    and new charge targets still logged in with it, and the next update promised a poll that never
    came. Under a limit or none; a reload (or a restart) tries it again, counting on."""
    await home.set_up_at(NOON, limit, **{CONF_REFRESH_ENTITIES: [WALLBOX]})
    home.simulator.set_password(EMAIL, "changed-in-the-app")
    home.simulator.expire_tokens()
    # Its refresh is refused; its follow-up would come 3 minutes later.
    await toggle(home.hass, WALLBOX)
    await home.advance(seconds=31)
    flows = home.hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    made = home.requests
    assert home.budget.count == made

    for _ in range(10):
        await toggle(home.hass, WALLBOX)
        await home.update_entity()
        await home.minutes(6)
    await home.coordinator.async_refresh()  # nor a direct refresh
    await home.set_number(I3S_TARGET, 50)
    await home.set_number(I3S_TARGET, 90)
    await home.advance(hours=2)

    assert home.requests == made
    assert home.state(NEXT_UPDATE) == "unknown"
    await home.reload()
    assert home.budget.count == home.requests > made


@pytest.mark.parametrize("early", [0.05, 0.5, 0.95])
@pytest.mark.usefixtures("idle")
async def test_a_spent_limit_polls_within_a_minute_after_midnight(home: Home, early: float) -> None:
    """Once broken: with the limit spent, the poll planned for midnight fell a fraction of a second
    before it (the coordinator's timer drops the fraction), was refused as yesterday's, and the new
    day began an idle interval (here 4 hours) late."""
    await home.set_up_at(EVENING, 10, spent=10, **{CONF_IDLE_INTERVAL: 240})
    made = home.requests
    home.freezer.move_to(MIDNIGHT - timedelta(seconds=early))
    await home.entry.runtime_data.async_refresh()  # as the timer planned for midnight may land
    assert home.requests == made
    assert home.state(IX_BATTERY) == "64"
    for _ in range(60):
        await home.advance(seconds=1)
    assert home.requests > made
    assert home.state(REQUESTS_TODAY) in ("1", "2")


@pytest.mark.usefixtures("idle", "core")
async def test_a_clock_stepping_back_keeps_todays_count(home: Home) -> None:
    """Once broken: a clock stepping back over midnight (a Raspberry Pi booting with its last
    shutdown's time, then corrected) started a fresh count, allowing up to twice the limit."""
    await home.set_up_at("2026-11-25T00:05:00+00:00", 10, spent=10)
    made = home.requests

    home.freezer.move_to("2026-11-24T23:50:00+00:00")
    for _ in range(3):
        await home.update_entity()
        await home.minutes(5)

    assert home.requests == made
    assert home.state(REQUESTS_TODAY) == "10"
