"""Diagnostics: useful for a bug report, with no secret or identifier in them."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.orangepower_bmw.const import CONF_TOKEN, DOMAIN
from tests.conftest import EMAIL, I3S_VIN, IX_VIN, PASSWORD

pytestmark = pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")


def assert_secret_free(diagnostics: dict[str, Any], entry: MockConfigEntry) -> None:
    """Assert that no secret or identifier of the account appears in the diagnostics."""
    text = json.dumps(diagnostics)
    secrets = (EMAIL, EMAIL.split("@")[0], PASSWORD, entry.data[CONF_TOKEN]["access_token"])
    for secret in (*secrets, I3S_VIN, IX_VIN):
        assert secret not in text


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    assert_secret_free(diagnostics, init_integration)
    assert diagnostics == snapshot(
        exclude=props("entry_id", "created_at", "modified_at", "url", "expires_at")
    )


async def test_device_diagnostics_hold_only_that_car(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, IX_VIN), init_integration.entry_id
    )
    diagnostics = await get_diagnostics_for_device(hass, hass_client, init_integration, device)

    assert_secret_free(diagnostics, init_integration)
    assert [vehicle["model"] for vehicle in diagnostics["vehicles"]] == ["iX xDrive50"]
    assert diagnostics["polling"]["last_update_success"] is True
