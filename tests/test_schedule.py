"""The schedule alone, with plain datetimes: when the next request goes out, and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.util import dt as dt_util
import pytest

from custom_components.orangepower_bmw import api
from custom_components.orangepower_bmw.allocation import Need, heartbeats
from custom_components.orangepower_bmw.api import QuotaExceededError, RateLimitedError, error_key
from custom_components.orangepower_bmw.budget import RequestBudget, next_midnight, renewals_left
from custom_components.orangepower_bmw.schedule import Ask, Reason, Schedule, Wait

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MIDNIGHT = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("local_day_in_utc")


def schedule(limit: int = 0, count: int = 0, **state: Any) -> Schedule:
    """Return a schedule of 15 minutes idle and 5 charging, its token lasting past midnight."""
    return Schedule(
        idle=15 * MINUTE,
        active=5 * MINUTE,
        budget=RequestBudget(limit=limit, day=NOW.date(), count=count),
        **{"token_expires": NOW + timedelta(days=1), **state},
    )


def at(minutes: float) -> datetime:
    """Return a time this many minutes after NOW."""
    return NOW + minutes * MINUTE


# What happens to a schedule, and the next request it plans then: the rules whose exact times the
# integration's tests (test_polling, test_fault_matrix) do not show. Those show the intervals, each
# wait a failure asks for, a trigger's half minute, a trigger during a wait, refused credentials.
Event = Callable[[Schedule], object]

EVENTS: dict[str, tuple[Schedule, Event, tuple[datetime, Reason] | None]] = {
    # At noon with 48 requests and no day before: room is kept for an evening's charge and wait.
    "a limit of 48: a charge keeps its interval, the parked hours stretch": (
        schedule(limit=48),
        lambda s: s.polled(NOW, Need.CHARGING),
        (at(5), Reason.INTERVAL),
    ),
    # The gaps to midnight are one more than the polls: the new day's first poll ends the last.
    "a limit of 48, parked: 8 parked hours share the 13 gaps the evening leaves": (
        schedule(limit=48),
        lambda s: s.polled(NOW, Need.PARKED),
        (NOW + timedelta(hours=8) / 13, Reason.DAILY_LIMIT),
    ),
    # The user lowers the target at 12:04: the end moves to 12:01, its poll (12:03) has passed.
    "a target lowered under a tight limit to an end just passed: a poll at once": (
        schedule(limit=10),
        lambda s: (
            s.budget.spend(NOW),
            s.polled(NOW, Need.CHARGING, charge_end=at(10)),
            s.retarget(at(4), Need.CHARGING, charge_end=at(1)),
        ),
        (at(4), Reason.CHARGE_END),
    ),
    # A 429 without Retry-After under a limit waits (two hours here); a new target changes nothing.
    "a target changed during a wait: the wait stands": (
        schedule(limit=10),
        lambda s: (
            s.budget.spend(NOW),
            s.failed(NOW, RateLimitedError("busy", status=429)),
            s.retarget(at(1), Need.CHARGING, charge_end=at(2)),
        ),
        (NOW + timedelta(hours=2), Reason.WAIT),
    ),
    "a limit with room keeps the interval": (
        schedule(limit=2000),
        lambda s: s.polled(NOW, Need.CHARGING),
        (at(5), Reason.INTERVAL),
    ),
    "a spent limit waits for just after midnight": (
        schedule(limit=10, count=10),
        lambda s: s.spent(NOW),
        (MIDNIGHT + timedelta(seconds=10), Reason.DAILY_LIMIT),
    ),
    "429 again: twice as long again, jittered": (
        schedule(backoff=30 * MINUTE),
        lambda s: s.failed(NOW, RateLimitedError("busy", status=429), jitter=0.8),
        (at(48), Reason.WAIT),
    ),
    "a trigger within a minute of the last: a minute after it": (
        schedule(next_poll=at(15), last_asked=at(-0.5)),
        lambda s: s.asked(NOW, timedelta(seconds=0)),
        (at(0.5), Reason.ASKED),
    ),
    "a trigger under a limit that keeps the heartbeats: at once": (
        schedule(limit=48, next_poll=at(30)),
        lambda s: s.asked(NOW, timedelta(seconds=30)),
        (NOW + timedelta(seconds=30), Reason.ASKED),
    ),
    "a trigger under a limit left with the heartbeats only: with the next poll": (
        schedule(limit=48, count=42, next_poll=at(30)),
        lambda s: s.asked(NOW, timedelta(seconds=30)),
        (at(30), Reason.INTERVAL),
    ),
    "a trigger under a spent limit: just after midnight": (
        schedule(limit=48, count=48, polling_off=True),
        lambda s: s.asked(NOW, timedelta(seconds=30)),
        (MIDNIGHT + timedelta(seconds=10), Reason.ASKED),
    ),
    "polling off: only what is asked for": (
        schedule(polling_off=True),
        lambda s: (s.polled(NOW), s.asked(NOW, timedelta(seconds=30))),
        (NOW + timedelta(seconds=30), Reason.ASKED),
    ),
}


@pytest.mark.parametrize(("start", "event", "expected"), EVENTS.values(), ids=EVENTS.keys())
def test_the_next_request(
    start: Schedule, event: Event, expected: tuple[datetime, Reason] | None
) -> None:
    event(start)
    assert start.next_request() == expected


@pytest.mark.parametrize(
    ("asked", "answered"),
    [(timedelta(seconds=5), True), (timedelta(seconds=10), True), (timedelta(minutes=5), False)],
    ids=["5 s later", "10 s later", "5 min later"],
)
def test_a_request_just_before_an_asked_one_answers_it(asked: timedelta, answered: bool) -> None:
    plan = schedule(ask=Ask(NOW + asked, follow_up=True))
    assert (plan.started(NOW) is not None) is answered
    assert (plan.ask is None) is answered


@pytest.mark.parametrize(
    ("token_expires", "renewals"),
    [
        (NOW + timedelta(days=1), 0),
        (NOW + timedelta(hours=10), 1),
        (NOW + timedelta(hours=2), 2),
        (None, 2),
    ],
    ids=["past midnight", "before midnight", "twice more", "no token"],
)
def test_the_renewals_kept_back_from_a_limit(token_expires: datetime | None, renewals: int) -> None:
    assert renewals_left(token_expires, NOW) == renewals


def test_the_budget_keeps_back_renewals_and_stops_when_spent() -> None:
    """Three requests left, all kept for the token renewals: no poll is left."""
    budget = RequestBudget(limit=20, day=NOW.date(), count=17)
    assert budget.polls_left(NOW, reserve=3) == 0
    assert budget.polls_left(NOW, reserve=1) == 2
    assert budget.allows(NOW, 3)
    assert not budget.allows(NOW, 4)


@pytest.mark.parametrize("stored", [{}, {"day": "yesterday", "count": 3}, {"count": "many"}])
def test_an_unusable_stored_count_starts_the_day_afresh(stored: dict[str, Any]) -> None:
    budget = RequestBudget.from_dict(48, stored, NOW)
    assert (budget.day, budget.count) == (NOW.date(), 0)


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-11-24", 24)]
)
def test_the_day_is_the_local_calendar_day(day: str, hours: int) -> None:
    """The day's length, and the heartbeats it keeps (a poll every two hours), follow the clocks."""
    dt_util.set_default_time_zone(ZoneInfo("Europe/Berlin"))  # local_day_in_utc puts UTC back
    start = dt_util.start_of_local_day(datetime.fromisoformat(day).date())
    budget = RequestBudget(limit=49, day=start.date())

    assert next_midnight(start) - dt_util.as_utc(start) == timedelta(hours=hours)
    assert heartbeats(start) == (hours + 1) // 2
    end = dt_util.as_utc(start) + timedelta(hours=hours)
    assert not budget.roll(end - timedelta(seconds=1))
    assert budget.roll(end)


