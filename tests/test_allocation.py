"""How a daily limit is spent by need, with plain datetimes: the gaps, the day ahead, the profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
import random
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.orangepower_bmw.allocation import (
    CHARGING_GAP,
    HEARTBEAT,
    WAITING_GAP,
    DayProfile,
    Need,
    Pace,
    gaps_by_need,
    planned_poll,
    rest_of_day,
)

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 25, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
WANTED = {Need.CHARGING: 5 * MINUTE, Need.WAITING: 15 * MINUTE, Need.PARKED: 15 * MINUTE}
# A household's usual day, by quarter hour: charging 00:00-02:00, parked until 18:00, plugged
# in and waiting until 22:00, charging until midnight.
USUAL_DAY = "c" * 8 + "p" * 64 + "w" * 16 + "c" * 8


pytestmark = pytest.mark.usefixtures("local_day_in_utc")


def hours(charging: float = 0, waiting: float = 0, parked: float = 0) -> dict[Need, timedelta]:
    return {
        Need.CHARGING: charging * HOUR,
        Need.WAITING: waiting * HOUR,
        Need.PARKED: parked * HOUR,
    }


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        # Enough for every wanted gap: nothing stretches.
        (200, {Need.CHARGING: 5 * MINUTE, Need.WAITING: 15 * MINUTE, Need.PARKED: 15 * MINUTE}),
        # The rest (parked) stretches first, only as far as the budget needs: 16 h in 36 polls.
        (100, {Need.CHARGING: 5 * MINUTE, Need.WAITING: 15 * MINUTE, Need.PARKED: 26.7 * MINUTE}),
        # Parked at the heartbeat, then the wait stretches towards half an hour.
        (70, {Need.CHARGING: 5 * MINUTE, Need.WAITING: 17.1 * MINUTE, Need.PARKED: HEARTBEAT}),
        # The wait at half an hour, then the charge stretches towards a quarter.
        (50, {Need.CHARGING: 7.1 * MINUTE, Need.WAITING: WAITING_GAP, Need.PARKED: HEARTBEAT}),
        # The charge at a quarter, then the wait stretches towards the heartbeat.
        (30, {Need.CHARGING: CHARGING_GAP, Need.WAITING: 40 * MINUTE, Need.PARKED: HEARTBEAT}),
        # Every other need at the heartbeat: the charge takes what is left.
        (20, {Need.CHARGING: 24 * MINUTE, Need.WAITING: HEARTBEAT, Need.PARKED: HEARTBEAT}),
        (12, {Need.CHARGING: 120 * MINUTE, Need.WAITING: HEARTBEAT, Need.PARKED: HEARTBEAT}),
    ],
    ids=["ample", "parked", "waiting", "charging", "waiting_further", "charging_further", "tight"],
)
def test_needs_stretch_lowest_first(budget: int, expected: dict[Need, timedelta]) -> None:
    gaps = gaps_by_need(hours(charging=4, waiting=4, parked=16), budget, WANTED)
    assert {need: round(gap / MINUTE, 1) for need, gap in gaps.items()} == {
        need: round(gap / MINUTE, 1) for need, gap in expected.items()
    }


def test_the_day_ahead_follows_yesterday_and_keeps_room_for_an_evening() -> None:
    # At 18:00, waiting: yesterday the wait ran to 22:00 and the charge to midnight.
    assert rest_of_day(NOW, Need.WAITING, None, USUAL_DAY) == hours(charging=2, waiting=4)
    # Parked at noon with no day before known: room for an evening's wait and charge is kept.
    noon = NOW - 6 * HOUR
    assert rest_of_day(noon, Need.PARKED, None, "") == hours(charging=2, waiting=2, parked=8)
    # Charging now with an estimated end at 20:00: the charge runs half an hour past it.
    ahead = rest_of_day(NOW, Need.CHARGING, NOW + 2 * HOUR, USUAL_DAY)
    assert ahead[Need.CHARGING] == 2.5 * HOUR + 2 * HOUR


@pytest.mark.parametrize(
    ("need", "charge_end", "now", "expected"),
    [
        # Charging with an estimated end before the next poll: a poll just after the end.
        (Need.CHARGING, NOW + 10 * MINUTE, NOW, (NOW + 12 * MINUTE, Pace.CHARGE_END)),
        # Past the estimated end and still charging: close polls.
        (Need.CHARGING, NOW - 3 * MINUTE, NOW, (NOW + 5 * MINUTE, Pace.CHARGE_END)),
        # Half an hour past it, the end is no longer expected: the limit's spacing again. Eight
        # polls and the new day's first make nine gaps for 2.25 hours of charging (to 18:15, and
        # yesterday's 22:00 to midnight) and 3.75 of waiting: the wait at the heartbeat takes
        # 1.875 of them, the charge the other 7.125.
        (Need.CHARGING, NOW - 31 * MINUTE, NOW, (NOW + 135 * MINUTE / 7.125, Pace.STRETCHED)),
        # Parked at 17:00 with a wait that began at 18:00 yesterday: a poll at 18:05.
        (Need.PARKED, None, NOW - HOUR, (NOW + 5 * MINUTE, Pace.USUAL_CHANGE)),
    ],
    ids=["just_after_the_end", "around_the_end", "long_past_the_end", "yesterdays_wait_begins"],
)
def test_polls_where_a_change_is_expected(
    need: Need, charge_end: datetime | None, now: datetime, expected: tuple[datetime, Pace]
) -> None:
    # Twelve polls left for the evening: the gaps are long, the expected changes come first.
    planned = planned_poll(
        now, need=need, charge_end=charge_end, yesterday=USUAL_DAY, polls_left=12, wanted=WANTED
    )
    assert planned == expected


def test_the_profile_records_each_quarter_and_carries_over_midnight() -> None:
    profile = DayProfile()
    profile.record(NOW - 18 * HOUR, Need.CHARGING)  # 00:00
    for hours in range(2, 17, 2):  # 02:00 to 16:00, parked: the charge ran until 02:00
        profile.record(NOW - (18 - hours) * HOUR, Need.PARKED)
    profile.record(NOW, Need.WAITING)  # 18:00
    profile.record(NOW + 4 * HOUR, Need.CHARGING)  # 22:00
    profile.record(MIDNIGHT + 2 * HOUR, Need.PARKED)
    # A change seen after a gap may have come just after the poll before: the higher need marks
    # the gap, so the wait shows from 16:00 and the charge from 18:00, and the charge carried on
    # over midnight until 02:00.
    assert profile.yesterday == "c" * 8 + "p" * 56 + "w" * 8 + "c" * 24
    assert profile.today == "c" * 8 + "p" + "-" * 87
    assert DayProfile.from_dict(profile.as_dict()) == profile


@pytest.mark.parametrize(
    "stored",
    [None, [], {"day": "monday"}, {"today": 5, "yesterday": ""}, {"today": "x", "yesterday": ""}],
    ids=repr,
)
def test_a_profile_that_does_not_parse_starts_afresh(stored: Any) -> None:
    assert DayProfile.from_dict(stored) == DayProfile()


def a_days_needs(seed: int, start: datetime, days: int) -> list[tuple[datetime, Need]]:
    """Return needs that change every half hour to four hours, at random (seeded)."""
    rnd = random.Random(seed)
    changes, moment = [], start
    while moment < start + timedelta(days=days):
        changes.append((moment, rnd.choice(list(Need))))
        moment += timedelta(minutes=rnd.choice([30, 60, 120, 240]))
    return changes


# Once broken: the evening's room counted hours past midnight, an expected change spent the poll
# the heartbeat needed, and a charge lasting longer than foreseen ate the evening's heartbeats.
@pytest.mark.parametrize("limit", [20, 48, 100])
@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/Berlin", datetime(2026, 10, 23, 22, tzinfo=UTC)),  # a 25-hour day
        ("Europe/Berlin", datetime(2026, 3, 27, 23, tzinfo=UTC)),  # a 23-hour day
        ("US/Pacific", datetime(2026, 11, 24, 8, tzinfo=UTC)),
    ],
    ids=["autumn", "spring", "pacific"],
)
async def test_random_days_keep_the_limit_and_the_heartbeat(
    hass: HomeAssistant, zone: str, start: datetime, limit: int
) -> None:
    """Polls at the planned times, two logins a day, needs that change at random: never over."""
    await hass.config.async_set_time_zone(zone)
    for seed in range(8):
        changes = a_days_needs(seed, start, days=4)
        profile, now, day, used = DayProfile(), start, None, 0
        polls: list[datetime] = []
        per_day: dict[Any, int] = {}
        while now < start + timedelta(days=4):
            if dt_util.as_local(now).date() != day:
                day, used = dt_util.as_local(now).date(), 2
            used += 1
            per_day[day] = used
            need = next(need for moment, need in reversed(changes) if moment <= now)
            profile.record(now, need)
            polls.append(now)
            now, _ = planned_poll(
                now,
                need=need,
                charge_end=None,
                yesterday=profile.yesterday,
                polls_left=limit - used,
                wanted=WANTED,
            )
        assert max(per_day.values()) <= limit, seed
        longest = max(later - earlier for earlier, later in itertools.pairwise(polls))
        assert longest <= HEARTBEAT + MINUTE, seed
