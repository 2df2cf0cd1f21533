"""How a daily request limit is spent: by need, not evenly.

The rest of the day's requests go first to what the day must keep (a heartbeat poll every two
hours), then to a charging session, then to a car plugged in and waiting (a timer may start it),
then to the rest. What the rest of the day will need is read from yesterday: which need each
quarter of an hour had (a day's profile), with room kept for one evening's charge.
Pure: plain datetimes; the schedule records the profile and asks for the gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
import math
from typing import Any, TypeIs

from homeassistant.util import dt as dt_util

from .budget import NEW_DAY_MARGIN, aware, next_midnight

SLOT = timedelta(minutes=15)
SLOTS_A_DAY = 96
# Whatever else, a poll this often, so that a missed event is caught.
HEARTBEAT = timedelta(hours=2)
# A car plugged in and waiting is asked this often: a timer start shows within half an hour.
WAITING_GAP = timedelta(minutes=30)
# A charging session is kept this close while the budget allows, before it stretches further.
CHARGING_GAP = timedelta(minutes=15)
# Kept for a plug-in and an unplug each with its follow-up: they come within a minute.
TRIGGER_RESERVE = 4
# Without a day before that says so, room is kept for this much of a charge and of a wait to come;
# a charge without an estimated end is expected to last this long.
EVENING = timedelta(hours=2)
# A charge with an estimated end gets a poll this soon after it, and close polls until this long
# after it while the car is still seen charging, each no sooner than AROUND_END_GAP.
JUST_AFTER_END = timedelta(minutes=2)
AROUND_END = timedelta(minutes=30)
AROUND_END_GAP = timedelta(minutes=5)
# Where yesterday a car began to charge or wait at some quarter, a poll this far into it today.
INTO_THE_QUARTER = timedelta(minutes=5)
# The needs by rank: a need that outranks the present one is worth a poll when it is due.
RANK = {"c": 2, "w": 1, "p": 0}


class Need(StrEnum):
    """What the cars need from the schedule now, by priority; each its letter in a profile."""

    CHARGING = "c"
    WAITING = "w"
    PARKED = "p"


class Pace(StrEnum):
    """What placed a poll under a limit; the values are those of the schedule's reasons."""

    INTERVAL = "interval"
    STRETCHED = "daily_limit"
    CHARGE_END = "charge_end"
    USUAL_CHANGE = "usual_change"


# The order in which needs stretch their gaps when the day's budget does not cover them all; none
# beyond the heartbeat.
STRETCH_ORDER: tuple[tuple[Need, timedelta], ...] = (
    (Need.PARKED, HEARTBEAT),
    (Need.WAITING, WAITING_GAP),
    (Need.CHARGING, CHARGING_GAP),
    (Need.WAITING, HEARTBEAT),
    (Need.CHARGING, HEARTBEAT),
)