def test_stored_and_restored_it_plans_the_same() -> None:
    plan = schedule(limit=48, count=7, ask=Ask(at(20), follow_up=True))
    plan.failed(NOW, QuotaExceededError("quota", status=403), jitter=0.9)
    restored = schedule(limit=48)
    restored.restore(json.loads(json.dumps(plan.as_dict())), NOW)
    assert restored.as_dict() == plan.as_dict()
    assert restored.held(at(1)) == plan.wait
    assert plan.wait is not None
    assert restored.next_request() == (plan.wait.until, Reason.WAIT)


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"budget": "lots", "wait": [], "backoff_seconds": "x", "ask": {"at": 5}},
        {"wait": {"until": "2026-11-24T12:30:00", "error": "rate_limited"}},
        {"wait": {"until": "2026-11-24T11:00:00+00:00", "error": "forbidden"}},
        {"backoff_seconds": 7200, "limited_since": "yesterday"},
    ],
    ids=["empty", "wrong types", "naive time", "wait over", "backoff beyond an hour"],
)
def test_a_stored_part_that_does_not_parse_is_left_out(stored: dict[str, Any]) -> None:
    plan = schedule(limit=48)
    plan.restore(stored, NOW)
    assert plan.as_dict() == schedule(limit=48).as_dict()


def test_a_stored_wait_with_an_unknown_error_is_a_rate_limit() -> None:
    plan = schedule()
    plan.restore({"wait": {"until": at(30).isoformat(), "error": "<b>", "status": "x"}}, NOW)
    assert plan.wait == Wait(at(30), "rate_limited", None)


def test_under_a_limit_a_restart_waits_for_the_next_slot() -> None:
    plan = schedule(limit=48)
    plan.budget.spend(NOW)
    assert plan.paced(at(1))
    # Planned from the last request: 8 parked hours share the 12 gaps an evening's room leaves.
    assert plan.next_request() == (NOW + timedelta(hours=8) / 12, Reason.DAILY_LIMIT)
    assert not schedule().paced(NOW)
    # Restarted after that poll was due: it goes at once.
    assert not plan.paced(at(60))


ERRORS: dict[str, type[api.OrangePowerError]] = {
    "invalid_auth": api.InvalidCredentialsError,
    "token_rejected": api.TokenRejectedError,
    "forbidden": QuotaExceededError,
    "rate_limited": RateLimitedError,
    "cannot_connect": api.ConnectionFailedError,
    "server_error": api.ServerError,
    "service_gone": api.ServiceGoneError,
    "daily_limit_reached": api.BudgetSpentError,
    "invalid_response": api.UnexpectedResponseError,
}


@pytest.mark.parametrize(("key", "error"), ERRORS.items(), ids=list(ERRORS))
def test_one_error_vocabulary(key: str, error: type[api.OrangePowerError]) -> None:
    assert error_key(error("x")) == key
