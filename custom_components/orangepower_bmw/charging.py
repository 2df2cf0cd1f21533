"""Charging insight: rate, end time, energy to target and stalls, from the levels the service reported.

The service reports only a whole percentage (rounded down), a state and a plug flag. Everything here
is worked out from the level changes of the current charging session, and is unknown whenever those
changes do not support it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .allocation import Need
from .capacity import capacity_of
from .models import CHARGING_STATES, Vehicle

# The level a car charges to until the user sets a target.
DEFAULT_TARGET = 100
# An estimate needs this many level changes, this far apart.
MIN_CHANGES = 2
MIN_SPAN = timedelta(minutes=20)
# The end time is not rewritten for a smaller change, so that it does not flap from poll to poll.
END_HYSTERESIS = timedelta(minutes=5)
# Charging is stalled when the level has not moved for the longer of this and three expected steps.
STALL_AFTER = timedelta(minutes=45)
STALL_STEPS = 3

# States that say the car is not charging (BMW's own "UNKNOWN" says nothing).
NOT_CHARGING_STATES = CHARGING_STATES - {"CHARGING", "UNKNOWN"}
# States that mean a plugged-in car when the plug flag is missing.
PLUGGED_IN_STATES = frozenset({"PLUGGED_IN", "WAITING_FOR_CHARGING"})


class Charger(StrEnum):
    """The charger's state in the words EV planners map: evcc's A, B, C; Predbat's plugged in."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    CHARGING = "charging"


def charger_state(vehicle: Vehicle) -> Charger | None:
    """Return the charger's state from the car's state and plug flag; None when they do not say."""
    state = vehicle.charging.state
    plugged_in = vehicle.charging.charger_connected
    if state == "CHARGING":
        return Charger.CHARGING
    if plugged_in is True and state in NOT_CHARGING_STATES:
        return Charger.CONNECTED
    if plugged_in is None and state in PLUGGED_IN_STATES:
        return Charger.CONNECTED
    if plugged_in is False:
        return Charger.DISCONNECTED
    return None


