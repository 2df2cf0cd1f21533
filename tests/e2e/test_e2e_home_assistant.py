"""A real Home Assistant with the integration, driven over its HTTP and websocket APIs.

The steps build on each other, as a user's day would: onboard, add the account (a wrong password
first), read the cars, tune polling, watch the cars change, restart, and survive an expired token and
a changed password. Polls are asked for with homeassistant.update_entity instead of waited for.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scripts.bootstrap_dev import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DOMAIN,
    HomeAssistantApi,
    wait_until_up,
)
from tests.e2e.conftest import (
    OWNER_PASSWORD,
    OWNER_USERNAME,
    Simulator,
    Stack,
    log_problems,
    state_of,
    unpinned_requirements,
    use_energy_charged,
    wait_for,
    wait_for_states,
)

pytestmark = [pytest.mark.e2e, pytest.mark.incremental, pytest.mark.timeout(300)]

I3S = "bmw_i3s_94_rex"
I3S_BATTERY = f"sensor.{I3S}_battery"
I3S_VIN = "WBY7Z8C5XJV123456"
IX = "bmw_ix_xdrive50"
IX_BATTERY = f"sensor.{IX}_battery"
IX_VIN = "WBY21CF0XPC654321"
NEW_CAR = {
    "vin": "WBA21AW0X0FS12345",
    "model": "i4 eDrive40",
    "year": 2024,
    "units": "KILOMETERS",
    "percentage": 80,
    "km_per_percent": 5.0,
}
NEW_CAR_BATTERY = "sensor.bmw_i4_edrive40_battery"
NEW_PASSWORD = "a-new-password"
# Logged once by the password change step, when the stored password stops working.
EXPECTED_ERROR = "Authentication failed while fetching orangepower_bmw data"


async def states(api: HomeAssistantApi) -> dict[str, dict[str, Any]]:
    """Return the states of the cars' entities."""
    return {
        entity_id: state
        for entity_id, state in (await api.states()).items()
        if entity_id.split(".", 1)[1].startswith("bmw_")
    }


def poll_now(api: HomeAssistantApi, entity_id: str = I3S_BATTERY) -> Any:
    """Return a nudge that asks the coordinator for a poll through one of its entities."""

    async def nudge() -> None:
        await api.post("/api/services/homeassistant/update_entity", {"entity_id": entity_id})

    return nudge


async def devices(api: HomeAssistantApi, entry_id: str) -> dict[str, dict[str, Any]]:
    """Return the entry's devices in the device registry, keyed by VIN."""
    return {
        value: device
        for device in await api.ws("config/device_registry/list")
        if entry_id in device["config_entries"]
        for domain, value in device["identifiers"]
        if domain == DOMAIN
    }


async def reauth_flows(api: HomeAssistantApi) -> list[dict[str, Any]]:
    """Return the re-authentication flows waiting for the user."""
    return [
        flow
        for flow in await api.ws("config_entries/flow/progress")
        if flow["handler"] == DOMAIN and flow["context"]["source"] == "reauth"
    ]


async def test_onboarding_creates_the_owner_account(stack: Stack, api: HomeAssistantApi) -> None:
    steps = await api.onboarding_steps()
    # configuration.yaml sets the location and units, so that step is done before the first start.
    assert steps == {"user": False, "core_config": True, "analytics": False, "integration": False}

    await api.onboard(OWNER_USERNAME, OWNER_PASSWORD, "Owner")

    assert all((await api.onboarding_steps()).values())
    assert (await api.get("/api/"))["message"] == "API running."
    stack.token = api.token


