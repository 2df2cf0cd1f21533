"""Calls per day to Orange Power Connect, against the former BMW integration's schedule.

Each day plan drives the real integration in a Home Assistant test instance for half a day of
warm-up and then a whole week, with the clock frozen and moved on (as tests/test_soak.py does),
and counts what the simulator received. Home Assistant is set up at 12:07:30, so its first polls
fall 7.5 minutes after the hour's plug and charge events (after a charge ends on the hour, the
idle polls fall 2.5 minutes after it).

Plans "+wallbox" link an input_boolean standing in for the wallbox as a refresh trigger, with a
60-minute idle interval: the harness turns it on and off at the moment the plan plugs a car in
or out (when the car reports it to the simulator too). Plan "e+limit48" sets a daily request
limit of 48 and records the requests per local day of Home Assistant's time zone.

The former integration (bimmer_connected) made a status call and a charging call per car every
5 minutes, and logged in again about once an hour (MyBMW tokens lasted about an hour): per day,
2 x 288 calls per car plus 24 logins, whatever the cars did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from benchmarks.common import car, config_entry, record, scenario, set_up
from custom_components.orangepower_bmw.const import (
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
    CONF_REFRESH_ENTITIES,
)
from custom_components.orangepower_bmw.coordinator import OrangePowerCoordinator
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

# The wallbox, linked as a refresh trigger: an input_boolean the harness turns on and off at the
# moment the plan plugs a car in or out (the car reports to the simulator at the same moment).
WALLBOX = "input_boolean.wallbox"
# After a wallbox event, the harness also stops when the triggered refresh (30 s) and its
# follow-up (3 minutes after that) fall due, and a second later.
WALLBOX_STOPS = tuple(timedelta(seconds=seconds) for seconds in (30, 31, 30 + 180, 31 + 180))
# With a daily limit, polls must come in every window this long of each whole local day.
LIMIT_WINDOW = timedelta(hours=2)


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
    """A day of the account's cars, and the issue's target ratio for it when it sets one.

    wallbox: an input_boolean follows the cars' plug and is a refresh trigger; idle_interval: the
    option in minutes (None: the default); limit: the daily request limit (0: none); arrival: the
    level a car comes home with; rate: the cars' charge in % an hour; charge_target: the cars'
    Charge target setting (None: the default 100 %).
    """

    key: str
    title: str
    cars: tuple[CarDay, ...]
    target: float | None
    wallbox: bool = False
    idle_interval: int | None = None
    limit: int = 0
    arrival: int = ARRIVAL_PERCENTAGE
    rate: float | None = None
    charge_target: int | None = None

    def options(self) -> dict[str, object]:
        """Return the config entry's options that differ from the defaults."""
        options: dict[str, object] = {}
        if self.wallbox:
            options[CONF_REFRESH_ENTITIES] = [WALLBOX]
        if self.idle_interval is not None:
            options[CONF_IDLE_INTERVAL] = self.idle_interval
        if self.limit:
            options[CONF_DAILY_REQUEST_LIMIT] = self.limit
        return options


def window(start: str, end: str) -> Window:
    return Window(time.fromisoformat(start), time.fromisoformat(end))


