"""A simulated week: two cars charging every night, random faults, and the calls it costs.

Expected schedule: both cars are plugged in and charging from 22:00 to 07:00 (9 hours polled
every 5 minutes: 108 polls) and unplugged for the other 15 hours (every 15 minutes: 60 polls), so
168 vehicles calls a day, 1176 a week. Tokens last 8 hours and are renewed 5 minutes
early: a login every 7 h 55 min, 21 a week, plus the setup's and one per revocation (a
revocation restarts the 8 hours, which can save the week's last renewal).
Faults replace a poll or delay the next one, so the counts may fall a little short.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import random

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import Simulator
from tests.conftest import I3S_VIN, IX_VIN
from tests.helpers import advance, set_up

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CARS = {I3S_VIN: "bmw_i3s_94_rex", IX_VIN: "bmw_ix_xdrive50"}
FAULTS = [
    {"status": 500},
    {"status": 503},
    {"drop": "before"},
    {"body": "html"},
    {"status": 429, "retry_after": "600"},
]
WEEKLY_VEHICLE_CALLS = 7 * (9 * 12 + 15 * 4)
WEEKLY_LOGINS = 1 + 7 * 24 * 60 // (8 * 60 - 5)


def resources(hass: HomeAssistant) -> tuple[int, int, int]:
    """Return the running tasks, scheduled timers and event listeners."""
    listeners = sum(hass.bus.async_listeners().values())
    return len(asyncio.all_tasks()), len(hass.loop._scheduled), listeners


@pytest.mark.freeze_time(START)
async def test_a_week_of_nightly_charging_with_random_faults(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    rng = random.Random(20261123)
    for vin in CARS:
        simulator.unplug(vin)
        simulator.update_car(vin, percentage=60)
    await set_up(hass, mock_config_entry)

    faults = revocations = 0
    after_day_one: tuple[int, int, int] | None = None
    for step in range(1, 7 * 24 * 12 + 1):
        now = START + timedelta(minutes=5 * step)
        if (now.hour, now.minute) == (22, 0):
            for vin in CARS:
                # Low enough to charge at 10 % an hour until they are unplugged at 07:00.
                simulator.update_car(vin, percentage=9)
                simulator.plug(vin)
                simulator.start_charging(vin)
        elif (now.hour, now.minute) == (7, 0):
            for vin in CARS:
                simulator.unplug(vin)
        elif (now.hour, now.minute) == (13, 0):
            for vin in CARS:  # a day's driving
                simulator.update_car(vin, percentage=max(simulator.car(vin).percentage - 45, 5))
        if rng.random() < 0.01:
            simulator.inject_fault("vehicles", **rng.choice(FAULTS))
            faults += 1
        if rng.random() < 0.002:
            simulator.expire_tokens()
            revocations += 1
        await advance(hass, freezer, timedelta(minutes=5))
        if step == 24 * 12:
            after_day_one = resources(hass)

    counts = simulator.counts
    print(  # noqa: T201 - the figures the README quotes
        f"\nweek: {counts['vehicles']} vehicles calls (schedule {WEEKLY_VEHICLE_CALLS}), "
        f"{counts['token']} logins (schedule {WEEKLY_LOGINS} + {revocations} revocations), "
        f"{faults} faults"
    )
    assert faults > 5
    # A revoked token costs one refused call before the renewal and the retry.
    assert WEEKLY_VEHICLE_CALLS * 0.95 <= counts["vehicles"] <= WEEKLY_VEHICLE_CALLS + revocations
    assert WEEKLY_LOGINS + revocations - 1 <= counts["token"] <= WEEKLY_LOGINS + revocations

    assert after_day_one is not None
    tasks, timers, listeners = resources(hass)
    assert tasks <= after_day_one[0]
    assert timers <= after_day_one[1] + 2
    assert listeners <= after_day_one[2]

    # The last poll was at 12:00 on the seventh day: both cars unplugged after the night.
    await advance(hass, freezer, timedelta(minutes=15))
    for vin, name in CARS.items():
        car = simulator.car(vin)
        assert hass.states.get(f"sensor.{name}_battery").state == str(car.charge_percentage)
        assert hass.states.get(f"binary_sensor.{name}_charger_connected").state == STATE_OFF
        assert hass.states.get(f"sensor.{name}_charger").state == "disconnected"
