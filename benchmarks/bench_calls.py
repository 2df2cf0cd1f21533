"""Calls per day to Orange Power Connect, against the former BMW integration's schedule.

Each day plan drives the real integration in a Home Assistant test instance for half a day of
warm-up and then a whole week, with the clock frozen and moved on (as tests/test_soak.py does),
and counts what the simulator received. Home Assistant is set up at 12:07:30, so its polls fall
7.5 minutes after the hour's plug and charge events: the average phase, neither lucky nor unlucky.

The former integration (bimmer_connected) made a status call and a charging call per car every
5 minutes, and logged in again about once an hour (MyBMW tokens lasted about an hour): per day,
2 x 288 calls per car plus 24 logins, whatever the cars did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from benchmarks.common import car, config_entry, record, scenario, set_up
from simulator import Simulator, run_simulator

EMAIL = "driver@example.com"
START = datetime(2026, 11, 23, 12, 7, 30, tzinfo=UTC)
MEASURE_FROM = datetime(2026, 11, 24, tzinfo=UTC)
DAYS = 7
MEASURE_TO = MEASURE_FROM + timedelta(days=DAYS)
STEP = timedelta(minutes=5)
ARRIVAL_PERCENTAGE = 40

# The former integration's schedule.
FORMER_INTERVAL = timedelta(minutes=5)
FORMER_CALLS_PER_CAR_PER_POLL = 2
FORMER_TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """A daily time window, start included and end excluded; it may run past midnight."""

    start: time
    end: time

    def __contains__(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class CarDay:
    """When a car is plugged in and when it charges, every day; None: never."""

    plugged: Window | None = None
    charging: Window | None = None

    def wants(self, moment: time) -> tuple[bool, bool]:
        """Return whether the car is plugged in and whether it charges at this time of day."""
        plugged = self.plugged is not None and moment in self.plugged
        return plugged, plugged and self.charging is not None and moment in self.charging

    def describe(self) -> str:
        if self.plugged is None:
            return "parked, unplugged"
        return f"plugged in {self.plugged}, charging {self.charging}"


@dataclass(frozen=True)
class DayPlan:
    """A day of the account's cars, and the issue's target ratio for it when it sets one."""

    key: str
    title: str
    cars: tuple[CarDay, ...]
    target: float | None


def window(start: str, end: str) -> Window:
    return Window(time.fromisoformat(start), time.fromisoformat(end))


PARKED = CarDay()
OVERNIGHT = CarDay(window("22:00", "07:00"), window("22:00", "02:00"))
OVERNIGHT_LATE = CarDay(window("22:00", "07:00"), window("02:00", "06:00"))
HOME_WHENEVER_THERE = CarDay(window("18:00", "08:00"), window("22:00", "02:00"))
AT_WORK = CarDay(window("09:00", "17:00"), window("09:00", "13:00"))

PLANS = (
    DayPlan("a", "one car, parked and unplugged all day", (PARKED,), 3),
    DayPlan("b", "one car plugged in overnight, charging four hours of it", (OVERNIGHT,), 3),
    DayPlan(
        "two",
        "two cars plugged in overnight, charging four hours each, one after the other",
        (OVERNIGHT, OVERNIGHT_LATE),
        6,
    ),
    DayPlan(
        "c",
        "three cars: two plugged in overnight and charging (as in two), one parked",
        (OVERNIGHT, OVERNIGHT_LATE, PARKED),
        None,
    ),
    DayPlan(
        "d",
        "one car plugged in whenever it is home (18:00-08:00), charging four hours overnight",
        (HOME_WHENEVER_THERE,),
        3,
    ),
    DayPlan(
        "e",
        "two cars: one charging at home overnight (as in b), one at work (plugged 09:00-17:00)",
        (OVERNIGHT, AT_WORK),
        6,
    ),
)


def minutes_a_day(plan: DayPlan, *, charging: bool) -> int:
    """Return the minutes of a day in which any car is plugged in (or, with charging, charging)."""
    moments = (time(minute // 60, minute % 60) for minute in range(24 * 60))
    return sum(any(car_day.wants(moment)[charging] for car_day in plan.cars) for moment in moments)


def vin(index: int) -> str:
    return str(car(index)["vin"])


def apply_plan(simulator: Simulator, plan: DayPlan, moment: datetime) -> bool:
    """Bring every car to the state the plan wants at this moment; return whether any changed."""
    changed = False
    for index, car_day in enumerate(plan.cars):
        state = simulator.car(vin(index))
        plugged, charging = car_day.wants(moment.time())
        changed |= (plugged, charging) != (state.charger_connected, state.charging)
        if plugged and not state.charger_connected:
            simulator.update_car(vin(index), percentage=ARRIVAL_PERCENTAGE)
            simulator.plug(vin(index))
        elif not plugged and state.charger_connected:
            simulator.unplug(vin(index))
        if charging and not state.charging:
            simulator.start_charging(vin(index))
        elif not charging and state.charging:
            simulator.stop_charging(vin(index))
    return changed


def any_charging(simulator: Simulator, plan: DayPlan) -> bool:
    return any(simulator.car(vin(index)).charging for index in range(len(plan.cars)))


def moments(plan: DayPlan) -> list[datetime]:
    """Return every moment to stop at: the 5-minute grid of polls and each plan event."""
    found = {START + STEP * step for step in range(1, (MEASURE_TO - START) // STEP + 1)}
    found.add(MEASURE_FROM)
    day = START.replace(hour=0, minute=0, second=0)
    while day < MEASURE_TO:
        for car_day in plan.cars:
            for span in (car_day.plugged, car_day.charging):
                for edge in (span.start, span.end) if span else ():
                    found.add(datetime.combine(day.date(), edge, tzinfo=UTC))
        day += timedelta(days=1)
    return sorted(moment for moment in found if START < moment <= MEASURE_TO)


def next_at_or_after(times: list[datetime], moment: datetime) -> datetime:
    return min(candidate for candidate in times if candidate >= moment)


@pytest.mark.freeze_time(START)
@pytest.mark.parametrize("plan", PLANS, ids=[plan.key for plan in PLANS])
async def test_calls_per_day(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    socket_enabled: None,
    freezer: FrozenDateTimeFactory,
    plan: DayPlan,
) -> None:
    simulator = Simulator(scenario((EMAIL, [car(index) for index in range(len(plan.cars))])))
    apply_plan(simulator, plan, START)
    polls: list[tuple[datetime, bool]] = []
    changes: list[datetime] = []
    async with run_simulator(simulator) as url:
        await set_up(hass, config_entry(url, EMAIL))
        at_start: dict[str, int] = {}
        for moment in moments(plan):
            freezer.move_to(moment)
            if apply_plan(simulator, plan, moment) and moment > MEASURE_FROM:
                changes.append(moment)
            before = simulator.counts["vehicles"]
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
            if simulator.counts["vehicles"] > before:
                polls.append((moment, any_charging(simulator, plan)))
            if moment == MEASURE_FROM:
                at_start = simulator.counts
        counts = simulator.counts
        statuses = simulator.status_counts

    vehicles = (counts["vehicles"] - at_start["vehicles"]) / DAYS
    logins = (counts["token"] - at_start["token"]) / DAYS
    ours = vehicles + logins
    polls_per_day = timedelta(days=1) / FORMER_INTERVAL
    former_calls = FORMER_CALLS_PER_CAR_PER_POLL * len(plan.cars) * polls_per_day
    former_logins = timedelta(days=1) / FORMER_TOKEN_LIFETIME
    former = former_calls + former_logins

    measured = [(moment, charging) for moment, charging in polls if moment > MEASURE_FROM]
    poll_times = [moment for moment, _ in measured]
    gaps_while_charging = [
        (later - earlier).total_seconds() / 60
        for (earlier, charging), later in zip(measured, poll_times[1:], strict=False)
        if charging
    ]
    former_grid = [
        START + FORMER_INTERVAL * step
        for step in range(1, (MEASURE_TO - START) // FORMER_INTERVAL + 2)
    ]
    delays = [(next_at_or_after(poll_times, c) - c).total_seconds() / 60 for c in changes]
    former_delays = [(next_at_or_after(former_grid, c) - c).total_seconds() / 60 for c in changes]
    figures = {
        "title": plan.title,
        "cars": [car_day.describe() for car_day in plan.cars],
        "days": DAYS,
        "plugged_minutes_a_day": minutes_a_day(plan, charging=False),
        "charging_minutes_a_day": minutes_a_day(plan, charging=True),
        "vehicles_calls_per_day": vehicles,
        "logins_per_day": logins,
        "calls_per_day": ours,
        "former_calls_per_day": former,
        "former_status_and_charging_calls_per_day": former_calls,
        "former_logins_per_day": former_logins,
        "ratio": former / ours,
        "target": plan.target,
        "statuses": statuses,
        "max_poll_gap_while_charging_min": max(gaps_while_charging, default=None),
        "max_delay_to_show_change_min": max(delays, default=None),
        "mean_delay_to_show_change_min": sum(delays) / len(delays) if delays else None,
        "former_max_delay_to_show_change_min": max(former_delays, default=None),
    }
    record("calls", plan.key, figures)
    print(
        f"\n{plan.key}: {ours:.1f} calls/day ({vehicles:.1f} vehicles + {logins:.2f} logins), "
        f"former {former:.0f}, {former / ours:.2f}x fewer; charging poll gap "
        f"{figures['max_poll_gap_while_charging_min']} min, change shown after "
        f"<= {figures['max_delay_to_show_change_min']} min; {statuses}"
    )
    assert counts["vehicles"] > at_start["vehicles"] > 0


@pytest.mark.freeze_time(START)
async def test_delay_until_a_plug_in_shows(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    socket_enabled: None,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plug a parked car in 0, 1, ..., 14 minutes after an idle poll; time until a poll sees it."""
    simulator = Simulator(scenario((EMAIL, [car(0)])))
    delays: list[float] = []
    now = START

    async def next_poll() -> datetime:
        nonlocal now
        before = simulator.counts["vehicles"]
        while simulator.counts["vehicles"] == before:
            now += timedelta(seconds=30)
            freezer.move_to(now)
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
        return now

    async with run_simulator(simulator) as url:
        await set_up(hass, config_entry(url, EMAIL))
        last_poll = START
        for minutes in range(15):
            # The next idle poll is 15 minutes after the last one: nothing falls due on the way.
            now = last_poll + timedelta(minutes=minutes)
            freezer.move_to(now)
            simulator.plug(vin(0))
            simulator.start_charging(vin(0))
            delays.append((await next_poll() - last_poll).total_seconds() / 60 - minutes)
            simulator.unplug(vin(0))
            last_poll = await next_poll()

    former = [5 - minutes % 5 for minutes in range(15)]
    figures = {
        "delays_min": delays,
        "max_min": max(delays),
        "mean_min": sum(delays) / len(delays),
        "former_max_min": max(former),
        "former_mean_min": sum(former) / len(former),
    }
    record("freshness", "plug_in", figures)
    print(f"\nplug-in shown after {delays} min (max {max(delays)}, mean {figures['mean_min']:.1f})")
    assert len(delays) == 15
