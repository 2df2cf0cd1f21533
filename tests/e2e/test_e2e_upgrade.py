"""An upgrade as a user makes it, with a real Home Assistant: the previous release, then this one.

Release 0.1.0 (tests/fixtures/release_0_1_0/orangepower_bmw.zip, its integration folder without
the brand images) runs first: the account is added, its options and a charge target set, and
requests are counted. Home Assistant is stopped, the integration's folder replaced with this
working tree's, and started again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
import shutil
from typing import Any
import zipfile

import pytest

from scripts.bootstrap_dev import DOMAIN, HomeAssistantApi, prepare_config, wait_until_up
from tests.e2e.conftest import (
    OWNER_PASSWORD,
    OWNER_USERNAME,
    START_TIMEOUT,
    Stack,
    log_problems,
    running_stack,
    state_of,
    wait_for,
)
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.e2e, pytest.mark.incremental, pytest.mark.timeout(300)]

RELEASE = FIXTURES / "release_0_1_0" / "orangepower_bmw.zip"
BATTERY = "sensor.bmw_i3s_94_rex_battery"
TARGET = "number.bmw_i3s_94_rex_charge_target"
REQUESTS_TODAY = "sensor.orange_power_connect_requests_today"
OPTIONS = {
    "active_interval": 5,
    "idle_interval": 15,
    "refresh_entities": [],
    "daily_request_limit": 200,
}

# What the previous release showed, to hold the new one to.
BEFORE: dict[str, Any] = {}


def install_release(config_dir: Path) -> None:
    """Put release 0.1.0's integration folder where the working tree's symlink was."""
    folder = config_dir / "custom_components" / DOMAIN
    folder.unlink()
    with zipfile.ZipFile(RELEASE) as archive:
        archive.extractall(folder)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the simulator and a Home Assistant running release 0.1.0."""
    yield from running_stack(tmp_path_factory, install_release)


async def entities(api: HomeAssistantApi) -> dict[str, str]:
    """Return the integration's entity ids by unique id."""
    return {
        entity["unique_id"]: entity["entity_id"]
        for entity in await api.ws("config/entity_registry/list")
        if entity["platform"] == DOMAIN
    }


async def test_the_previous_release_runs_with_a_target_set_and_requests_counted(
    stack: Stack, api: HomeAssistantApi
) -> None:
    await api.onboard(OWNER_USERNAME, OWNER_PASSWORD, "Owner")
    stack.token = api.token
    entry_id = await api.add_integration(stack.simulator_url)
    flow = await api.post("/api/config/config_entries/options/flow", {"handler": entry_id})
    await api.post(f"/api/config/config_entries/options/flow/{flow['flow_id']}", OPTIONS)

    async def loaded() -> bool:
        return await state_of(api, TARGET) not in (None, "unavailable")

    await wait_for("the entry to load with its options", loaded)
    await api.post("/api/services/number/set_value", {"entity_id": TARGET, "value": 90})
    await api.post("/api/services/homeassistant/update_entity", {"entity_id": BATTERY})

    async def counted() -> str | None:
        count = await state_of(api, REQUESTS_TODAY)
        return count if count and count.isdigit() and int(count) >= 1 else None

    BEFORE["count"] = int(await wait_for("requests to be counted", counted))
    BEFORE["entities"] = await entities(api)
    BEFORE["target"] = await state_of(api, TARGET)
    assert BEFORE["target"] == "90.0"
    assert "POST /api/get-user-devices" in stack.tail("simulator.log", 400)


async def test_replacing_the_folder_with_this_release_keeps_everything(
    stack: Stack, api: HomeAssistantApi
) -> None:
    await asyncio.to_thread(stack.stop_hass)
    shutil.rmtree(stack.config_dir / "custom_components" / DOMAIN)
    prepare_config(stack.config_dir, port=stack.ha_port, copy_configuration=False)
    upgraded_from = len(stack.log_text())
    stack.start_hass()
    await wait_until_up(api.session, stack.ha_url, START_TIMEOUT, alive=stack.hass_alive)

    async def loaded() -> bool:
        entries = await api.entries()
        running = [entry["state"] for entry in entries] == ["loaded"]
        return running and await state_of(api, BATTERY) not in (None, "unavailable")

    await wait_for("the upgraded entry to load", loaded, seconds=60)
    (entry,) = await api.entries()
    flow = await api.post("/api/config/config_entries/options/flow", {"handler": entry["entry_id"]})
    options = {
        field["name"]: field["description"]["suggested_value"] for field in flow["data_schema"]
    }
    await api.request("DELETE", f"/api/config/config_entries/options/flow/{flow['flow_id']}")

    now = await entities(api)
    assert {key: now.get(key) for key in BEFORE["entities"]} == BEFORE["entities"]
    assert await state_of(api, TARGET) == BEFORE["target"]
    assert options == OPTIONS
    assert int(await state_of(api, REQUESTS_TODAY) or 0) >= BEFORE["count"]
    assert log_problems(stack.log_text()[upgraded_from:]) == []
