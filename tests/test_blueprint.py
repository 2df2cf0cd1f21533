"""The "charge on cheap tariff" blueprint, imported and run in a Home Assistant test instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import logging
from pathlib import Path
import shutil
from typing import Any

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import CoreState, Event, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events, async_mock_service

BLUEPRINT = (
    Path(__file__).parent.parent
    / "blueprints/automation/orangepower_bmw/charge_on_cheap_tariff.yaml"
)
BLUEPRINT_PATH = "orangepower_bmw/charge_on_cheap_tariff.yaml"

BATTERY = "sensor.bmw_i3s_battery"
PLUG = "binary_sensor.bmw_i3s_charger_connected"
CHEAP = "binary_sensor.octopus_intelligent_dispatching"
SWITCH = "switch.wallbox"
TARGET = "number.bmw_i3s_charge_target"
REMINDER_MESSAGE = "Cheap electricity now: plug in the BMW"

TURN_ON = ("switch", "turn_on", SWITCH)
TURN_OFF = ("switch", "turn_off", SWITCH)
REMINDER = ("notify", "mobile_app_phone", REMINDER_MESSAGE)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Give each test its own config directory, with the blueprint where an import puts it."""
    folder = Path(hass_tmp_config_dir, "blueprints/automation/orangepower_bmw")
    folder.mkdir(parents=True)
    shutil.copy(BLUEPRINT, folder)
    return hass_tmp_config_dir


@pytest.fixture
def actions(hass: HomeAssistant) -> Callable[[], list[tuple[str, str, str]]]:
    """Mock the charger's switch and the phone's notify action; return a reader of every action called."""
    async_mock_service(hass, "switch", "turn_on")
    async_mock_service(hass, "switch", "turn_off")
    async_mock_service(hass, "notify", "mobile_app_phone")
    events = async_capture_events(hass, EVENT_CALL_SERVICE)
    return lambda: [_describe(event) for event in events]


@pytest.fixture(autouse=True)
def no_automation_problems(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose automation logged a warning or an error (a template or action failing)."""
    yield
    problems = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and record.name.startswith(("homeassistant.components.automation", "homeassistant.helpers"))
    ]
    assert problems == []


def _describe(event: Event[Any]) -> tuple[str, str, str]:
    """Return the action's domain and service, and its switch or message."""
    data = event.data["service_data"]
    target = data.get("entity_id", data.get("message"))
    if isinstance(target, list):
        (target,) = target
    return event.data["domain"], event.data["service"], target


def set_states(hass: HomeAssistant, **states: str) -> None:
    """Set the inputs' states: battery, plug, cheap, switch, target."""
    entities = {
        "battery": BATTERY,
        "plug": PLUG,
        "cheap": CHEAP,
        "switch": SWITCH,
        "target": TARGET,
    }
    for name, state in states.items():
        attributes = {"unit_of_measurement": "%"} if name == "battery" else {}
        hass.states.async_set(entities[name], state, attributes)


async def setup_automation(
    hass: HomeAssistant, *, reminder: bool = True, target_entity: bool = False
) -> None:
    """Create an automation from the blueprint, as the UI does after an import."""
    inputs: dict[str, Any] = {
        "battery_sensor": BATTERY,
        "charger_connected_sensor": PLUG,
        "cheap_now_sensor": CHEAP,
        "charger_switch": SWITCH,
        "target_level": 80,
    }
    if target_entity:
        inputs["charge_target_entity"] = TARGET
    if reminder:
        inputs["plug_in_reminder"] = [
            {"action": "notify.mobile_app_phone", "data": {"message": REMINDER_MESSAGE}}
        ]
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Charge BMW",
                "use_blueprint": {"path": BLUEPRINT_PATH, "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.charge_bmw")
    assert state is not None
    assert state.state == "on"


async def change(hass: HomeAssistant, **states: str) -> None:
    """Change input states and let the automation run."""
    set_states(hass, **states)
    await hass.async_block_till_done()


async def test_blueprint_offers_the_right_entities(hass: HomeAssistant) -> None:
    """The blueprint loads, suits this Home Assistant, and its pickers show the right entities."""
    assert await async_setup_component(hass, "automation", {})
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT_PATH)

    assert blueprint.validate() is None
    inputs = blueprint.inputs
    assert inputs["battery_sensor"]["selector"]["entity"]["filter"] == [
        {"integration": "orangepower_bmw", "domain": ["sensor"], "device_class": ["battery"]}
    ]
    assert inputs["charger_connected_sensor"]["selector"]["entity"]["filter"] == [
        {"integration": "orangepower_bmw", "domain": ["binary_sensor"], "device_class": ["plug"]}
    ]
    assert inputs["cheap_now_sensor"]["selector"]["entity"]["filter"] == [
        {"domain": ["binary_sensor"]}
    ]
    assert inputs["charger_switch"]["selector"]["entity"]["filter"] == [{"domain": ["switch"]}]
    target = inputs["target_level"]
    assert target["default"] == 80
    assert target["selector"]["number"]["min"] == 10
    assert target["selector"]["number"]["max"] == 100
    assert target["selector"]["number"]["unit_of_measurement"] == "%"
    assert inputs["plug_in_reminder"]["default"] == []
    charge_target = inputs["charge_target_entity"]
    assert charge_target["default"] is None
    assert charge_target["selector"]["entity"]["filter"] == [
        {"integration": "orangepower_bmw", "domain": ["number"]}
    ]


