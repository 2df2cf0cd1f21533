"""The coordinator: token reuse and renewal, error mapping, adaptive polling, cars coming and going."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw import async_remove_config_entry_device
from custom_components.orangepower_bmw.api import Credentials, OrangePowerClient
from custom_components.orangepower_bmw.const import CONF_TOKEN, DOMAIN
from custom_components.orangepower_bmw.store import token_for_entry
from simulator import Simulator
from tests.conftest import EMAIL, I3S_VIN, IX_VIN, PASSWORD
from tests.helpers import advance

I3S_BATTERY = "sensor.bmw_i3s_94_rex_battery"
I3S_STATUS = "sensor.bmw_i3s_94_rex_charging_status"
I3S_CHARGING = "binary_sensor.bmw_i3s_94_rex_charging"
IX_BATTERY = "sensor.bmw_ix_xdrive50_battery"
IX_RANGE = "sensor.bmw_ix_xdrive50_electric_range"
IX_PLUG = "binary_sensor.bmw_ix_xdrive50_charger_connected"


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the entry and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def stored_token(
    hass: HomeAssistant, url: str, expires_in: timedelta | None = None
) -> dict[str, Any]:
    """Log in to the simulator as the config flow would and return the token as it is stored."""
    client = OrangePowerClient(
        async_get_clientsession(hass), Credentials(EMAIL, PASSWORD, EMAIL), url
    )
    data = token_for_entry(await client.login())
    if expires_in is not None:
        data["expires_at"] = (dt_util.utcnow() + expires_in).isoformat()
    return data


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
async def test_stored_token_is_reused_across_restarts(
    hass: HomeAssistant,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    simulator_url: str,
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, CONF_TOKEN: await stored_token(hass, simulator_url)},
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert simulator.counts == {"token": 1, "vehicles": 2}
    assert hass.states.get(I3S_BATTERY).state == "45"


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
async def test_token_with_under_five_minutes_left_is_renewed_before_the_poll(
    hass: HomeAssistant,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    simulator_url: str,
) -> None:
    token = await stored_token(hass, simulator_url, expires_in=timedelta(minutes=4))
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, data={**mock_config_entry.data, CONF_TOKEN: token}
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert simulator.counts == {"token": 2, "vehicles": 1}
    renewed = mock_config_entry.data[CONF_TOKEN]
    assert renewed["access_token"] != token["access_token"]
    assert renewed["expires_at"] == (dt_util.utcnow() + timedelta(hours=8)).isoformat()


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
async def test_token_is_renewed_as_its_expiry_nears_without_a_refused_call(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    assert simulator.counts == {"token": 1, "vehicles": 1}
    await advance(hass, freezer, timedelta(hours=7, minutes=50))
    assert simulator.counts == {"token": 1, "vehicles": 2}
    # The i3s is full by now, so polls come at the idle interval.
    await advance(hass, freezer, timedelta(minutes=15))

    assert simulator.counts == {"token": 2, "vehicles": 3}
    assert simulator.status_counts["vehicles"] == {"200": 3}
    assert init_integration.state is ConfigEntryState.LOADED


async def test_refused_token_is_renewed_once_and_the_call_retried(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    coordinator = init_integration.runtime_data
    old_token = init_integration.data[CONF_TOKEN]["access_token"]
    simulator.expire_tokens()
    await advance(hass, freezer, timedelta(minutes=5))

    assert simulator.counts == {"token": 2, "vehicles": 3}
    assert coordinator.last_update_success
    assert init_integration.data[CONF_TOKEN]["access_token"] != old_token
    # The new token is kept without reloading the entry.
    assert init_integration.runtime_data is coordinator
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE


async def test_token_refused_again_after_renewal_is_an_error_not_a_loop(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.inject_fault("vehicles", status=401, count=2)
    await advance(hass, freezer, timedelta(minutes=5))

    assert simulator.counts == {"token": 2, "vehicles": 3}
    assert hass.states.get(I3S_BATTERY).state == STATE_UNAVAILABLE
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE


async def test_changed_password_starts_reauth(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.set_password(EMAIL, "a-new-password")
    simulator.expire_tokens()
    await advance(hass, freezer, timedelta(minutes=5))

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert hass.states.get(I3S_BATTERY).state == STATE_UNAVAILABLE


async def test_concurrent_refreshes_log_in_once(
    hass: HomeAssistant, simulator: Simulator, init_integration: MockConfigEntry
) -> None:
    coordinator = init_integration.runtime_data
    simulator.expire_tokens()
    await asyncio.gather(*(coordinator.async_refresh() for _ in range(3)))

    assert simulator.counts["token"] == 2
    assert coordinator.client.logins == 2
    assert coordinator.last_update_success


@pytest.mark.parametrize(
    ("fault", "key"),
    [
        ({"status": 500}, "server_error"),
        ({"status": 503}, "server_error"),
        ({"status": 404}, "invalid_response"),
        ({"body": "html"}, "invalid_response"),
        ({"drop": "before"}, "cannot_connect"),
    ],
)
async def test_failed_poll_makes_entities_unavailable_until_the_next_good_one(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    fault: dict[str, Any],
    key: str,
) -> None:
    coordinator = init_integration.runtime_data
    simulator.inject_fault("vehicles", **fault)
    await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    assert coordinator.last_exception.translation_key == key
    assert init_integration.state is ConfigEntryState.LOADED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_rate_limit_waits_as_long_as_the_service_asks(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.inject_fault("vehicles", status=429, retry_after="1800")
    await advance(hass, freezer, timedelta(minutes=5))
    assert simulator.counts["vehicles"] == 2
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE

    await advance(hass, freezer, timedelta(minutes=25))
    assert simulator.counts["vehicles"] == 2
    await advance(hass, freezer, timedelta(minutes=5))
    assert simulator.counts["vehicles"] == 3
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_polling_is_fast_only_while_a_car_charges(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    coordinator = init_integration.runtime_data
    assert coordinator.schedule.interval == timedelta(minutes=5)

    # Plugged in but waiting (for a cheap period, say): nothing changes by the minute.
    simulator.stop_charging(I3S_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert coordinator.schedule.interval == timedelta(minutes=15)
    calls = simulator.counts["vehicles"]
    await advance(hass, freezer, timedelta(minutes=10))
    assert simulator.counts["vehicles"] == calls

    simulator.plug(IX_VIN)
    simulator.start_charging(IX_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert simulator.counts["vehicles"] == calls + 1
    assert coordinator.schedule.interval == timedelta(minutes=5)
    assert hass.states.get(IX_PLUG).state == STATE_ON


@pytest.mark.parametrize(
    ("states", "interval"),
    [
        ({"CHARGING"}, 5),
        ({"PLUGGED_IN"}, 15),
        ({"WAITING_FOR_CHARGING"}, 15),
        ({"TARGET_REACHED"}, 15),
        ({"FULLY_CHARGED"}, 15),
        ({"NOT_CHARGING"}, 15),
        ({"CHARGING", "NOT_CHARGING"}, 5),
        ({"UNKNOWN", "PLUGGED_IN"}, 15),
    ],
)
async def test_interval_for_each_mix_of_car_states(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    states: set[str],
    interval: int,
) -> None:
    for vin, state in zip((I3S_VIN, IX_VIN), sorted(states) * 2, strict=False):
        simulator.update_car(vin, state=state)
    await advance(hass, freezer, timedelta(minutes=5))
    assert init_integration.runtime_data.schedule.interval == timedelta(minutes=interval)


async def test_charging_progress_shows_at_each_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get(I3S_BATTERY).state == "45"
    await advance(hass, freezer, timedelta(minutes=30))
    assert hass.states.get(I3S_BATTERY).state == "50"
    assert hass.states.get(I3S_CHARGING).state == STATE_ON


async def test_a_new_car_gets_its_device_and_entities_at_the_next_poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    simulator.add_car(
        EMAIL, {"vin": "WBA71AW050FN00001", "model": "i4 eDrive40", "year": 2024, "percentage": 80}
    )
    await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get("sensor.bmw_i4_edrive40_battery").state == "80"
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "WBA71AW050FN00001"), init_integration.entry_id
    )
    assert device is not None
    assert device.name == "BMW i4 eDrive40"
    assert device.model == "i4 eDrive40 (2024)"
    # Three cars, still one call per poll for the whole account.
    assert simulator.counts == {"token": 1, "vehicles": 2}


async def test_a_car_that_leaves_is_unavailable_at_once_and_loses_its_device_after_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    simulator.remove_car(I3S_VIN)
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(I3S_BATTERY).state == STATE_UNAVAILABLE

    # Still missing after three polls, but not yet an hour: the device stays.
    for _ in range(9):
        await advance(hass, freezer, timedelta(minutes=5))
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, I3S_VIN), init_integration.entry_id
    )
    # The first poll an hour after it went missing removes it.
    for _ in range(5):
        await advance(hass, freezer, timedelta(minutes=5))

    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, I3S_VIN), init_integration.entry_id)
        is None
    )
    assert entity_registry.async_get(I3S_BATTERY) is None
    assert hass.states.get(I3S_BATTERY) is None
    assert hass.states.get(IX_BATTERY).state == "64"


async def test_a_device_can_be_deleted_only_once_its_car_left(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    present = device_registry.async_get_device_by_identifier(
        (DOMAIN, IX_VIN), init_integration.entry_id
    )
    gone = device_registry.async_get_or_create(
        config_entry_id=init_integration.entry_id, identifiers={(DOMAIN, "WBASOLD0000000000")}
    )
    assert not await async_remove_config_entry_device(hass, init_integration, present)
    assert await async_remove_config_entry_device(hass, init_integration, gone)


async def test_device_of_a_car_sold_while_home_assistant_was_off_goes_after_the_grace_period(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    mock_config_entry.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={(DOMAIN, "WBASOLD0000000000")}
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    def sold() -> dr.DeviceEntry | None:
        return device_registry.async_get_device_by_identifier(
            (DOMAIN, "WBASOLD0000000000"), mock_config_entry.entry_id
        )

    assert sold() is not None
    await advance(hass, freezer, timedelta(minutes=55))
    assert sold() is not None
    await advance(hass, freezer, timedelta(minutes=5))
    assert sold() is None
    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, IX_VIN), mock_config_entry.entry_id)
        is not None
    )


async def test_unknown_charging_state_is_unknown_and_warned_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.update_car(I3S_VIN, state="SUPERCHARGING")
    with caplog.at_level(logging.WARNING):
        await advance(hass, freezer, timedelta(minutes=5))
        await advance(hass, freezer, timedelta(minutes=5))

    assert hass.states.get(I3S_STATUS).state == STATE_UNKNOWN
    assert hass.states.get(I3S_CHARGING).state == STATE_UNKNOWN
    assert hass.states.get(I3S_BATTERY).state != STATE_UNAVAILABLE
    assert sum("SUPERCHARGING" in record.getMessage() for record in caplog.records) == 1


async def test_bmw_unknown_state_is_home_assistant_unknown(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.update_car(I3S_VIN, state="UNKNOWN")
    await advance(hass, freezer, timedelta(minutes=5))
    assert hass.states.get(I3S_STATUS).state == STATE_UNKNOWN
    # Not "not charging": BMW does not know, and neither does the user.
    assert hass.states.get(I3S_CHARGING).state == STATE_UNKNOWN


async def test_null_fields_are_unknown_not_zero_or_off(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.update_car(
        IX_VIN,
        overrides={
            "charging_state": {"charge_percentage": None, "is_charger_connected": None},
            "electric_range": None,
        },
    )
    await advance(hass, freezer, timedelta(minutes=5))

    for entity_id in (IX_BATTERY, IX_RANGE, IX_PLUG):
        assert hass.states.get(entity_id).state == STATE_UNKNOWN


async def test_setup_retries_while_the_service_is_unreachable(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    simulator.inject_fault("token", status=503)
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_with_a_wrong_password_asks_for_it(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, simulator: Simulator
) -> None:
    simulator.set_password(EMAIL, "changed")
    await setup_entry(hass, mock_config_entry)

    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.fixture
def no_jitter() -> Any:
    """Take the random part out of the backoff so waits can be counted in minutes."""
    with patch("custom_components.orangepower_bmw.coordinator.random.uniform", return_value=1.0):
        yield


async def polls_within(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator, minutes: int
) -> int:
    """Move the clock on minute by minute; return how many vehicles calls were made."""
    before = simulator.counts["vehicles"]
    for _ in range(minutes):
        await advance(hass, freezer, timedelta(minutes=1))
    return simulator.counts["vehicles"] - before


async def minutes_to_next_poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: Simulator
) -> int:
    """Return after how many minutes the next vehicles call comes (two hours at most)."""
    for minute in range(1, 121):
        if await polls_within(hass, freezer, simulator, 1):
            return minute
    raise AssertionError("no poll within two hours")


@pytest.mark.usefixtures("no_jitter")
async def test_rate_limit_without_retry_after_backs_off_doubling_up_to_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.inject_fault("vehicles", status=429, count=5)
    await advance(hass, freezer, timedelta(minutes=5))  # first 429; interval was 5 minutes
    waits = [await minutes_to_next_poll(hass, freezer, simulator) for _ in range(4)]
    assert waits == [10, 20, 40, 60]

    # After the fifth 429 the wait stays at an hour; then a good poll brings back 5 minutes.
    assert await polls_within(hass, freezer, simulator, 59) == 0
    assert await polls_within(hass, freezer, simulator, 1) == 1
    assert hass.states.get(IX_BATTERY).state == "64"
    assert await polls_within(hass, freezer, simulator, 5) == 1


async def test_backoff_jitter_only_shortens_the_wait(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.inject_fault("vehicles", status=429)
    with patch(
        "custom_components.orangepower_bmw.coordinator.random.uniform", return_value=0.8
    ) as uniform:
        await advance(hass, freezer, timedelta(minutes=5))
    uniform.assert_called_once_with(0.8, 1.0)
    # 80% of the doubled 5-minute interval: the next poll comes after 8 minutes.
    assert await polls_within(hass, freezer, simulator, 7) == 0
    assert await polls_within(hass, freezer, simulator, 1) == 1


@pytest.mark.usefixtures("no_jitter")
async def test_forbidden_is_treated_as_a_quota_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
) -> None:
    simulator.inject_fault("vehicles", status=403)
    await advance(hass, freezer, timedelta(minutes=5))

    assert init_integration.runtime_data.last_exception.translation_key == "forbidden"
    assert await polls_within(hass, freezer, simulator, 9) == 0
    assert await polls_within(hass, freezer, simulator, 1) == 1
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_rate_limited_for_over_an_hour_raises_a_repair_until_recovery(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = f"rate_limited_{init_integration.entry_id}"
    simulator.inject_fault("vehicles", status=429, retry_after="1800", count=3)
    await advance(hass, freezer, timedelta(minutes=5))
    await advance(hass, freezer, timedelta(minutes=30))
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await advance(hass, freezer, timedelta(minutes=30))
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "rate_limited"
    assert issue.severity is ir.IssueSeverity.WARNING

    await advance(hass, freezer, timedelta(minutes=30))
    assert hass.states.get(IX_BATTERY).state == "64"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_retired_api_raises_a_repair_and_polls_hourly_until_it_is_back(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = f"service_gone_{init_integration.entry_id}"
    simulator.inject_fault("vehicles", status=410, count=2)
    await advance(hass, freezer, timedelta(minutes=5))

    assert issue_registry.async_get_issue(DOMAIN, issue_id).translation_key == "service_gone"
    assert hass.states.get(IX_BATTERY).state == STATE_UNAVAILABLE
    assert await polls_within(hass, freezer, simulator, 59) == 0
    assert await polls_within(hass, freezer, simulator, 1) == 1
    assert await polls_within(hass, freezer, simulator, 60) == 1

    assert hass.states.get(IX_BATTERY).state == "64"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("retry_after", ["0", "60", "Mon, 23 Nov 2026 11:00:00 GMT"])
async def test_a_short_retry_after_still_waits_the_interval(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    retry_after: str,
) -> None:
    simulator.inject_fault("vehicles", status=429, retry_after=retry_after, count=3)
    await advance(hass, freezer, timedelta(minutes=5))
    assert simulator.counts["vehicles"] == 2

    # A wait the service asks for only ever lengthens the next poll, never shortens it.
    await advance(hass, freezer, timedelta(minutes=4))
    assert simulator.counts["vehicles"] == 2
    await advance(hass, freezer, timedelta(minutes=1))
    assert simulator.counts["vehicles"] == 3