async def test_config_flow_refuses_a_wrong_password_then_adds_the_cars(
    stack: Stack, api: HomeAssistantApi
) -> None:
    flow = await api.start_flow()
    assert flow["type"] == "form"
    assert flow["step_id"] == "user"
    assert [field["name"] for field in flow["data_schema"]] == [
        "email",
        "password",
        "account_email",
        "url",
    ]

    form = {"email": DEMO_EMAIL, "password": "not-the-password", "url": stack.simulator_url}
    refused = await api.submit_flow(flow["flow_id"], form)
    assert refused["type"] == "form"
    assert refused["errors"] == {"base": "invalid_auth"}

    created = await api.submit_flow(flow["flow_id"], {**form, "password": DEMO_PASSWORD})
    assert created["type"] == "create_entry", created
    stack.entry_id = created["result"]["entry_id"]
    entries = await api.entries()
    assert [(entry["entry_id"], entry["state"]) for entry in entries] == [
        (stack.entry_id, "loaded")
    ]
    assert DEMO_PASSWORD not in str(entries)


async def test_the_state_machine_has_both_cars_with_units_and_device_classes(
    api: HomeAssistantApi,
) -> None:
    cars = await states(api)

    i3s_battery = cars[I3S_BATTERY]
    assert i3s_battery["state"] == "45"
    assert i3s_battery["attributes"] == {
        "device_class": "battery",
        "friendly_name": "BMW i3s 94 REX Battery",
        "state_class": "measurement",
        "unit_of_measurement": "%",
    }
    assert cars[f"sensor.{I3S}_electric_range"]["attributes"]["unit_of_measurement"] == "km"
    assert cars[f"sensor.{I3S}_electric_range"]["attributes"]["device_class"] == "distance"
    assert cars[f"binary_sensor.{I3S}_charger_connected"]["attributes"]["device_class"] == "plug"
    assert cars[f"binary_sensor.{I3S}_charger_connected"]["state"] == "on"

    # The iX reports miles; a metric Home Assistant shows kilometres.
    assert cars[IX_BATTERY]["state"] == "64"
    ix_range = cars[f"sensor.{IX}_electric_range"]
    assert ix_range["attributes"]["unit_of_measurement"] == "km"
    assert float(ix_range["state"]) > 300
    assert cars[f"binary_sensor.{IX}_charger_connected"]["state"] == "off"

    # Charging insight: the planners' words, the user's settings, no estimate before the levels allow.
    assert cars[f"sensor.{I3S}_charger"]["state"] == "charging"
    assert cars[f"sensor.{IX}_charger"]["state"] == "disconnected"
    assert cars[f"number.{I3S}_charge_target"]["state"] == "100"
    assert cars[f"number.{I3S}_battery_capacity"]["state"] == "27.2"  # the model's
    assert cars[f"sensor.{I3S}_charge_end"]["state"] == "unknown"
    assert cars[f"binary_sensor.{I3S}_charging_stalled"]["state"] == "off"

    # Disabled by default, no state: charging type, last update and battery last changed
    # (diagnostic), and charging and charging status, which the Charger sensor says in a user's
    # words.
    for key in ("charging_type", "last_update", "battery_last_changed", "charging_status"):
        assert f"sensor.{I3S}_{key}" not in cars
    assert f"binary_sensor.{I3S}_charging" not in cars
    assert len(cars) == 24


async def test_options_flow_shortens_the_polling_intervals(
    stack: Stack, api: HomeAssistantApi
) -> None:
    flow = await api.post("/api/config/config_entries/options/flow", {"handler": stack.entry_id})
    assert flow["step_id"] == "init"
    suggested = {
        field["name"]: field["description"]["suggested_value"] for field in flow["data_schema"]
    }
    assert suggested == {
        "active_interval": 5,
        "idle_interval": 15,
        "refresh_entities": [],
        "daily_request_limit": 0,
    }

    done = await api.post(
        f"/api/config/config_entries/options/flow/{flow['flow_id']}",
        {"active_interval": 1, "idle_interval": 5},
    )

    assert done["type"] == "create_entry"

    async def reloaded() -> bool:
        loaded = (await api.entries())[0]["state"] == "loaded"
        return loaded and await state_of(api, I3S_BATTERY) not in (None, "unavailable")

    await wait_for("the entry to reload with the new options", reloaded)