async def test_cheap_period_starts_while_plugged_in_below_target(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Charging starts once; a later trigger does not switch on a switch that is already on."""
    set_states(hass, battery="50", plug="on", cheap="off", switch="off")
    await setup_automation(hass)

    await change(hass, cheap="on")
    assert actions() == [TURN_ON]

    await change(hass, switch="on")
    await change(hass, battery="unavailable")
    await change(hass, battery="52")
    assert actions() == [TURN_ON]


async def test_battery_reaches_target(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Charging stops when the battery reaches the target, not before."""
    set_states(hass, battery="78", plug="on", cheap="on", switch="on")
    await setup_automation(hass)

    await change(hass, battery="79")
    assert actions() == []
    await change(hass, battery="80")
    assert actions() == [TURN_OFF]


@pytest.mark.parametrize(
    ("switch", "expected"), [("on", [TURN_OFF]), ("off", [])], ids=["charging", "already_off"]
)
async def test_cheap_period_ends(
    hass: HomeAssistant,
    actions: Callable[[], list[tuple[str, str, str]]],
    switch: str,
    expected: list[tuple[str, str, str]],
) -> None:
    """Charging stops when the cheap period ends; a switch already off is left alone."""
    set_states(hass, battery="60", plug="on", cheap="on", switch=switch)
    await setup_automation(hass)

    await change(hass, cheap="off")
    assert actions() == expected


async def test_unplugged(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Unplugging the car switches the charger off, even in a cheap period."""
    set_states(hass, battery="60", plug="on", cheap="on", switch="on")
    await setup_automation(hass)

    await change(hass, plug="off")
    assert actions() == [TURN_OFF]


async def test_plugged_in_during_cheap_period(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Plugging in during a cheap period starts charging."""
    set_states(hass, battery="60", plug="off", cheap="on", switch="off")
    await setup_automation(hass)

    await change(hass, plug="on")
    assert actions() == [TURN_ON]


@pytest.mark.parametrize(
    ("battery", "expected"),
    [("40", [REMINDER]), ("unknown", [REMINDER]), ("90", [])],
    ids=["below_target", "level_unknown", "above_target"],
)
async def test_cheap_period_starts_while_unplugged(
    hass: HomeAssistant,
    actions: Callable[[], list[tuple[str, str, str]]],
    battery: str,
    expected: list[tuple[str, str, str]],
) -> None:
    """Only the reminder runs, and only when the car may need charging."""
    set_states(hass, battery=battery, plug="off", cheap="off", switch="off")
    await setup_automation(hass)

    await change(hass, cheap="on")
    assert actions() == expected


async def test_no_reminder_configured(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Without a reminder, a cheap period while unplugged does nothing."""
    set_states(hass, battery="40", plug="off", cheap="off", switch="off")
    await setup_automation(hass, reminder=False)

    await change(hass, cheap="on")
    assert actions() == []
    assert hass.states.get("automation.charge_bmw").attributes["last_triggered"] is not None


async def test_above_target(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """A car already above the target is not charged in a cheap period."""
    set_states(hass, battery="85", plug="on", cheap="off", switch="off")
    await setup_automation(hass)

    await change(hass, cheap="on")
    assert actions() == []


@pytest.mark.parametrize("battery", ["unknown", "unavailable"])
async def test_battery_level_unknown(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]], battery: str
) -> None:
    """An unknown level never starts charging; charging starts once the level is known again."""
    set_states(hass, battery=battery, plug="on", cheap="off", switch="off")
    await setup_automation(hass)

    await change(hass, cheap="on")
    assert actions() == []

    await change(hass, battery="45")
    assert actions() == [TURN_ON]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({"battery": "50", "plug": "on", "cheap": "on", "switch": "off"}, [TURN_ON]),
        ({"battery": "50", "plug": "on", "cheap": "on", "switch": "on"}, []),
        ({"battery": "unknown", "plug": "on", "cheap": "on", "switch": "off"}, []),
        ({"battery": "50", "plug": "on", "cheap": "off", "switch": "on"}, []),
        ({"battery": "50", "plug": "off", "cheap": "on", "switch": "on"}, [TURN_OFF]),
        ({"battery": "85", "plug": "on", "cheap": "on", "switch": "on"}, [TURN_OFF]),
        ({"battery": "50", "plug": "on", "cheap": "unavailable", "switch": "on"}, []),
    ],
    ids=[
        "should_charge",
        "already_charging",
        "level_unknown",
        "charging_by_hand_at_peak",
        "unplugged_while_down",
        "target_reached_while_down",
        "tariff_not_loaded_yet",
    ],
)
async def test_home_assistant_start(
    hass: HomeAssistant,
    actions: Callable[[], list[tuple[str, str, str]]],
    states: dict[str, str],
    expected: list[tuple[str, str, str]],
) -> None:
    """At start the charger is brought to where it should be, from states that are known.

    A charge the user started by hand at peak rate is left alone: after a restart nothing tells it
    from one whose cheap period ended while Home Assistant was down.
    """
    hass.set_state(CoreState.not_running)
    set_states(hass, **states)
    await setup_automation(hass)
    assert actions() == []

    await hass.async_start()
    await hass.async_block_till_done()
    assert actions() == expected


@pytest.mark.parametrize(
    "comes_back",
    [{"plug": "on"}, {"battery": "52"}, {"cheap": "on"}],
    ids=["plug", "battery", "tariff"],
)
async def test_a_switch_turned_off_in_a_cheap_period_stays_off(
    hass: HomeAssistant,
    actions: Callable[[], list[tuple[str, str, str]]],
    comes_back: dict[str, str],
) -> None:
    """Reproduced: the user's switch-off was undone when a sensor came back from unavailable."""
    set_states(hass, battery="50", plug="on", cheap="off", switch="off")
    await setup_automation(hass)
    await change(hass, cheap="on")
    await change(hass, switch="on")
    assert actions() == [TURN_ON]

    await change(hass, switch="off")  # by the user
    (name,) = comes_back
    await change(hass, **{name: "unavailable"})
    await change(hass, **comes_back)
    assert actions() == [TURN_ON]


async def test_a_switch_turned_off_in_a_cheap_period_is_on_again_for_real_changes(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Plugging in again, or the next cheap period, starts charging again."""
    set_states(hass, battery="50", plug="on", cheap="on", switch="on")
    await setup_automation(hass)
    await change(hass, switch="off")  # by the user

    await change(hass, plug="off")
    await change(hass, plug="on")
    assert actions() == [TURN_ON]

    await change(hass, switch="off")  # by the user again
    await change(hass, cheap="off")
    await change(hass, cheap="on")
    assert actions() == [TURN_ON, TURN_ON]


@pytest.mark.parametrize("gone", ["unavailable", "unknown"])
async def test_a_tariff_sensor_that_becomes_unavailable_ends_the_cheap_period(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]], gone: str
) -> None:
    """Reproduced: a tariff sensor going unavailable instead of off never stopped the charge."""
    set_states(hass, battery="50", plug="on", cheap="on", switch="on")
    await setup_automation(hass)

    await change(hass, cheap=gone)
    assert actions() == [TURN_OFF]


async def test_a_cheap_period_that_ended_while_down_and_is_reported_after_the_start(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """A tariff sensor that restores "on" and then reports the end: the charge stops."""
    hass.set_state(CoreState.not_running)
    set_states(hass, battery="50", plug="on", cheap="on", switch="on")
    await setup_automation(hass)
    await hass.async_start()
    await hass.async_block_till_done()
    assert actions() == []

    await change(hass, cheap="off")
    assert actions() == [TURN_OFF]


async def test_the_charge_target_entity_overrides_the_fixed_target(
    hass: HomeAssistant, actions: Callable[[], list[tuple[str, str, str]]]
) -> None:
    """Charging stops at the car's charge target, and at once when the user lowers it below the level."""
    set_states(hass, battery="58", plug="on", cheap="on", switch="on", target="60")
    await setup_automation(hass, target_entity=True)

    await change(hass, battery="59")
    assert actions() == []
    await change(hass, battery="60")
    assert actions() == [TURN_OFF]

    await change(hass, battery="55", switch="on")
    await change(hass, target="50")
    assert actions() == [TURN_OFF, TURN_OFF]


@pytest.mark.parametrize(
    ("target", "expected"),
    [("70", [TURN_ON]), ("60", []), ("unknown", [TURN_ON]), ("unavailable", [TURN_ON])],
    ids=["below_entity_target", "above_entity_target", "entity_unknown", "entity_unavailable"],
)
async def test_the_charge_target_entity_when_a_cheap_period_starts(
    hass: HomeAssistant,
    actions: Callable[[], list[tuple[str, str, str]]],
    target: str,
    expected: list[tuple[str, str, str]],
) -> None:
    """At 65 %: the entity's target decides; without a number, the fixed 80 % does."""
    set_states(hass, battery="65", plug="on", cheap="off", switch="off", target=target)
    await setup_automation(hass, target_entity=True)

    await change(hass, cheap="on")
    assert actions() == expected