PARKED = CarDay()
OVERNIGHT = CarDay(window("22:00", "07:00"), window("22:00", "02:00"))
OVERNIGHT_LATE = CarDay(window("22:00", "07:00"), window("02:00", "06:00"))
HOME_WHENEVER_THERE = CarDay(window("18:00", "08:00"), window("22:00", "02:00"))
AT_WORK = CarDay(window("09:00", "17:00"), window("09:00", "13:00"))
# Home at 18:00, a timer starts the charge at 22:00 and the car stops at its target at 02:00.
EVENING_TIMER = CarDay(window("18:00", "07:30"), window("22:00", "02:00"))

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
        4.5,
    ),
    DayPlan(
        "e",
        "two cars: one charging at home overnight (as in b), one at work (plugged 09:00-17:00)",
        (OVERNIGHT, AT_WORK),
        7,
    ),
    DayPlan(
        "b+wallbox",
        "as b, with the wallbox linked and a 60-minute idle interval",
        (OVERNIGHT,),
        8,
        wallbox=True,
        idle_interval=60,
    ),
    DayPlan(
        "d+wallbox",
        "as d, with the wallbox linked and a 60-minute idle interval",
        (HOME_WHENEVER_THERE,),
        None,
        wallbox=True,
        idle_interval=60,
    ),
    DayPlan(
        "e+limit48",
        "as e, with a daily request limit of 48",
        (OVERNIGHT, AT_WORK),
        None,
        limit=48,
    ),
    DayPlan(
        "f+limit48",
        "one car home at 18:00, a timer charging it 22:00-02:00 from 20 % to its 80 % target "
        "at 15 % an hour, unplugged at 07:30; the wallbox linked, a daily limit of 48",
        (EVENING_TIMER,),
        None,
        wallbox=True,
        limit=48,
        arrival=20,
        rate=15,
        charge_target=80,
    ),
)


