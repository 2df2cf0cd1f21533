"""When the next request to the service goes out, and why.

Plain data and pure decisions: the interval in force, a wait the service asked for, the backoff, a
refresh asked for (a trigger, a manual update) and whether it wants a follow-up, how a daily limit
is spent (by need: allocation.py), and credentials the service refused. The coordinator feeds it events and sets one timer from
`next_request`; it is stored and restored as one value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from homeassistant.util import dt as dt_util

from .allocation import WAITING_GAP, DayProfile, Need, heartbeats, planned_poll
from .api import OrangePowerError, RateLimitedError, ServiceGoneError, error_key
from .budget import NEW_DAY_MARGIN, RequestBudget, aware, next_midnight, renewals_left

# A refresh a trigger asks for comes no sooner than this after the last one asked for; a manual
# update no sooner than the second gap (as Home Assistant's own refresh debouncer allows).
MIN_ASKED_GAP = timedelta(minutes=1)
MIN_MANUAL_GAP = timedelta(seconds=10)
# A request made this shortly before an asked-for refresh answers it.
JUST_REQUESTED = timedelta(seconds=10)
# Without a Retry-After, a rate-limited poll waits twice as long each time, up to this.
MAX_BACKOFF = timedelta(hours=1)
# A Retry-After of 0 or in the past would make the next poll immediate: wait at least this.
MIN_RETRY_AFTER = timedelta(minutes=1)
# While the service says the API is gone, ask no more than this often whether it is back.
GONE_POLL_INTERVAL = timedelta(hours=1)


class Reason(StrEnum):
    """Why the next request goes out when it does."""

    INTERVAL = "interval"
    ASKED = "asked"
    WAIT = "wait"
    DAILY_LIMIT = "daily_limit"
    # Under a limit: just after a charge's estimated end; where yesterday a charge or wait began.
    CHARGE_END = "charge_end"
    USUAL_CHANGE = "usual_change"


@dataclass
class Wait:
    """No request before `until`: the service asked (Retry-After, a backoff, a retired API)."""

    until: datetime
    error: str
    status: int | None

    def as_dict(self) -> dict[str, Any]:
        """Return the wait as JSON-ready data."""
        return {"until": self.until.isoformat(), "error": self.error, "status": self.status}

    @classmethod
    def from_dict(cls, stored: object, now: datetime) -> Wait | None:
        """Return a stored wait still in force; None if it has ended or is not of its shape."""
        if not isinstance(stored, dict) or not (until := aware(stored.get("until"))):
            return None
        status = stored.get("status")
        status = status if isinstance(status, int) else None
        return cls(until, wait_key(stored.get("error")), status) if until > now else None


@dataclass
class Ask:
    """A refresh asked for, due at `at`; with a follow-up if it shows no change."""

    at: datetime
    follow_up: bool

    def as_dict(self) -> dict[str, Any]:
        """Return the refresh asked for as JSON-ready data."""
        return {"at": self.at.isoformat(), "follow_up": self.follow_up}

    @classmethod
    def from_dict(cls, stored: object) -> Ask | None:
        """Return a stored refresh asked for; None if it is not of its shape."""
        if not isinstance(stored, dict) or not (at := aware(stored.get("at"))):
            return None
        return cls(at, follow_up=stored.get("follow_up") is True)


@dataclass
class Schedule:
    """The state that decides when the next request goes out."""

    idle: timedelta
    active: timedelta
    budget: RequestBudget
    # What the cars the entry shows needed at the last good poll, and when a charge should end.
    need: Need = Need.PARKED
    charge_end: datetime | None = None
    profile: DayProfile = field(default_factory=DayProfile)
    # When the current token runs out: the day's renewals are kept back from a limit.
    token_expires: datetime | None = None
    # The regular poll, as planned after the last request, and what decided its time.
    next_poll: datetime | None = None
    poll_reason: Reason = Reason.INTERVAL
    wait: Wait | None = None
    backoff: timedelta | None = None
    # When rate limiting began, without a good poll since (for the repair after an hour).
    limited_since: datetime | None = None
    ask: Ask | None = None
    last_asked: datetime | None = None
    # The service refused the credentials: nothing more is sent until the entry reloads.
    refused: bool = False
    # The user turned polling off (the entry's system option): only asked-for refreshes go.
    polling_off: bool = False

    @property
    def interval(self) -> timedelta:
        """Return the user's interval for now: while a car charges, or while none does."""
        return self.active if self.need is Need.CHARGING else self.idle

    def next_request(self) -> tuple[datetime, Reason] | None:
        """Return when the next request goes out and why; None: none is planned."""
        if self.refused:
            return None
        planned: list[tuple[datetime, Reason]] = []
        if self.next_poll is not None and not self.polling_off:
            planned.append((self.next_poll, self.poll_reason))
        if self.ask is not None:
            planned.append((self.ask.at, Reason.ASKED))
        if self.budget.limit and self.budget.count >= self.budget.limit:
            # Spent (by the forms, say, since the poll was planned): nothing before the new day.
            new_day = next_midnight(dt_util.start_of_local_day(self.budget.day)) + NEW_DAY_MARGIN
            planned = [
                (at, why) if at >= new_day else (new_day, Reason.DAILY_LIMIT) for at, why in planned
            ]
        # On a tie the poll's reason tells more: an asked-for refresh held by a wait or a limit.
        return min(planned, key=lambda each: each[0], default=None)

    # The first request after a start or reload.

    def held(self, now: datetime) -> Wait | None:
        """Return the wait still in force from before a reload; the next poll is at its end."""
        if self.wait is None or self.wait.until <= now:
            self.wait = None
            return None
        self.next_poll, self.poll_reason = self.wait.until, Reason.WAIT
        return self.wait

    def paced(self, now: datetime) -> bool:
        """Return whether a limit plans the first poll after a load later; it is planned then.

        The poll is planned from the last request, as it was before the load.
        """
        last = self.budget.last_request
        if not self.budget.limit or last is None or last > now:
            return False
        if self._plan(last) <= now:
            return False
        self.poll_reason = Reason.DAILY_LIMIT
        return True

    # Events.

    def started(self, now: datetime) -> Ask | None:
        """Note a request about to go out; return the asked-for refresh it answers, if any."""
        ask = self.ask
        if ask is None or ask.at > now + JUST_REQUESTED:
            return None
        self.ask = None
        self.last_asked = now
        return ask

    def polled(
        self, now: datetime, need: Need = Need.PARKED, charge_end: datetime | None = None
    ) -> None:
        """Take in a good poll: the service is fine again, and the plan follows the cars."""
        self.profile.record(now, need)
        if (
            need is Need.CHARGING
            and self.need is Need.CHARGING
            and charge_end is not None
            and self.charge_end is not None
            and self.charge_end < charge_end <= now
        ):
            # Overrun: charging.py moves a passed end on to each poll that still shows the car
            # short of its target; the close polls after the end count from when it first passed.
            charge_end = self.charge_end
        self.need, self.charge_end = need, charge_end
        self.wait = self.backoff = self.limited_since = None
        self._plan(now)

    def retarget(self, now: datetime, need: Need, charge_end: datetime | None) -> bool:
        """Take in a new estimated end without a poll (the user changed a charge target).

        The regular poll is planned again from the last request, as it was after it, so a
        charge's end that moved sooner gets its poll just after it; a wait is left as it is.
        Return whether the next request moved.
        """
        before = self.next_request()
        self.need, self.charge_end = need, charge_end
        last = self.budget.last_request
        if self.wait is not None or self.next_poll is None or last is None or last > now:
            return False
        # Never in the past: an end that has just passed gets its poll now.
        planned = self._plan(last)
        if planned < now:
            self.next_poll = now
        return self.next_request() != before

    def failed(self, now: datetime, err: OrangePowerError, jitter: float = 1.0) -> None:
        """Take in a failed poll; wait as long as the service asks, or back off.

        `jitter` (0.8 to 1) shortens a backoff a little, so installations do not retry in step.
        """
        planned = self._plan(now) - now
        wait = self._wait_after(err, now, planned, jitter)
        if wait is None:
            return
        # A wait the service asked for only ever lengthens the next poll.
        until = now + max(wait, planned)
        self.wait = Wait(until=until, error=error_key(err), status=err.status)
        self.next_poll, self.poll_reason = until, Reason.WAIT
        if self.ask is not None and self.ask.at < until:
            # Asked for before the wait began: it waits too.
            self.ask.at = until

    def _wait_after(
        self, err: OrangePowerError, now: datetime, planned: timedelta, jitter: float
    ) -> timedelta | None:
        """Return how long the service asks to wait after this error; None: as usual."""
        if isinstance(err, ServiceGoneError):
            return GONE_POLL_INTERVAL
        if not isinstance(err, RateLimitedError):
            return None
        # A 403 (a used-up quota) counts as rate limiting too, with a backoff.
        self.limited_since = self.limited_since or now
        if err.retry_after is not None:
            return max(timedelta(seconds=err.retry_after), MIN_RETRY_AFTER)
        self.backoff = min((self.backoff or planned) * 2, MAX_BACKOFF)
        return self.backoff * jitter

    def spent(self, now: datetime) -> None:
        """Take in a poll the daily limit refused: the next one at the limit's next slot."""
        self._plan(now)

    def refuse(self) -> None:
        """Send nothing more with credentials the service refused: forget what was asked for."""
        self.refused = True
        self.ask = None

    def asked(
        self,
        now: datetime,
        delay: timedelta,
        *,
        follow_up: bool = False,
        gap: timedelta = MIN_ASKED_GAP,
    ) -> bool:
        """Ask for a refresh after the delay; return whether the next request moved.

        Never sooner than a wait, or `gap` after the last asked-for one; under a daily limit,
        only while the day keeps its heartbeats (else with the next poll). Requests close
        together make one.
        """
        if self.refused:
            return False
        when = now + delay
        if self.budget.limit:
            left = self.budget.polls_left(now, renewals_left(self.token_expires, now))
            if left <= 0:
                when = max(when, next_midnight(now) + NEW_DAY_MARGIN)
            elif left <= heartbeats(now):
                when = max(when, self.next_poll or now)
        if self.wait is not None:
            when = max(when, self.wait.until)
        if self.last_asked is not None:
            when = max(when, self.last_asked + gap)
        if self.ask is not None:
            self.ask.follow_up = self.ask.follow_up or follow_up
            if self.ask.at <= when:
                return False
            follow_up = self.ask.follow_up
        self.ask = Ask(at=when, follow_up=follow_up)
        return True

    def _plan(self, now: datetime) -> datetime:
        """Plan the regular poll after a request: the user's interval, or a limit spent by need."""
        if not self.budget.limit:
            self.next_poll, self.poll_reason = now + self.interval, Reason.INTERVAL
            return self.next_poll
        wanted = {
            Need.CHARGING: self.active,
            Need.WAITING: min(self.idle, WAITING_GAP),
            Need.PARKED: self.idle,
        }
        polls_left = self.budget.polls_left(now, renewals_left(self.token_expires, now))
        self.next_poll, pace = planned_poll(
            now,
            need=self.need,
            charge_end=self.charge_end,
            yesterday=self.profile.yesterday,
            polls_left=polls_left,
            wanted=wanted,
        )
        self.poll_reason = Reason(pace.value)
        return self.next_poll

    # Storage.

    def as_dict(self) -> dict[str, Any]:
        """Return what a reload or restart keeps, as JSON-ready data."""
        return {
            "budget": self.budget.as_dict(),
            "wait": self.wait.as_dict() if self.wait else None,
            "backoff_seconds": self.backoff.total_seconds() if self.backoff else None,
            "limited_since": self.limited_since.isoformat() if self.limited_since else None,
            "ask": self.ask.as_dict() if self.ask else None,
            "profile": self.profile.as_dict(),
        }

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Take in what as_dict stored; a part that is missing or not of its shape is left out."""
        budget = stored.get("budget")
        self.budget = RequestBudget.from_dict(
            self.budget.limit, budget if isinstance(budget, dict) else {}, now
        )
        self.wait = Wait.from_dict(stored.get("wait"), now)
        self.limited_since = aware(stored.get("limited_since"))
        backoff = stored.get("backoff_seconds")
        if isinstance(backoff, int | float) and 0 < backoff <= MAX_BACKOFF.total_seconds():
            self.backoff = timedelta(seconds=backoff)
        self.profile = DayProfile.from_dict(stored.get("profile"))
        self.ask = Ask.from_dict(stored.get("ask"))


def wait_key(error: object) -> str:
    """Return the translation key of the error a wait is for, as stored for a reload."""
    match error:
        case "forbidden":
            return "forbidden"
        case "service_gone":
            return "service_gone"
        case _:
            return "rate_limited"