def slot_of(moment: datetime) -> int:
    """Return the quarter of an hour of the local day a time falls in."""
    local = dt_util.as_local(moment)
    return min((local.hour * 60 + local.minute) // 15, SLOTS_A_DAY - 1)


def recorded(profile: str, since: datetime, now: datetime, need: Need) -> str:
    """Return a day's profile with its quarters from `since` to `now` (both included) marked.

    A `since` on an earlier day marks from the day's first quarter.
    """
    slots = list(profile.ljust(SLOTS_A_DAY, "-")[:SLOTS_A_DAY])
    same_day = dt_util.as_local(since).date() == dt_util.as_local(now).date()
    first = slot_of(since) if same_day and since <= now else 0
    for index in range(first, slot_of(now) + 1):
        slots[index] = need.value
    return "".join(slots)


def rest_of_day(
    now: datetime, need: Need, charge_end: datetime | None, yesterday: str
) -> dict[Need, timedelta]:
    """Return how long each need is expected to last from now to local midnight.

    Now's need lasts its quarter (a charge until half an hour past its estimated end, or without
    one, EVENING);
    the quarters after follow yesterday's profile (an unknown quarter is parked). Unless a car
    charges now, room is kept for an evening's wait and charge yesterday may not have had.
    """
    until = next_midnight(now)
    hours = dict.fromkeys(Need, timedelta())
    current_end = min(_slot_end(now), until)
    if need is Need.CHARGING:
        # A charge lasts until half an hour past its estimated end; without one, a while yet.
        lasts = charge_end + AROUND_END if charge_end is not None else now + EVENING
        current_end = min(max(lasts, current_end), until)
    hours[need] += current_end - now
    profile = yesterday.ljust(SLOTS_A_DAY, "-")
    for index in range(slot_of(current_end), SLOTS_A_DAY):
        start = max(_slot_start(current_end, index), current_end)
        end = min(_slot_start(current_end, index) + SLOT, until)
        if end <= start:
            continue
        letter = profile[index]
        hours[Need(letter) if letter in "cwp" else Need.PARKED] += end - start
    if need is not Need.CHARGING:
        left = until - current_end
        # Taken from the parked hours after now's quarter: the hours to midnight stay the same.
        spare = hours[Need.PARKED] - (current_end - now if need is Need.PARKED else timedelta())
        for wanted in (Need.CHARGING, Need.WAITING):
            extra = min(min(EVENING, left / 4) - hours[wanted], spare)
            if extra > timedelta():
                hours[wanted] += extra
                hours[Need.PARKED] -= extra
                spare -= extra
    return hours


def gaps_by_need(
    hours: dict[Need, timedelta], budget: int, wanted: dict[Need, timedelta]
) -> dict[Need, timedelta]:
    """Return the gap between polls for each need so that the rest of the day has `budget` gaps.

    Each need starts at its wanted gap; while the demand is over the budget, the needs stretch in
    STRETCH_ORDER, each up to its cap, so charging keeps the closest polls the budget allows. A
    budget short of a poll every HEARTBEAT spreads evenly over the rest of the day.
    """
    spans = {need: hours[need].total_seconds() for need in Need}
    gaps = {need: wanted[need].total_seconds() for need in Need}

    def demand() -> float:
        return sum(spans[need] / gaps[need] for need in Need)

    def over() -> bool:
        # A hair over the budget from rounding is within it.
        return demand() > budget + 1e-6

    for need, cap in STRETCH_ORDER:
        if not over():
            break
        if not spans[need]:
            continue
        room = budget - (demand() - spans[need] / gaps[need])
        fitting = spans[need] / room if room > 0 else cap.total_seconds()
        gaps[need] = min(max(gaps[need], fitting), max(cap.total_seconds(), gaps[need]))
    if over():
        even = sum(spans.values()) / max(budget, 1)
        gaps = dict.fromkeys(Need, even)
    return {need: timedelta(seconds=gaps[need]) for need in Need}


def _expected_change(now: datetime, need: Need, yesterday: str) -> datetime | None:
    """Return a poll a little into the next quarter in which yesterday a higher need began."""
    profile = yesterday.ljust(SLOTS_A_DAY, "-")
    for index in range(slot_of(now) + 1, SLOTS_A_DAY):
        rank = RANK.get(profile[index], 0)
        if rank > RANK[need.value] and RANK.get(profile[index - 1], 0) < rank:
            at = _slot_start(now, index) + INTO_THE_QUARTER
            # In the hour a clock going back repeats, a later quarter's first run has passed.
            if at > now:
                return at
    return None


def heartbeats(now: datetime) -> int:
    """Return the polls the rest of the day must keep: one every HEARTBEAT to midnight."""
    return math.ceil((next_midnight(now) - now) / HEARTBEAT)


def _slot_start(day_of: datetime, index: int) -> datetime:
    """Return the start of a quarter of the local day of a time, in UTC."""
    midnight = dt_util.start_of_local_day(dt_util.as_local(day_of).date())
    return dt_util.as_utc(midnight + index * SLOT)


def _slot_end(now: datetime) -> datetime:
    """Return the end of the quarter a time falls in."""
    return _slot_start(now, slot_of(now)) + SLOT


@dataclass
class DayProfile:
    """Which need each quarter of today had so far, and yesterday's, by the local day."""

    day: date | None = None
    today: str = ""
    yesterday: str = ""
    # When the profile was last recorded, and the need since then.
    since: datetime | None = None
    need: Need = Need.PARKED

    def record(self, now: datetime, need: Need) -> None:
        """Mark the quarters up to now with the need they had, and take the new one."""
        day = dt_util.as_local(now).date()
        if self.day != day:
            midnight = dt_util.as_utc(dt_util.start_of_local_day(day))
            if self.day is not None and self.since is not None and day == self.day + timedelta(1):
                # Recorded up to the day before: its need carried on over midnight.
                last = midnight - timedelta(microseconds=1)
                self.yesterday = recorded(self.today, self.since, last, self.need)
                self.since = midnight
            else:
                # The first record, or after days without one: the hours before now are unknown.
                self.yesterday, self.since = "", now
            self.day, self.today = day, ""
        # When between the last record and now the need changed is not known: the higher of the
        # two marks all of it (a charge may have begun just after the last poll, or ended just
        # now), so that tomorrow polls closely from the earliest it may come.
        between = max(self.need, need, key=lambda each: RANK[each.value])
        self.today = recorded(self.today, self.since or now, now, between)
        self.today = recorded(self.today, now, now, need)
        self.since, self.need = now, need

    def as_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-ready data."""
        return {
            "day": self.day.isoformat() if self.day else None,
            "today": self.today,
            "yesterday": self.yesterday,
            "since": self.since.isoformat() if self.since else None,
            "need": self.need.value,
        }

    @classmethod
    def from_dict(cls, data: Any) -> DayProfile:
        """Return a stored profile; anything not of its shape starts the profile afresh."""
        if not isinstance(data, dict):
            return cls()
        try:
            day = date.fromisoformat(data["day"]) if data.get("day") else None
            need = Need(data.get("need", "p"))
        except TypeError, ValueError:
            return cls()
        today, yesterday = data.get("today"), data.get("yesterday")
        if not isinstance(today, str) or not isinstance(yesterday, str):
            return cls()
        if not set(today + yesterday) <= set("cwp-"):
            return cls()
        return cls(day, today, yesterday, aware(data.get("since")), need)


def planned_poll(
    now: datetime,
    *,
    need: Need,
    charge_end: datetime | None,
    yesterday: str,
    polls_left: int,
    wanted: dict[Need, timedelta],
) -> tuple[datetime, Pace]:
    """Return when to poll next under a daily limit, and what placed the poll there.

    `polls_left`: what the limit leaves today once the token renewals are kept back. The day's
    heartbeats come first; a few requests are kept for triggers; the rest goes by need.
    """
    if polls_left <= 0:
        return next_midnight(now) + NEW_DAY_MARGIN, Pace.STRETCHED
    budget = max(polls_left - TRIGGER_RESERVE, min(polls_left, heartbeats(now)))
    # Yesterday a car charged or waited by now: it may any moment, so the plan is for that need.
    due = yesterday.ljust(SLOTS_A_DAY, "-")[slot_of(now)]
    planned = Need(due) if RANK.get(due, 0) > RANK[need.value] else need
    hours = rest_of_day(now, planned, charge_end if need is Need.CHARGING else None, yesterday)
    # The gaps to midnight are one more than the polls in them: the new day's first ends the last.
    gap = gaps_by_need(hours, budget + 1, wanted)[planned]
    pace = Pace.STRETCHED if gap > wanted[planned] else Pace.INTERVAL
    if planned is not need:
        pace = Pace.USUAL_CHANGE
    until_midnight = next_midnight(now) + NEW_DAY_MARGIN - now
    following = now + min(gap, until_midnight)

    def affordable(sooner: datetime | None) -> TypeIs[datetime]:
        # An extra poll only while the polls after it still keep the heartbeats.
        return sooner is not None and sooner < following and polls_left > heartbeats(sooner)

    expected = _expected_change(now, need, yesterday)
    if affordable(expected):
        following, pace = expected, Pace.USUAL_CHANGE
    if need is Need.CHARGING and charge_end is not None:
        # A poll just after the estimated end of the charge, and close ones around it.
        close = None
        # An end not after now is one the car overran: charging.py moves it on to each poll that
        # still shows the car short of its target, so a poll "just after" it would come every
        # JUST_AFTER_END; past the end, polls stay at the close gap instead.
        if now < charge_end:
            close = charge_end + JUST_AFTER_END
        elif now < charge_end + AROUND_END:
            close = now + max(wanted[need], AROUND_END_GAP)
        if affordable(close):
            return close, Pace.CHARGE_END
    return following, pace