@dataclass
class Session:
    """The level changes of one charging session; times are poll times of good polls."""

    started_at: datetime
    level: int
    # The first poll of this session that showed `level`, and the last one.
    level_since: datetime
    last_poll: datetime
    # (when the car reached the level, the level), one per change the polls showed.
    changes: list[tuple[datetime, int]] = field(default_factory=list)

    def observe(self, level: int, now: datetime) -> None:
        """Record a poll that showed a level no lower than the session's."""
        if level > self.level:
            # The car reached the new level between the last poll that showed the old one and
            # this one. One step: the midpoint. Several: later, as the levels in between were
            # crossed first (linear between the two polls, each level's middle at each poll).
            steps = level - self.level
            reached = self.last_poll + (now - self.last_poll) * (1 - 0.5 / steps)
            self.changes.append((reached, level))
            self.level = level
            self.level_since = now
        self.last_poll = now

    def fit(self) -> tuple[datetime, float, float] | None:
        """Return a point on the least-squares line through the changes and its slope in % per hour.

        None until there are enough changes far enough apart. Within a session the level only
        rises, so the slope of two or more changes at different times is positive.
        """
        if len(self.changes) < MIN_CHANGES or self.changes[-1][0] - self.changes[0][0] < MIN_SPAN:
            return None
        origin = self.changes[0][0]
        hours = [(reached - origin).total_seconds() / 3600 for reached, _ in self.changes]
        levels = [level for _, level in self.changes]
        mean_hours = sum(hours) / len(hours)
        mean_level = sum(levels) / len(levels)
        spread = sum((hour - mean_hours) ** 2 for hour in hours)
        slope = (
            sum(
                (hour - mean_hours) * (level - mean_level)
                for hour, level in zip(hours, levels, strict=True)
            )
            / spread
        )
        return origin + timedelta(hours=mean_hours), mean_level, slope

    def as_dict(self) -> dict[str, Any]:
        """Return the session as JSON-serialisable data."""
        return {
            "started_at": self.started_at.isoformat(),
            "level": self.level,
            "level_since": self.level_since.isoformat(),
            "last_poll": self.last_poll.isoformat(),
            "changes": [[reached.isoformat(), level] for reached, level in self.changes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Return a session stored by as_dict."""
        return cls(
            started_at=datetime.fromisoformat(data["started_at"]),
            level=data["level"],
            level_since=datetime.fromisoformat(data["level_since"]),
            last_poll=datetime.fromisoformat(data["last_poll"]),
            changes=[
                (datetime.fromisoformat(reached), level) for reached, level in data["changes"]
            ],
        )


@dataclass
class CarCharging:
    """What one car's polls say about its charging, and the user's target and capacity."""

    # The last level reported and the first poll that reported it (None: it was already the
    # level when this integration first saw the car).
    level: int | None = None
    level_since: datetime | None = None
    session: Session | None = None
    polled_at: datetime | None = None
    # The user's settings (the number entities); None until set: 100 %, and the model's capacity.
    target: float | None = None
    capacity: float | None = None
    # The end last shown, stored too, so that neither a restart nor a reload moves it by a little.
    shown_end: datetime | None = None
    stalled: bool = False
    # The energy put into the battery while plugged in, and the highest level seen since the car
    # was plugged in, from which a rise counts (None: not plugged in).
    energy_kwh: float = 0.0
    energy_from: int | None = None

    def observe(self, vehicle: Vehicle, now: datetime) -> None:
        """Take in a good poll of the car."""
        level = vehicle.charging.percentage
        if level is not None and level != self.level:
            self.level_since = now if self.level is not None else None
            self.level = level
        self._count_energy(vehicle)
        if vehicle.charging.state != "CHARGING" or vehicle.charging.charger_connected is False:
            self.session = None
        # A poll without a level neither ends the session nor adds to it.
        elif level is not None:
            if self.session is None or level < self.session.level:
                self.session = Session(started_at=now, level=level, level_since=now, last_poll=now)
            else:
                self.session.observe(level, now)
        self.polled_at = now
        self._update()

    def _count_energy(self, vehicle: Vehicle) -> None:
        """Add the level's rise above the highest seen since the car was plugged in.

        A level that drops (a drive, a glitch) and comes back adds nothing; so does a rise while
        the capacity is unknown.
        """
        level, plugged_in = vehicle.charging.percentage, charger_state(vehicle)
        if plugged_in is Charger.DISCONNECTED:
            self.energy_from = None
        elif plugged_in is not None and level is not None:
            if self.energy_from is not None and level > self.energy_from:
                capacity = self.battery_capacity(vehicle)
                self.energy_kwh += (level - self.energy_from) / 100 * (capacity or 0)
            self.energy_from = max(level, self.energy_from or 0)

    def set_target(self, target: float) -> None:
        """Charge to this level; the end time follows at once."""
        self.target = target
        self._update()

    def set_capacity(self, capacity: float) -> None:
        """Use this usable battery capacity in kWh, rather than the model's."""
        self.capacity = capacity

    @property
    def charge_target(self) -> float:
        """Return the level the car charges to: the user's, or 100 %."""
        return self.target if self.target is not None else DEFAULT_TARGET

    def battery_capacity(self, vehicle: Vehicle) -> float | None:
        """Return the usable capacity in kWh: the user's, or the model's when known."""
        return self.capacity if self.capacity is not None else capacity_of(vehicle)

    def energy_charged(self, vehicle: Vehicle) -> float | None:
        """Return the kWh put into the battery while plugged in; unknown without a capacity."""
        return self.energy_kwh if self.battery_capacity(vehicle) is not None else None

    def power(self, vehicle: Vehicle) -> float | None:
        """Return the charging power in kW: the session's rate times the capacity; 0 when idle."""
        if self.session is None:
            return 0.0
        rate, capacity = self.rate, self.battery_capacity(vehicle)
        return None if rate is None or capacity is None else rate / 100 * capacity

    @property
    def rate(self) -> float | None:
        """Return the charging rate of the current session in % per hour, when known."""
        fit = self.session.fit() if self.session else None
        return fit[2] if fit else None

    def energy_to_target(self, vehicle: Vehicle) -> float | None:
        """Return the kWh still missing to the target; None unless the level and capacity are known."""
        level, capacity = vehicle.charging.percentage, self.battery_capacity(vehicle)
        if level is None or capacity is None:
            return None
        return max(self.charge_target - level, 0) / 100 * capacity

    @property
    def end(self) -> datetime | None:
        """Return when the target will be reached at the session's rate, when known."""
        return self.shown_end

    def _update(self) -> None:
        """Work out the end time and the stall flag again after a poll or a new target."""
        end = self._estimate_end(self.charge_target)
        if (
            end is None
            or self.shown_end is None
            or abs(end - self.shown_end) >= END_HYSTERESIS
            # A car still below its target is not done before the poll that shows it.
            or (self.polled_at is not None and self.shown_end < self.polled_at)
        ):
            self.shown_end = end
        self.stalled = self._is_stalled()

    def _estimate_end(self, target: float) -> datetime | None:
        """Return when the target will be reached at the session's rate, when known."""
        session = self.session
        if session is None or session.level >= target:
            return None
        # Restored without a poll since (a reload under a limit), the session's last poll is now.
        now = self.polled_at or session.last_poll
        fit = session.fit()
        if fit is None:
            return None
        at, level, rate = fit
        end = at + timedelta(hours=(target - level) / rate)
        # The level still shown now is below the next whole percent, so the car is no nearer
        # than that: an end that has already passed while the level lags is moved on.
        earliest = now + timedelta(hours=max(target - session.level - 1, 0) / rate)
        return max(end, earliest)

    def _is_stalled(self) -> bool:
        """Return whether the level has not moved for much longer than charging would take."""
        session = self.session
        # A full battery cannot move, whatever the state says.
        if session is None or session.level >= 100:
            return False
        now = self.polled_at or session.last_poll
        wait = STALL_AFTER
        if (rate := self.rate) is not None:
            wait = max(wait, timedelta(hours=STALL_STEPS / rate))
        return now - session.level_since >= wait

    def as_dict(self) -> dict[str, Any]:
        """Return what must survive a restart as JSON-serialisable data."""
        return {
            "level": self.level,
            "level_since": self.level_since.isoformat() if self.level_since else None,
            "session": self.session.as_dict() if self.session else None,
            "shown_end": self.shown_end.isoformat() if self.shown_end else None,
            "target": self.target,
            "capacity": self.capacity,
            "energy_kwh": self.energy_kwh,
            "energy_from": self.energy_from,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CarCharging:
        """Return a car stored by as_dict (release 0.1.0 stored no settings and no energy)."""
        level_since, session, shown_end = data["level_since"], data["session"], data["shown_end"]
        car = cls(
            level=data["level"],
            level_since=datetime.fromisoformat(level_since) if level_since else None,
            session=Session.from_dict(session) if session else None,
            shown_end=datetime.fromisoformat(shown_end) if shown_end else None,
            target=_number(data.get("target")),
            capacity=_number(data.get("capacity")),
            energy_kwh=_number(data.get("energy_kwh")) or 0.0,
            energy_from=_level(data.get("energy_from")),
        )
        car.stalled = car._is_stalled()
        return car


def _number(value: Any) -> float | None:
    """Return a stored number, None for none; raise TypeError for anything else."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise TypeError(value)


def _level(value: Any) -> int | None:
    """Return a stored level, None for none; raise TypeError for anything else."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(value)


class ChargingInsight:
    """The charging of an account's cars by VIN; the entry's store keeps it across restarts."""

    def __init__(self, cars: dict[str, CarCharging] | None = None) -> None:
        """Start from the stored cars, if any."""
        self.cars: dict[str, CarCharging] = cars or {}

    def car(self, vin: str) -> CarCharging:
        """Return the charging of a car, new if it has none yet."""
        return self.cars.setdefault(vin, CarCharging())

    def observe(self, vehicles: Mapping[str, Vehicle], now: datetime) -> None:
        """Take in a good poll of the account's cars."""
        for vin, vehicle in vehicles.items():
            self.car(vin).observe(vehicle, now)

    def need(
        self, vehicles: Mapping[str, Vehicle], shown: set[str]
    ) -> tuple[Need, datetime | None]:
        """Return what the cars shown need of the schedule, and when a charge should end.

        Charging; else plugged in below the target and waiting (a timer may start it); else
        parked. The end is the earliest estimated end of a car charging that is still ahead of
        the car's last poll; only when every end has been overrun, the earliest of those: a car
        that overruns its end (its end moves on to each poll) hides no other car's end.
        """
        cars = {vin: vehicle for vin, vehicle in vehicles.items() if vin in shown}
        charging = [self.car(vin) for vin, vehicle in cars.items() if vehicle.is_charging]
        if charging:
            ends = [car.end for car in charging if car.end is not None]
            ahead = [
                car.end
                for car in charging
                if car.end is not None and (car.polled_at is None or car.end > car.polled_at)
            ]
            return Need.CHARGING, min(ahead or ends, default=None)
        for vin, vehicle in cars.items():
            level = vehicle.charging.percentage
            if charger_state(vehicle) is Charger.CONNECTED and (
                level is None or level < self.car(vin).charge_target
            ):
                return Need.WAITING, None
        return Need.PARKED, None