def minutes_a_day(plan: DayPlan, *, charging: bool) -> int:
    """Return the minutes of a day in which any car is plugged in (or, with charging, charging)."""
    moments = (time(minute // 60, minute % 60) for minute in range(24 * 60))
    return sum(any(car_day.wants(moment)[charging] for car_day in plan.cars) for moment in moments)


def vin(index: int) -> str:
    return str(car(index)["vin"])


def apply_plan(simulator: Simulator, plan: DayPlan, moment: datetime) -> set[str]:
    """Bring every car to the state the plan wants at this moment; return what changed.

    The changes are among "plugged", "unplugged", "started" and "stopped" (charging).
    """
    changed: set[str] = set()
    for index, car_day in enumerate(plan.cars):
        state = simulator.car(vin(index))
        plugged, charging = car_day.wants(moment.time())
        if plugged and not state.charger_connected:
            simulator.update_car(vin(index), percentage=plan.arrival)
            simulator.plug(vin(index))
            changed.add("plugged")
        elif not plugged and state.charger_connected:
            simulator.unplug(vin(index))
            changed.add("unplugged")
        if charging and not state.charging:
            simulator.start_charging(vin(index))
            changed.add("started")
        elif not charging and state.charging:
            simulator.stop_charging(vin(index))
            changed.add("stopped")
    return changed


def any_plugged(simulator: Simulator, plan: DayPlan) -> bool:
    return any(simulator.car(vin(index)).charger_connected for index in range(len(plan.cars)))


async def follow_wallbox(hass: HomeAssistant, simulator: Simulator, plan: DayPlan) -> None:
    """Turn the wallbox's input_boolean on while a car is plugged in, off otherwise."""
    wanted = "on" if any_plugged(simulator, plan) else "off"
    state = hass.states.get(WALLBOX)
    if state is None or state.state != wanted:
        await hass.services.async_call(
            "input_boolean", f"turn_{wanted}", {"entity_id": WALLBOX}, blocking=True
        )


def any_charging(simulator: Simulator, plan: DayPlan) -> bool:
    return any(simulator.car(vin(index)).charging for index in range(len(plan.cars)))


def moments(plan: DayPlan) -> list[datetime]:
    """Return the moments to stop at: the 5-minute grid of polls and each plan event.

    With the wallbox, also when its triggered refresh and the follow-up fall due. The harness
    stops besides at each next request the integration plans (its `next_update`).
    """
    found = {START + STEP * step for step in range(1, (MEASURE_TO - START) // STEP + 1)}
    found.add(MEASURE_FROM)
    day = START.replace(hour=0, minute=0, second=0)
    while day < MEASURE_TO:
        for car_day in plan.cars:
            for span in (car_day.plugged, car_day.charging):
                for edge in (span.start, span.end) if span else ():
                    event = datetime.combine(day.date(), edge, tzinfo=UTC)
                    found.add(event)
                    if plan.wallbox and span is car_day.plugged:
                        found.update(event + after for after in WALLBOX_STOPS)
        day += timedelta(days=1)
    return sorted(moment for moment in found if START < moment <= MEASURE_TO)


def local_day(moment: datetime) -> date:
    """Return the day in Home Assistant's time zone, the daily limit's day."""
    return dt_util.as_local(moment).date()


def limit_figures(
    plan: DayPlan, requests: list[datetime], poll_times: list[datetime]
) -> dict[str, object]:
    """Return the requests on each local day, the longest gap, and the polls' spread over a day.

    The spread is checked on the local days the measurement covers whole: each LIMIT_WINDOW of
    them (from local midnight) must hold a poll.
    """
    per_day = Counter(local_day(moment) for moment in requests)
    days = sorted(per_day)
    whole = [
        day
        for day in days
        if dt_util.start_of_local_day(day) >= MEASURE_FROM
        and dt_util.start_of_local_day(day + timedelta(days=1)) <= MEASURE_TO
    ]
    empty = []
    for day in whole:
        start, end = (dt_util.start_of_local_day(d) for d in (day, day + timedelta(days=1)))
        while start < end:
            if not any(start <= poll < start + LIMIT_WINDOW for poll in poll_times):
                empty.append(dt_util.as_local(start).isoformat(timespec="minutes"))
            start += LIMIT_WINDOW
    gaps = [(later - earlier).total_seconds() / 60 for earlier, later in pairwise(poll_times)]
    return {
        "limit": plan.limit,
        "time_zone": str(dt_util.get_default_time_zone()),
        "requests_per_local_day": {day.isoformat(): per_day[day] for day in days},
        "whole_local_days": [day.isoformat() for day in whole],
        "max_requests_per_local_day": max(per_day.values()),
        "max_poll_gap_min": max(gaps),
        "window_hours": LIMIT_WINDOW.total_seconds() / 3600,
        "windows_without_poll": empty,
    }


def next_at_or_after(times: list[datetime], moment: datetime) -> datetime:
    return min(candidate for candidate in times if candidate >= moment)


@dataclass
class Run:
    """What the simulator saw of a plan's days, and when."""

    # Each poll (vehicles call), and whether a car was charging then.
    polls: list[tuple[datetime, bool]] = field(default_factory=list)
    # Each moment after MEASURE_FROM a car's plug or charging changed, and those of each change.
    changes: list[datetime] = field(default_factory=list)
    plug_ins: list[datetime] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)
    stops: list[datetime] = field(default_factory=list)
    # Every request (login or vehicles call), at the moment it was made.
    requests: list[datetime] = field(default_factory=list)
    at_start: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)


async def drive(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator, plan: DayPlan
) -> Run:
    """Set the integration up and move the clock through the plan's days, stopping at moments().

    It stops besides at each request the integration plans in between (its `next_update`).
    """
    run = Run()

    def total() -> int:
        return simulator.counts["vehicles"] + simulator.counts["token"]

    if plan.wallbox:
        assert await async_setup_component(
            hass, "input_boolean", {"input_boolean": {"wallbox": None}}
        )
        await follow_wallbox(hass, simulator, plan)
    async with run_simulator(simulator) as url:
        entry = config_entry(url, EMAIL, **plan.options())
        await set_up(hass, entry)
        coordinator: OrangePowerCoordinator = entry.runtime_data
        if plan.charge_target is not None:
            for index in range(len(plan.cars)):
                coordinator.charging.car(vin(index)).set_target(plan.charge_target)
        run.requests += [START] * total()
        fixed = moments(plan)
        now, index = START, 0
        while index < len(fixed):
            moment = fixed[index]
            planned = coordinator.next_update
            if planned is not None and now < planned < moment:
                moment = planned
            else:
                index += 1
            now = moment
            freezer.move_to(moment)
            changed = apply_plan(simulator, plan, moment)
            if changed and moment > MEASURE_FROM:
                run.changes.append(moment)
                for kind, moments_of in (
                    ("plugged", run.plug_ins),
                    ("started", run.starts),
                    ("stopped", run.stops),
                ):
                    if kind in changed:
                        moments_of.append(moment)
            if plan.wallbox:
                await follow_wallbox(hass, simulator, plan)
            before, before_total = simulator.counts["vehicles"], total()
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
            run.requests += [moment] * (total() - before_total)
            if simulator.counts["vehicles"] > before:
                run.polls.append((moment, any_charging(simulator, plan)))
            if moment == MEASURE_FROM:
                run.at_start = simulator.counts
        run.counts = simulator.counts
        run.statuses = simulator.status_counts
    return run


@pytest.mark.freeze_time(START)
@pytest.mark.parametrize("plan", PLANS, ids=[plan.key for plan in PLANS])
async def test_calls_per_day(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    socket_enabled: None,
    freezer: FrozenDateTimeFactory,
    plan: DayPlan,
) -> None:
    rate = {} if plan.rate is None else {"charge_rate_per_hour": plan.rate}
    simulator = Simulator(
        scenario((EMAIL, [car(index, **rate) for index in range(len(plan.cars))]))
    )
    apply_plan(simulator, plan, START)
    run = await drive(hass, freezer, simulator, plan)
    counts, at_start, statuses = run.counts, run.at_start, run.statuses
    changes = run.changes

    vehicles = (counts["vehicles"] - at_start["vehicles"]) / DAYS
    logins = (counts["token"] - at_start["token"]) / DAYS
    ours = vehicles + logins
    polls_per_day = timedelta(days=1) / FORMER_INTERVAL
    former_calls = FORMER_CALLS_PER_CAR_PER_POLL * len(plan.cars) * polls_per_day
    former_logins = timedelta(days=1) / FORMER_TOKEN_LIFETIME
    former = former_calls + former_logins

    measured = [(moment, charging) for moment, charging in run.polls if moment > MEASURE_FROM]
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
    wallbox_delays = [
        (next_at_or_after(poll_times, plug_in) - plug_in).total_seconds() / 60
        for plug_in in run.plug_ins
        if plan.wallbox
    ]
    limit = limit_figures(plan, run.requests, poll_times) if plan.limit else None
    start_delays = [(next_at_or_after(poll_times, c) - c).total_seconds() / 60 for c in run.starts]
    stop_delays = [(next_at_or_after(poll_times, c) - c).total_seconds() / 60 for c in run.stops]
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
        "options": plan.options(),
        "wallbox_plug_in_delays_min": wallbox_delays,
        "max_wallbox_plug_in_delay_min": max(wallbox_delays, default=None),
        "mean_wallbox_plug_in_delay_min": (
            sum(wallbox_delays) / len(wallbox_delays) if wallbox_delays else None
        ),
        "daily_limit": limit,
        "max_delay_to_show_a_charge_start_min": max(start_delays, default=None),
        "max_delay_to_show_a_charge_end_min": max(stop_delays, default=None),
    }
    record("calls", plan.key, figures)
    print(
        f"\n{plan.key}: {ours:.1f} calls/day ({vehicles:.1f} vehicles + {logins:.2f} logins), "
        f"former {former:.0f}, {former / ours:.2f}x fewer; charging poll gap "
        f"{figures['max_poll_gap_while_charging_min']} min, change shown after "
        f"<= {figures['max_delay_to_show_change_min']} min; {statuses}"
    )
    assert counts["vehicles"] > at_start["vehicles"] > 0
    if plan.wallbox:
        print(f"plug-in shown after the wallbox event: {wallbox_delays} min")
        assert len(wallbox_delays) == DAYS
    if limit is not None:
        print(
            f"limit {plan.limit}: requests per local day ({limit['time_zone']}) "
            f"{limit['requests_per_local_day']}, longest gap {limit['max_poll_gap_min']:.1f} min, "
            f"{limit['window_hours']:g}-hour windows without a poll: {limit['windows_without_poll']}"
        )
        # Every local day, the warm-up's and the partial ones included, stays within the limit.
        assert limit["max_requests_per_local_day"] <= plan.limit
        assert limit["whole_local_days"]
        assert not limit["windows_without_poll"]


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
