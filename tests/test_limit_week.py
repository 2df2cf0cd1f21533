"""A household's week under a daily limit, as two reviews tried to break it.

Each "Once broken" test pins a defect a review found, now fixed; the others pin what held.

The simulator stands in for the service; Home Assistant's clock is moved with the freezer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import itertools
import json
import logging
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.allocation import SLOTS_A_DAY, Need, planned_poll
from custom_components.orangepower_bmw.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
)
from custom_components.orangepower_bmw.store import STORAGE_VERSION, storage_key
from simulator import Simulator
from tests.conftest import I3S_VIN, IX_VIN
from tests.helpers import NEXT_UPDATE, advance, requests, set_up

pytestmark = pytest.mark.usefixtures("entity_registry_enabled_by_default")

REASONS = {"interval", "asked", "wait", "daily_limit", "charge_end", "usual_change"}
CHARGE_TARGET = "number.bmw_i3s_94_rex_charge_target"
WANTED = {
    Need.CHARGING: timedelta(minutes=5),
    Need.WAITING: timedelta(minutes=30),
    Need.PARKED: timedelta(minutes=60),
}


def next_update(hass: HomeAssistant) -> datetime | None:
    return dt_util.parse_datetime(hass.states.get(NEXT_UPDATE).state)


def reason(hass: HomeAssistant) -> str | None:
    return hass.states.get(NEXT_UPDATE).attributes.get("reason")


async def set_target(hass: HomeAssistant, value: float, entity: str = CHARGE_TARGET) -> None:
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity, "value": value}, blocking=True
    )


@pytest.fixture(autouse=True)
def no_jitter() -> Any:
    with patch("custom_components.orangepower_bmw.coordinator.random.uniform", return_value=1.0):
        yield


# Once broken: Europe/Berlin's clocks go back at 03:00 CEST on 25 October 2026 (01:00 UTC):
# 02:00-03:00 comes twice. In the second 02:xx, the quarters 02:15-02:45 of the local day are read
# as the first ones (an hour earlier in real time): a poll "a few minutes into the quarter" in which
# yesterday a charge began is planned in the past.
@pytest.mark.parametrize("minute", [0, 5, 20])
async def test_a_poll_for_a_usual_change_is_never_planned_in_the_past_on_a_25_hour_day(
    hass: HomeAssistant, minute: int
) -> None:
    await hass.config.async_set_time_zone("Europe/Berlin")
    # Yesterday a car began to charge at 02:30 and charged until 06:30.
    yesterday = "p" * 10 + "c" * 16 + "p" * (SLOTS_A_DAY - 26)
    now = datetime(2026, 10, 25, 1, minute, tzinfo=dt_util.UTC)  # the second 02:xx (CET)
    at, _ = planned_poll(
        now,
        need=Need.PARKED,
        charge_end=None,
        yesterday=yesterday,
        polls_left=40,
        wanted=WANTED,
    )
    assert at > now


def stored_profile(entry_id: str, yesterday: str) -> dict[str, Any]:
    """Return a store whose profile says yesterday (24 October) a car charged as given."""
    return {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": storage_key(entry_id),
        "data": {
            "schedule": {
                "profile": {
                    "day": "2026-10-24",
                    "today": yesterday,
                    "yesterday": "",
                    "since": "2026-10-24T21:59:00+00:00",
                    "need": "p",
                }
            }
        },
    }


async def test_the_repeated_hour_of_a_25_hour_day_does_not_burst_the_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await hass.config.async_set_time_zone("Europe/Berlin")
    simulator.stop_charging(I3S_VIN)
    # Yesterday (Saturday) the car's timer started a charge at 02:30, until 06:30.
    hass_storage[storage_key(mock_config_entry.entry_id)] = stored_profile(
        mock_config_entry.entry_id, "p" * 10 + "c" * 16 + "p" * (SLOTS_A_DAY - 26)
    )
    freezer.move_to("2026-10-25T00:50:00+00:00")  # 02:50 CEST
    await set_up(hass, mock_config_entry, **{CONF_IDLE_INTERVAL: 60, CONF_DAILY_REQUEST_LIMIT: 48})
    start = requests(simulator)
    for _ in range(60):  # to 01:50 UTC, 02:50 CET
        await advance(hass, freezer, timedelta(minutes=1))
        assert next_update(hass) > dt_util.utcnow()
        assert hass.states.get(NEXT_UPDATE).attributes["reason"] in REASONS
    # An hour of a car expected to charge: at most a poll every 5 minutes, not a burst.
    assert requests(simulator) - start <= 12, requests(simulator) - start


# Once broken: a charge that overruns its estimate (the rate tapers near the target, as a real
# battery's does): the README promises a poll two minutes after the estimated end, then polls "every
# 5 minutes, or the charging interval if longer" for half an hour. Each poll that still shows the
# level a percent short moves the estimated end to that poll's own time, so the next poll comes 2
# minutes later, again and again: the half hour after the end costs a poll every 2 minutes, whatever
# the interval.
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T12:00:00+00:00")
async def test_a_charge_that_overruns_its_estimate_is_polled_at_the_charging_interval(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    await set_up(
        hass,
        mock_config_entry,
        **{CONF_ACTIVE_INTERVAL: 15, CONF_DAILY_REQUEST_LIMIT: 96},
    )
    await set_target(hass, 60)
    # 45 % at 10 % an hour: 59 % after 84 minutes; then the level stops moving, still charging.
    for _ in range(84):
        await advance(hass, freezer, timedelta(minutes=1))
    assert simulator.car(I3S_VIN).charge_percentage == 59
    simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
    polls: list[datetime] = []
    for _ in range(60):
        before = requests(simulator)
        await advance(hass, freezer, timedelta(minutes=1))
        if requests(simulator) > before:
            polls.append(dt_util.utcnow())
        assert next_update(hass) > dt_util.utcnow()
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    # One poll just after the end, then no closer than the charging interval (15 minutes).
    assert len(polls) <= 6, [p.time().isoformat() for p in polls]
    assert all(gap >= timedelta(minutes=14) for gap in sorted(gaps)[1:]), gaps


# Once broken: the close polls past an overrun end last "half an hour after it" (README); the
# estimate moves on to each poll that still shows the car short, so the half hour never ends: under
# a limit that stretches the charge, a stuck last percent is polled every 5 minutes ("Just after the
# charge's estimated end") until only the heartbeats are left.
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T18:00:00+00:00")
async def test_close_polls_past_an_overrun_end_last_half_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 30})
    await set_target(hass, 60)
    for _ in range(84):
        await advance(hass, freezer, timedelta(minutes=1))
    assert simulator.car(I3S_VIN).charge_percentage == 59
    simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
    polls: list[tuple[datetime, str]] = []
    for _ in range(150):
        before = requests(simulator)
        await advance(hass, freezer, timedelta(minutes=1))
        if requests(simulator) > before:
            polls.append((dt_util.utcnow(), hass.states.get(NEXT_UPDATE).attributes["reason"]))
    overrun = polls[0][0]
    late = [
        (at.time().isoformat(), why)
        for at, why in polls
        if at > overrun + timedelta(minutes=35) and why == "charge_end"
    ]
    assert not late, [(at.time().isoformat(), why) for at, why in polls]


IX_TARGET = "number.bmw_ix_xdrive50_charge_target"


# Once broken: two cars charging, the i3s stalls a percent short of its target (its estimated end
# moves on to each poll), the iX charges on to a known end. The schedule took the earliest end of
# the two, the i3s's passed one, so the iX's end never got its poll "two minutes after"; now the
# earliest end still ahead is the one planned for.
@pytest.mark.parametrize("i3s_stalls", [False, True])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T16:00:00+00:00")
async def test_a_second_car_gets_its_end_poll_while_the_first_overruns(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    i3s_stalls: bool,
) -> None:
    simulator.plug(IX_VIN)
    simulator.start_charging(IX_VIN)
    if not i3s_stalls:
        simulator.unplug(I3S_VIN)
    await set_up(hass, mock_config_entry, **{CONF_ACTIVE_INTERVAL: 5, CONF_DAILY_REQUEST_LIMIT: 30})
    await set_target(hass, 60)
    await hass.services.async_call(
        "number", "set_value", {"entity_id": IX_TARGET, "value": 90}, blocking=True
    )
    reached = None
    polls: list[datetime] = []
    for minute in range(200):
        before = requests(simulator)
        await advance(hass, freezer, timedelta(minutes=1))
        if requests(simulator) > before:
            polls.append(dt_util.utcnow())
        if i3s_stalls and minute == 84:
            assert simulator.car(I3S_VIN).charge_percentage == 59
            simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
        if reached is None and simulator.car(IX_VIN).charge_percentage >= 90:
            simulator.stop_charging(IX_VIN)
            reached = dt_util.utcnow()
    assert reached is not None
    seen = next(poll for poll in polls if poll >= reached)
    assert seen - reached <= timedelta(minutes=5), (reached, [p.time().isoformat() for p in polls])


# Held: a limit lowered below today's count in the options sends nothing more today; removed, it
# polls again; set again, the count it kept is still the day's.
@pytest.mark.usefixtures("london")
async def test_a_limit_lowered_below_the_count_then_removed_then_set_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    freezer.move_to("2026-11-24T12:00:00+00:00")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 100})
    for _ in range(6):
        await advance(hass, freezer, timedelta(minutes=5))
    count = mock_config_entry.runtime_data.budget.count
    assert count > 5
    made = requests(simulator)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_DAILY_REQUEST_LIMIT: 5}
    )
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(12):
        await advance(hass, freezer, timedelta(minutes=5))
        assert next_update(hass) >= datetime.fromisoformat("2026-11-25T00:00:00+00:00")
        assert hass.states.get(NEXT_UPDATE).attributes["reason"] == "daily_limit"
    assert requests(simulator) == made
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_DAILY_REQUEST_LIMIT: 0}
    )
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, timedelta(minutes=5))
    assert requests(simulator) > made
    hass.config_entries.async_update_entry(
        mock_config_entry, options={**mock_config_entry.options, CONF_DAILY_REQUEST_LIMIT: 10}
    )
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.budget.count == requests(simulator)
    made = requests(simulator)
    await advance(hass, freezer, timedelta(hours=2))
    assert requests(simulator) == made


# Second review: faults at a charge's end, missing cars, small and large limits over whole days,
# unknown rates, changed targets, restarts, refused passwords.


class Watch:
    """Records every request the service gets (when, which endpoint) and checks Next update."""

    def __init__(self, hass: HomeAssistant, simulator: Simulator, entry: MockConfigEntry) -> None:
        self.hass, self.simulator, self.entry = hass, simulator, entry
        self.sent: list[tuple[datetime, str]] = []
        self.troubles: list[str] = []
        counted = simulator.count_request

        def count_request(endpoint: str) -> None:
            self.sent.append((dt_util.utcnow(), endpoint))
            counted(endpoint)

        simulator.count_request = count_request  # type: ignore[method-assign]

    def per_day(self) -> dict[str, int]:
        days: dict[str, int] = {}
        for at, _ in self.sent:
            day = dt_util.as_local(at).date().isoformat()
            days[day] = days.get(day, 0) + 1
        return days

    def polls(self, since: datetime | None = None) -> list[datetime]:
        return [
            at for at, what in self.sent if what == "vehicles" and (since is None or at >= since)
        ]

    async def tick(
        self, freezer: FrozenDateTimeFactory, step: timedelta = timedelta(minutes=1)
    ) -> None:
        await advance(self.hass, freezer, step)
        self.check()

    def check(self) -> None:
        now = dt_util.utcnow()
        if self.entry.runtime_data.schedule.refused:
            return
        planned, why = next_update(self.hass), reason(self.hass)
        if planned is None:
            self.troubles.append(f"{now:%d %H:%M} no next update")
        elif planned <= now:
            self.troubles.append(
                f"{now:%d %H:%M} next update in the past {planned:%H:%M:%S} ({why})"
            )
        if why not in REASONS:
            self.troubles.append(f"{now:%d %H:%M} reason {why}")

    def bursts(self, window: timedelta = timedelta(minutes=10), most: int = 4) -> list[str]:
        """Return where more than `most` requests fell in one window."""
        times = [at for at, _ in self.sent]
        out = []
        for index, at in enumerate(times):
            within = [other for other in times[index:] if other - at < window]
            if len(within) > most:
                out.append(f"{at:%d %H:%M:%S}: {len(within)}")
        return out


# Faults at the poll just after a charge's estimated end, or in the close half hour after it.
FAULTS = {
    "429": {"status": 429, "retry_after": "1200"},
    "403": {"status": 403},
    "503": {"status": 503},
    "dropped": {"drop": "before"},
    "503x3": {"status": 503, "count": 3},
    "403x2": {"status": 403, "count": 2},
    "429-0": {"status": 429, "retry_after": "0"},
}


@pytest.mark.parametrize("late", [0, 1, 3])
@pytest.mark.parametrize("name", list(FAULTS))
@pytest.mark.parametrize("limit", [16, 30])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_fault_at_the_charge_end_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    name: str,
    late: int,
    limit: int,
) -> None:
    """The fault hits the end poll (late=0) or the late-th close poll after it."""
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: limit})
    await set_target(hass, 60)
    coordinator = mock_config_entry.runtime_data
    reached = injected = None
    end_polls = 0
    log = []
    for _ in range(4 * 60):
        before = coordinator.schedule.next_request()
        end = coordinator.schedule.charge_end
        # A poll after the end, due within the minute: the end poll, then the close ones.
        due = before is not None and before[0] <= dt_util.utcnow() + timedelta(minutes=1)
        if injected is None and due and end is not None and before[0] > end:
            if end_polls == late:
                simulator.inject_fault("vehicles", **FAULTS[name])
                injected = before[0]
            else:
                end_polls += 1
        n = len(watch.sent)
        await watch.tick(freezer)
        if len(watch.sent) > n:
            log.append(
                (
                    dt_util.utcnow(),
                    f"{reason(hass)} {simulator.car(I3S_VIN).charge_percentage} {coordinator.schedule.charge_end}",
                )
            )
        level = simulator.car(I3S_VIN).charge_percentage
        if reached is None and late == 0 and level >= 60:
            simulator.stop_charging(I3S_VIN)
            reached = dt_util.utcnow()
        elif reached is None and late and level == 59 and injected is None:
            # Late faults: the last percent overruns the estimate (the close polls run).
            simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
        if (
            late
            and injected is not None
            and reached is None
            and dt_util.utcnow() >= injected + timedelta(minutes=1)
        ):
            simulator.update_car(I3S_VIN, state=None)
            simulator.stop_charging(I3S_VIN)
            reached = dt_util.utcnow()
    assert injected is not None, "\n".join(f"{a.time().isoformat()} {w}" for a, w in log)
    assert reached is not None
    assert not watch.troubles, watch.troubles
    assert max(watch.per_day().values()) <= limit, watch.per_day()
    assert coordinator.budget.count <= limit
    assert not watch.bursts(), watch.bursts()
    polls = watch.polls()
    failed = next(at for at in polls if at >= injected)
    after = [at for at in polls if at > failed]
    assert after, "no poll after the fault"
    if name == "429":
        assert after[0] - failed >= timedelta(seconds=1200), (failed, after[0])
    if name.startswith("403"):
        assert after[0] - failed >= timedelta(minutes=5), (failed, after[0])
    # The end gets seen once the fault clears: the first good poll after the end shows it.
    seen = next(at for at in after if at >= reached)
    bound = {
        "429": timedelta(seconds=1200),
        "503x3": timedelta(minutes=40),
        "403x2": timedelta(minutes=40),
    }.get(name, timedelta(minutes=15))
    assert seen - failed <= bound + timedelta(minutes=2), (
        failed.time().isoformat(),
        [at.time().isoformat() for at in polls[-10:]],
    )
    assert hass.states.get("sensor.bmw_i3s_94_rex_charger").state == "connected"


async def household_days(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    watch: Watch,
    days: int,
) -> None:
    """Days of a household: off to work at 07:30, home and plugged in at 18:30, a timer starts
    the charge at 01:00; the iX stays parked."""
    for _ in range(days * 24 * 60):
        await watch.tick(freezer)
        local = dt_util.as_local(dt_util.utcnow())
        hm = (local.hour, local.minute)
        if hm == (7, 30):
            simulator.unplug(I3S_VIN)
            simulator.update_car(I3S_VIN, percentage=40)
        elif hm == (18, 30):
            simulator.plug(I3S_VIN)
        elif hm == (1, 0):
            simulator.start_charging(I3S_VIN)


@pytest.mark.parametrize("limit", [10, 12, 16, 24, 2000])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T06:00:00+00:00")
async def test_whole_days_under_small_and_large_limits(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    limit: int,
) -> None:
    watch = Watch(hass, simulator, mock_config_entry)
    simulator.stop_charging(I3S_VIN)
    await set_up(
        hass,
        mock_config_entry,
        **{CONF_DAILY_REQUEST_LIMIT: limit, CONF_IDLE_INTERVAL: 60, CONF_ACTIVE_INTERVAL: 10},
    )
    await household_days(hass, freezer, simulator, watch, 3)
    per_day = watch.per_day()
    assert max(per_day.values()) <= limit, per_day
    assert not watch.troubles, watch.troubles[:10]
    assert not watch.bursts(), watch.bursts()[:10]
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("custom_components.orangepower_bmw") and r.levelno >= logging.ERROR
    ]
    assert not errors, errors[:5]
    polls = watch.polls()
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    if limit >= 24:
        # Heartbeats: a poll at least every two hours.
        assert max(gaps) <= timedelta(hours=2, minutes=1), max(gaps)
    full = [day for day in per_day if day not in ("2026-11-24", "2026-11-27")]
    if limit < 2000:
        # The limit is used, not left idle: most of it each full day.
        assert all(per_day[day] >= limit - 3 for day in full), per_day


def only_the_ix(simulator: Simulator) -> str:
    """Return an answer of the account listing the iX only (the i3s missing from it)."""
    return json.dumps([simulator.car_json(IX_VIN)["vehicle"]])


@pytest.mark.parametrize("when", ["mid_charge", "end_poll"])
@pytest.mark.parametrize("missing", [1, 2])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_charging_car_missing_from_an_answer_under_a_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    when: str,
    missing: int,
) -> None:
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 30})
    await set_target(hass, 60)
    coordinator = mock_config_entry.runtime_data
    injected = reached = None
    for _ in range(3 * 60):
        planned = coordinator.schedule.next_request()
        end = coordinator.schedule.charge_end
        due = planned is not None and planned[0] <= dt_util.utcnow() + timedelta(minutes=1)
        if (
            injected is None
            and due
            and end is not None
            and (when == "mid_charge" or planned[0] > end)
        ):
            for _ in range(missing):
                simulator.inject_fault("vehicles", body=only_the_ix(simulator))
            injected = planned[0]
        await watch.tick(freezer)
        if (
            injected is not None
            and watch.polls()[-1] >= injected
            and len(watch.polls(injected)) <= missing
        ):
            # Right after a poll the i3s was missing from: the plan is still a charge's.
            assert coordinator.schedule.need.value == "c", (missing, watch.polls(injected))
            assert coordinator.schedule.next_request()[0] - dt_util.utcnow() <= timedelta(minutes=6)
        if reached is None and simulator.car(I3S_VIN).charge_percentage >= 60:
            simulator.stop_charging(I3S_VIN)
            reached = dt_util.utcnow()
    assert injected is not None
    assert reached is not None
    assert not watch.troubles, watch.troubles
    seen = next(at for at in watch.polls() if at >= reached)
    assert seen - reached <= timedelta(minutes=10), (reached, watch.polls(injected)[:8])
    assert hass.states.get("sensor.bmw_i3s_94_rex_charger").state == "connected"


@pytest.mark.parametrize("limit", [12, 16, 24])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_target_lowered_mid_charge_moves_the_end_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    limit: int,
) -> None:
    """45 % at 10 % an hour to 80 % (end about 23:30); at 20:50 the user says the car stops at 55 %
    (about 21:00): the poll just after the charge's end follows the new end."""
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: limit})
    await set_target(hass, 80)
    coordinator = mock_config_entry.runtime_data
    for _ in range(50):
        await watch.tick(freezer)
    assert coordinator.schedule.charge_end is not None
    await set_target(hass, 55)
    new_end = coordinator.charging.car(I3S_VIN).end
    assert new_end is not None
    assert new_end < dt_util.utcnow() + timedelta(minutes=20)
    reached = None
    for _ in range(120):
        await watch.tick(freezer)
        if reached is None and simulator.car(I3S_VIN).charge_percentage >= 55:
            simulator.stop_charging(I3S_VIN)
            reached = dt_util.utcnow()
    assert reached is not None
    assert not watch.troubles, watch.troubles
    seen = next(at for at in watch.polls() if at >= reached)
    # Within minutes of the end (or of its estimate, when that came after it).
    assert seen - max(reached, new_end) <= timedelta(minutes=5), (
        new_end.time().isoformat(),
        reached.time().isoformat(),
        [at.time().isoformat() for at in watch.polls(reached - timedelta(hours=1))],
    )