async def test_states_follow_plugging_in_charging_and_unplugging(
    api: HomeAssistantApi, simulator: Simulator
) -> None:
    for action, connected, charger in (
        ("plug", "on", "connected"),
        ("start_charging", "on", "charging"),
        ("unplug", "off", "disconnected"),
    ):
        await simulator.call("POST", f"cars/{IX_VIN}/{action}")
        await wait_for_states(
            api,
            f"the iX to show {charger}",
            {f"binary_sensor.{IX}_charger_connected": connected, f"sensor.{IX}_charger": charger},
            nudge=poll_now(api),
        )


async def test_the_recorder_keeps_the_cars_history_and_statistics(api: HomeAssistantApi) -> None:
    plug = f"binary_sensor.{IX}_charger_connected"
    batteries = [I3S_BATTERY, IX_BATTERY]

    async def history() -> dict[str, list[str]]:
        found: list[list[dict[str, Any]]] = await api.get(
            "/api/history/period?minimal_response&no_attributes"
            f"&filter_entity_id={','.join([plug, *batteries])}"
        )
        return {states[0]["entity_id"]: [state["state"] for state in states] for states in found}

    async def recorded() -> dict[str, list[str]] | None:
        found, now = await history(), await states(api)
        # The iX's plug-in and unplug of the step before, and each battery as the car shows it now.
        plugged = found.get(plug, [])[-3:] == ["off", "on", "off"]
        current = all(found.get(key, [None])[-1] == now[key]["state"] for key in batteries)
        return found if plugged and current else None

    # The recorder commits every few seconds.
    shown = await wait_for("the history of the iX's plug and both batteries", recorded)
    assert shown[IX_BATTERY][-1] == "64"

    statistics = {
        item["statistic_id"]: item
        for item in await api.ws("recorder/list_statistic_ids", statistic_type="mean")
    }
    for car in (I3S, IX):
        for entity_id, unit in (
            (f"sensor.{car}_battery", "%"),
            (f"sensor.{car}_electric_range", "km"),
        ):
            assert statistics[entity_id]["has_mean"], entity_id
            assert statistics[entity_id]["statistics_unit_of_measurement"] == unit


async def test_devices_follow_cars_joining_and_leaving_the_account(
    stack: Stack, api: HomeAssistantApi, simulator: Simulator
) -> None:
    assert stack.entry_id is not None
    # The cars' devices, and the account's own (its identifier is the entry's id).
    assert set(await devices(api, stack.entry_id)) == {I3S_VIN, IX_VIN, stack.entry_id}

    await simulator.call("POST", f"accounts/{DEMO_EMAIL}/cars", NEW_CAR)

    await wait_for_states(
        api, "the new car's battery", {NEW_CAR_BATTERY: "80"}, nudge=poll_now(api)
    )
    new_device = (await devices(api, stack.entry_id))[NEW_CAR["vin"]]
    assert new_device["name"] == "BMW i4 eDrive40"
    assert new_device["model"] == "i4 eDrive40 (2024)"
    assert new_device["serial_number"] == NEW_CAR["vin"]

    await simulator.call("DELETE", f"cars/{NEW_CAR['vin']}")

    # A car missing from a poll keeps its device for an hour: one glitch must not remove it.
    await wait_for_states(
        api,
        "the removed car to be unavailable",
        {NEW_CAR_BATTERY: "unavailable"},
        nudge=poll_now(api),
    )
    assert NEW_CAR["vin"] in await devices(api, stack.entry_id)

    # The user may delete it at once from the device page, as the frontend does.
    await api.ws(
        "config/device_registry/remove_config_entry",
        device_id=new_device["id"],
        config_entry_id=stack.entry_id,
    )
    assert set(await devices(api, stack.entry_id)) == {I3S_VIN, IX_VIN, stack.entry_id}
    assert await state_of(api, NEW_CAR_BATTERY) is None


