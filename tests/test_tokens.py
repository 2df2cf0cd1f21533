"""Tokens and time: odd lifetimes, clocks that disagree, concurrent refreshes, restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.orangepower_bmw.const import CONF_TOKEN, DOMAIN
from simulator import Simulator
from tests.conftest import I3S_VIN
from tests.helpers import IX_BATTERY as BATTERY, advance, set_up


def state_lifetime(monkeypatch: pytest.MonkeyPatch, simulator: Simulator, expires_in: int) -> None:
    """Make the service state this expires_in while its tokens still last 8 hours."""
    issue = simulator.issue_token
    monkeypatch.setattr(
        simulator, "issue_token", lambda *args: {**issue(*args), "expires_in": expires_in}
    )


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
@pytest.mark.parametrize(
    ("expires_in", "logins", "refused"),
    [
        # Short-lived: used for the poll it was got for, renewed at the next (one login a poll):
        # the setup's login and one for each of the day's 288 polls. A negative, missing or
        # unreadable lifetime is this one too (test_api_parsing).
        (0, 289, 0),
        # Absurdly long: believed for a day at most, so the service's real 8 hours end in a
        # refused call, a renewal and a retry at 8:00, 16:00 and 24:00.
        (10**9, 4, 3),
        # As stated: renewed 5 minutes before it runs out, at 7:55, 15:50 and 23:45.
        (28800, 4, 0),
    ],
)
async def test_a_day_of_polls_with_an_odd_stated_lifetime_never_loops(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    expires_in: int,
    logins: int,
    refused: int,
) -> None:
    state_lifetime(monkeypatch, simulator, expires_in)
    await set_up(hass, mock_config_entry)

    # The i3s charges all day, so the account is polled every 5 minutes all day.
    simulator.update_car(I3S_VIN, state="CHARGING")
    for _ in range(24 * 12):
        await advance(hass, freezer, timedelta(minutes=5))

    assert simulator.counts["token"] == logins
    assert simulator.status_counts["vehicles"].get("401", 0) == refused
    assert hass.states.get(BATTERY).state == "64"


@pytest.mark.parametrize(
    ("event", "vehicles", "refused", "battery"),
    [
        # The service thinks 9 hours have passed: our token, fresh to us, has expired there.
        ("service_clock_ahead", 3, 1, "64"),
        # Refused again after the renewal: an error for this poll, not a loop nor a reauth.
        ("refused_after_renewal", 3, 2, STATE_UNAVAILABLE),
        # Our clock jumps two days: the token is renewed before the poll, never refused.
        ("our_clock_forward", 2, 0, "64"),
        # Eight hours on, the token is renewed before the poll; then the poll itself fails.
        ("poll_fails_after_renewal", 2, 0, STATE_UNAVAILABLE),
    ],
)
async def test_a_stale_token_is_renewed_once_kept_and_stored_even_if_the_poll_fails(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    event: str,
    vehicles: int,
    refused: int,
    battery: str,
) -> None:
    """One login, at most one refused call retried; the new token kept without a reload, stored
    before the next good poll, and used after a restart."""
    coordinator = init_integration.runtime_data
    old_token = init_integration.data[CONF_TOKEN]["access_token"]
    if event == "service_clock_ahead":
        simulator.clock.advance(9 * 3600)
    elif event == "refused_after_renewal":
        simulator.inject_fault("vehicles", status=401, count=2)
    elif event == "our_clock_forward":
        freezer.move_to(freezer() + timedelta(days=2))
        await advance(hass, freezer, timedelta())
    else:
        freezer.tick(timedelta(hours=8))
        simulator.inject_fault("vehicles", drop="before")
    await advance(hass, freezer, timedelta(minutes=5))

    assert simulator.counts == {"token": 2, "vehicles": vehicles}
    assert simulator.status_counts["vehicles"].get("401", 0) == refused
    assert hass.states.get(BATTERY).state == battery
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    issued = init_integration.data[CONF_TOKEN]["access_token"]
    assert issued != old_token
    assert init_integration.runtime_data is coordinator

    # Home Assistant writes the entry out shortly after.
    await advance(hass, freezer, timedelta(seconds=30))
    stored = hass_storage["core.config_entries"]["data"]["entries"]
    (entry,) = [entry for entry in stored if entry["domain"] == DOMAIN]
    assert entry["data"][CONF_TOKEN]["access_token"] == issued
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(BATTERY).state == "64"
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert simulator.counts["token"] == 2
    assert hass.states.get(BATTERY).state == "64"


async def test_scheduled_poll_manual_update_and_diagnostics_together_log_in_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    simulator.expire_tokens()
    coordinator = init_integration.runtime_data
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await asyncio.gather(
        hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": BATTERY}, blocking=True
        ),
        coordinator.async_refresh(),
        get_diagnostics_for_config_entry(hass, hass_client, init_integration),
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert simulator.counts["token"] == 2
    assert coordinator.last_update_success