@pytest.mark.parametrize("limit", [12, 24])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_target_raised_mid_charge_drops_the_old_end_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    limit: int,
) -> None:
    """Charging to 60 % (end about 21:30); at 21:20 the user raises it to 90 %: Next update no
    longer says the charge ends at 21:32."""
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: limit})
    await set_target(hass, 60)
    coordinator = mock_config_entry.runtime_data
    for _ in range(80):
        await watch.tick(freezer)
    old_end = coordinator.schedule.charge_end
    assert old_end is not None
    await set_target(hass, 90)
    await hass.async_block_till_done()
    planned = coordinator.schedule.next_request()
    assert not (
        planned[1].value == "charge_end" and planned[0] <= old_end + timedelta(minutes=2)
    ), (planned, old_end, coordinator.charging.car(I3S_VIN).end)


@pytest.mark.parametrize("minutes_after", [3, 12, 25])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_restart_in_the_close_half_hour_after_a_charge_end(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    minutes_after: int,
) -> None:
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 24})
    await set_target(hass, 60)
    for _ in range(84):
        await watch.tick(freezer)
    assert simulator.car(I3S_VIN).charge_percentage == 59
    simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
    end = mock_config_entry.runtime_data.schedule.charge_end
    assert end is not None
    while dt_util.utcnow() < end + timedelta(minutes=minutes_after):
        await watch.tick(freezer)
    count = mock_config_entry.runtime_data.budget.count
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    restarted = dt_util.utcnow()
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = mock_config_entry.runtime_data
    assert coordinator.budget.count >= count
    watch.check()
    # The close polls go on, no burst: at most a poll every 5 minutes.
    for _ in range(40):
        await watch.tick(freezer)
    simulator.update_car(I3S_VIN, state=None)
    simulator.stop_charging(I3S_VIN)
    stopped = dt_util.utcnow()
    for _ in range(180):
        await watch.tick(freezer)
    assert not watch.troubles, watch.troubles
    assert not watch.bursts(timedelta(minutes=10), 3), watch.bursts()
    after = watch.polls(restarted)
    assert len([at for at in after if at < restarted + timedelta(minutes=10)]) <= 2, after
    assert max(watch.per_day().values()) <= 24
    assert next(at for at in after if at >= stopped) - stopped <= timedelta(hours=2)
    assert hass.states.get("sensor.bmw_i3s_94_rex_charger").state == "connected"