async def test_a_restart_reuses_the_stored_token(
    stack: Stack, api: HomeAssistantApi, simulator: Simulator
) -> None:
    before = await simulator.counters()

    await asyncio.to_thread(stack.stop_hass)
    stack.start_hass()

    await wait_until_up(api.session, api.url, 90, alive=stack.hass_alive)

    await wait_for_states(
        api, "the cars' states after the restart", {I3S_BATTERY: "45", IX_BATTERY: "64"}
    )
    after = await simulator.counters()
    assert after["token"] == before["token"], "the restart logged in again"
    assert after["vehicles"] > before["vehicles"]


async def test_an_expired_token_costs_exactly_one_login_and_no_reauth(
    api: HomeAssistantApi, simulator: Simulator
) -> None:
    await simulator.call("POST", "tokens/expire")
    before = await simulator.counters()

    async def polled_again() -> bool:
        counters = await simulator.counters()
        return counters["vehicles"] >= before["vehicles"] + 2

    await wait_for("a poll with the expired token", polled_again, nudge=poll_now(api))
    await wait_for_states(api, "the cars to stay available", {I3S_BATTERY: "45"})
    after = await simulator.counters()
    assert after["token"] == before["token"] + 1
    assert await reauth_flows(api) == []


async def test_a_changed_password_asks_the_user_to_sign_in_again(
    stack: Stack, api: HomeAssistantApi, simulator: Simulator
) -> None:
    await simulator.call("POST", f"accounts/{DEMO_EMAIL}/password", {"password": NEW_PASSWORD})
    await simulator.call("POST", "tokens/expire")

    flows = await wait_for(
        "a re-authentication flow", lambda: reauth_flows(api), nudge=poll_now(api)
    )
    assert len(flows) == 1
    await wait_for_states(api, "the cars to become unavailable", {I3S_BATTERY: "unavailable"})

    flow_id = flows[0]["flow_id"]
    form = await api.get(f"/api/config/config_entries/flow/{flow_id}")
    assert form["step_id"] == "reauth_confirm"
    assert form["description_placeholders"]["email"] == DEMO_EMAIL
    refused = await api.submit_flow(flow_id, {"password": DEMO_PASSWORD})
    assert refused["errors"] == {"base": "invalid_auth"}
    done = await api.submit_flow(flow_id, {"password": NEW_PASSWORD})
    assert (done["type"], done["reason"]) == ("abort", "reauth_successful")

    await wait_for_states(api, "the cars to recover", {I3S_BATTERY: "45"})
    assert await reauth_flows(api) == []
    assert NEW_PASSWORD not in stack.log_text()


def test_the_log_has_no_errors_but_the_expected_one_and_no_warnings_about_the_integration(
    stack: Stack,
) -> None:
    problems = log_problems(stack.log_text())
    assert [line for line in problems if " WARNING " in line or EXPECTED_ERROR not in line] == []


def test_home_assistant_installed_no_package(stack: Stack) -> None:
    # requirements_test.txt has every package the integrations Home Assistant loads need. The
    # browser tests' pages load no other integration, so this Home Assistant's check is enough.
    assert "Attempting install" not in stack.log_text()


async def test_requirements_pin_what_the_loaded_integrations_need(
    owner_api: HomeAssistantApi,
) -> None:
    # Whatever this machine's .venv has: a fresh one installs only what requirements_test.txt pins.
    components = await owner_api.get("/api/components")
    assert {"recorder", "conversation"} <= set(components)
    assert unpinned_requirements(components) == []


async def test_energy_charged_passes_home_assistants_energy_validation(
    api: HomeAssistantApi,
) -> None:
    energy = f"sensor.{I3S}_energy_charged_estimate"
    assert await state_of(api, energy) not in (None, "unknown", "unavailable")
    await use_energy_charged(api, I3S, [])

    async def validated() -> Any:
        found = await api.ws("energy/validate")
        return found if found["device_consumption"] == [[]] else None

    await wait_for("the energy validation to report nothing", validated)
