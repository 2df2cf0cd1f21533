"""The daily request limit: today's count on Home Assistant's local calendar day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from homeassistant.util import dt as dt_util

from .api import TOKEN_RENEW_MARGIN, BudgetSpentError

# With nothing left today, the next request waits until this long after local midnight: a timer
# may land a fraction of a second early, and a request before midnight would be refused again.
NEW_DAY_MARGIN = timedelta(seconds=10)
# Without a known lifetime, a token is expected to last this long (the service's usual 8 hours).
EXPECTED_TOKEN_LIFETIME = timedelta(hours=8)


def aware(value: Any) -> datetime | None:
    """Return a stored time, or None when it is missing or not a time with a time zone."""
    when = dt_util.parse_datetime(value) if isinstance(value, str) else None
    return when if when is not None and when.tzinfo is not None else None


def next_midnight(now: datetime) -> datetime:
    """Return the start of the next local calendar day, in UTC.

    In UTC, so that subtracting gives real time: 23 or 25 hours on a day the clocks change.
    """
    return dt_util.as_utc(
        dt_util.start_of_local_day(dt_util.as_local(now).date() + timedelta(days=1))
    )


def renewals_left(token_expires: datetime | None, now: datetime) -> int:
    """Return how many logins the rest of the day needs if polling goes on until midnight."""
    midnight = next_midnight(now)
    expires = token_expires - TOKEN_RENEW_MARGIN if token_expires else now
    if expires >= midnight:
        return 0
    return 1 + int((midnight - max(expires, now)) / EXPECTED_TOKEN_LIFETIME)


@dataclass
class RequestBudget:
    """Requests made on Home Assistant's local calendar day, against an optional daily limit."""

    limit: int
    day: date
    count: int = 0
    last_request: datetime | None = None
    # The day the warning that the limit is reached was logged, so it is logged once a day.
    warned_on: date | None = None

    @classmethod
    def from_dict(cls, limit: int, data: dict[str, Any], now: datetime) -> RequestBudget:
        """Return the budget as stored, or a fresh one for today when nothing usable was stored."""
        try:
            budget = cls(
                limit=limit,
                day=date.fromisoformat(data["day"]),
                count=int(data["count"]),
                last_request=aware(data.get("last_request")),
                warned_on=date.fromisoformat(data["warned_on"]) if data.get("warned_on") else None,
            )
        except KeyError, TypeError, ValueError, AttributeError:
            budget = cls(limit=limit, day=dt_util.as_local(now).date())
        budget.roll(now)
        return budget

    def as_dict(self) -> dict[str, Any]:
        """Return the budget as JSON-ready data, for storage."""
        return {
            "day": self.day.isoformat(),
            "count": self.count,
            "last_request": self.last_request.isoformat() if self.last_request else None,
            "warned_on": self.warned_on.isoformat() if self.warned_on else None,
        }

    def roll(self, now: datetime) -> bool:
        """Start a new count on a later local day; return whether it did.

        A clock that steps back over midnight keeps today's count. One that was more than a day
        ahead counted a day that has not come: that count is dropped.
        """
        today = dt_util.as_local(now).date()
        if self.day - timedelta(days=1) <= today <= self.day:
            return False
        self.day, self.count = today, 0
        return True

    def allows(self, now: datetime, requests: int) -> bool:
        """Return whether the limit allows this many more requests today."""
        self.roll(now)
        return not self.limit or self.count + requests <= self.limit

    def spend(self, now: datetime, needed: int = 1) -> None:
        """Count a request about to be made, of `needed` the call still makes.

        Raise BudgetSpentError, counting nothing, when the limit does not allow all of them.
        """
        if not self.allows(now, needed):
            raise BudgetSpentError("The daily request limit is reached")
        self.count += 1
        self.last_request = now

    def polls_left(self, now: datetime, reserve: int) -> int:
        """Return how many polls the limit leaves today beyond the reserve (under a limit)."""
        self.roll(now)
        return max(self.limit - self.count - reserve, 0)