@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_refused_password_under_a_limit_sends_nothing_more(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    wallbox: str,
) -> None:
    from custom_components.orangepower_bmw.const import CONF_REFRESH_ENTITIES  # noqa: PLC0415

    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(
        hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: 24, CONF_REFRESH_ENTITIES: [wallbox]}
    )
    for _ in range(30):
        await watch.tick(freezer)
    simulator.set_password("demo@example.com", "changed")
    simulator.expire_tokens()
    for _ in range(60):
        await watch.tick(freezer)
    coordinator = mock_config_entry.runtime_data
    assert coordinator.schedule.refused
    made = requests(simulator)
    count = coordinator.budget.count
    assert count == requests(simulator)
    # A wallbox flapping, a manual update, hours passing: nothing is sent.
    for _ in range(5):
        await hass.services.async_call("input_boolean", "toggle", {"entity_id": wallbox}, True)
        await watch.tick(freezer)
    await coordinator.async_request_refresh()
    for _ in range(2 * 60):
        await watch.tick(freezer)
    assert requests(simulator) == made
    # A reload (or a restart) tries the stored password again, and counts on from the kept count.
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.budget.count == requests(simulator) >= count


@pytest.mark.parametrize("limit", [10, 16])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T18:00:00+00:00")
async def test_a_charge_with_an_unknown_rate_under_a_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    limit: int,
) -> None:
    """Charging, but the level never moves (one level seen): no rate, no end, for a whole day."""
    watch = Watch(hass, simulator, mock_config_entry)
    simulator.update_car(I3S_VIN, charging=False, state="CHARGING")
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: limit})
    for _ in range(30 * 60):
        await watch.tick(freezer)
    assert not watch.troubles, watch.troubles[:5]
    assert max(watch.per_day().values()) <= limit, watch.per_day()
    assert not watch.bursts(), watch.bursts()
    polls = watch.polls()
    assert max(b - a for a, b in itertools.pairwise(polls)) <= timedelta(hours=4)


@pytest.mark.parametrize("limit", [16, 24])
@pytest.mark.usefixtures("london")
@pytest.mark.freeze_time("2026-11-24T20:00:00+00:00")
async def test_a_charge_to_100_percent_under_a_limit(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    limit: int,
) -> None:
    """45 % at 10 % an hour to 100 % (the default target): the car shows FULLY_CHARGED at 01:30."""
    watch = Watch(hass, simulator, mock_config_entry)
    await set_up(hass, mock_config_entry, **{CONF_DAILY_REQUEST_LIMIT: limit})
    reached = None
    for _ in range(8 * 60):
        await watch.tick(freezer)
        if reached is None and simulator.car(I3S_VIN).charge_percentage >= 100:
            reached = dt_util.utcnow()
    assert reached is not None
    assert not watch.troubles, watch.troubles[:5]
    assert max(watch.per_day().values()) <= limit, watch.per_day()
    seen = next(at for at in watch.polls() if at >= reached)
    assert seen - reached <= timedelta(minutes=10), (
        reached,
        watch.polls(reached - timedelta(hours=2)),
    )
