"""The "charge on cheap tariff" blueprint, imported and run in a Home Assistant test instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
import logging
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.const import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Context, CoreState, Event, HomeAssistant, ServiceCall
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_mock_service,
)

from custom_components.orangepower_bmw.const import (
    CONF_ACTIVE_INTERVAL,
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
)
from simulator import Simulator
from tests.conftest import I3S_VIN

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
ENTITIES = {"battery": BATTERY, "plug": PLUG, "cheap": CHEAP, "switch": SWITCH, "target": TARGET}
# The simulator's i3s, as the integration names its entities.
I3S_BATTERY = "sensor.bmw_i3s_94_rex_battery"
I3S_PLUG = "binary_sensor.bmw_i3s_94_rex_charger_connected"
I3S_TARGET = "number.bmw_i3s_94_rex_charge_target"
REMINDER_MESSAGE = "Cheap electricity now: plug in the BMW"
PERSON = "a-person-in-home-assistant"

type Action = tuple[str, str, str]
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
def actions(hass: HomeAssistant) -> Callable[[], list[Action]]:
    """Mock the phone's notify action; return a reader of every action called."""
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


def _describe(event: Event[Any]) -> Action:
    """Return the action's domain and service, and its switch or message."""
    data = event.data["service_data"]
    target = data.get("entity_id", data.get("message"))
    if isinstance(target, list):
        (target,) = target
    return event.data["domain"], event.data["service"], target


def install_switch(hass: HomeAssistant, *, writes_state: bool) -> None:
    """Give the charger's switch its actions.

    A switch that writes its state in the action writes it with the action's context, as a local
    switch does. A cloud switch writes nothing then: its state comes later, from a poll.
    """

    async def switch(call: ServiceCall) -> None:
        if writes_state:
            state = "on" if call.service == "turn_on" else "off"
            hass.states.async_set(SWITCH, state, context=call.context)

    hass.services.async_register("switch", "turn_on", switch)
    hass.services.async_register("switch", "turn_off", switch)


def set_state(hass: HomeAssistant, name: str, value: str | tuple[str, dict[str, Any]]) -> None:
    """Set an input's state: a string, or a state and extra attributes.

    "switch" is the switch changed outside Home Assistant (its button, its app, a cloud switch's
    poll): a context of its own. "hand" is the switch changed by a person in Home Assistant: a
    context with a user.
    """
    state, extra = (value, {}) if isinstance(value, str) else value
    attributes = {"unit_of_measurement": "%"} if name == "battery" else {}
    context = Context(user_id=PERSON) if name == "hand" else None
    entity_id = SWITCH if name == "hand" else ENTITIES[name]
    hass.states.async_set(entity_id, state, {**attributes, **extra}, context=context)


def blueprint_inputs(*, reminder: bool = True, target_entity: bool = False) -> dict[str, Any]:
    """Return the inputs a household fills in: these entities, a fixed target of 80 %."""
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
    return inputs


async def setup_automation(hass: HomeAssistant, inputs: dict[str, Any]) -> None:
    """Create an automation from the blueprint, as the UI does after an import."""
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


async def test_blueprint_offers_the_right_entities(hass: HomeAssistant) -> None:
    """The blueprint loads, suits this Home Assistant, and its pickers show the right entities."""
    assert await async_setup_component(hass, "automation", {})
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT_PATH)

    assert blueprint.validate() is None
    inputs = blueprint.inputs
    mine = {"integration": "orangepower_bmw"}
    assert {
        name: value["selector"]["entity"]["filter"]
        for name, value in inputs.items()
        if "entity" in value["selector"]
    } == {
        "battery_sensor": [{**mine, "domain": ["sensor"], "device_class": ["battery"]}],
        "charger_connected_sensor": [
            {**mine, "domain": ["binary_sensor"], "device_class": ["plug"]}
        ],
        "cheap_now_sensor": [{"domain": ["binary_sensor"]}],
        "charger_switch": [{"domain": ["switch"]}],
        # The Charge target, not the Battery capacity: the only battery number.
        "charge_target_entity": [{**mine, "domain": ["number"], "device_class": ["battery"]}],
    }
    assert inputs["target_level"]["default"] == 80
    number = inputs["target_level"]["selector"]["number"]
    assert (number["min"], number["max"], number["unit_of_measurement"]) == (10, 100, "%")
    assert inputs["plug_in_reminder"]["default"] == []
    assert inputs["charge_target_entity"]["default"] is None


type Change = Mapping[str, Any]
type Step = tuple[Change, list[Action]]

# What a step's actions are called in a story, and the attributes a "+" adds to an input's state.
ACTIONS = {"on": TURN_ON, "off": TURN_OFF, "remind": REMINDER}
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "battery": {"range": 180},
    "plug": {"icon": "mdi:ev-plug-type2"},
    "target": {"min": 20},
    "cheap": {"planned_dispatches": []},
}
# The states a story begins from (see STORIES), and the words that are no input's state.
FLAGS = ("no reminder", "cloud switch")
BASES = {
    # Plugged in below the target (80 %), before a cheap period; the period's start makes the
    # blueprint switch the charger on, and the switch writes "on" with the blueprint's context.
    "READY": {"battery": "70", "plug": "on", "cheap": "off", "switch": "off"},
    # In a cheap period, plugged in below the target, the switch off.
    "CHEAP_OFF": {"battery": "70", "plug": "on", "cheap": "on", "switch": "off"},
    # Outside a cheap period, plugged in above the target: a charge to start by hand.
    "PEAK_ABOVE": {"battery": "90", "plug": "on", "cheap": "off", "switch": "off"},
}


@dataclass(frozen=True)
class Story:
    """A household's story: the states before the automation exists, then changes, each with the
    actions it leads to.

    The steps read "cheap on -> on; battery 71": each, separated by ";", changes inputs ("battery",
    "plug", "cheap", "target", "switch", "hand": see set_state; a "+" after the value changes only
    the state's attributes), moves the clock on ("wait 100s"), or starts Home Assistant ("start",
    in a story told across a restart, whose first states are the ones restored); after "->" come
    the actions it leads to ("on", "off": the switch; "remind": the reminder), none without one.
    Every change comes a second after the last.
    """

    states: dict[str, str]
    text: str
    reminder: bool = True
    cloud_switch: bool = False

    @property
    def target_entity(self) -> bool:
        """Whether the household picked a charge target entity: the story gives it a state."""
        return "target" in self.states

    @property
    def restart(self) -> bool:
        """Whether the story is told across a restart: its first step starts Home Assistant."""
        return self.text.startswith("start")

    @property
    def steps(self) -> list[Step]:
        """Return the story's steps: each change, and the actions it leads to."""
        steps: list[Step] = []
        for step in self.text.split(";"):
            changes, _, actions = step.partition("->")
            change: dict[str, Any] = {}
            for part in changes.split(","):
                name, _, value = part.strip().partition(" ")
                if name == "start":
                    change[name] = True
                elif name == "wait":
                    change[name] = timedelta(seconds=int(value.removesuffix("s")))
                elif value.endswith("+"):
                    change[name] = (value.removesuffix("+"), ATTRIBUTES[name])
                else:
                    change[name] = value
            done = [ACTIONS[action.strip()] for action in actions.split(",") if action.strip()]
            steps.append((change, done))
        return steps


def read_stories(table: str) -> dict[str, Story]:
    """Return the stories of a table: see STORIES."""
    lines = [line for line in table.strip().splitlines() if not line.startswith("#")]
    stories: dict[str, Story] = {}
    for line in "\n".join(lines).replace("\n    ", " ").splitlines():
        name, _, story = line.partition(": ")
        before, _, text = story.partition(" | ")
        base, *inputs = before.split(", ")
        states = dict(state.split(" ") for state in inputs if state not in FLAGS)
        stories[name] = Story(
            {**BASES[base], **states},
            text,
            reminder="no reminder" not in inputs,
            cloud_switch="cloud switch" in inputs,
        )
    return stories


# A story a line, "name: states before | steps" (a line that begins with spaces goes on with the
# one above). The states before are a base and the inputs in other states; "target" among them
# gives the blueprint a charge target entity, "no reminder" leaves the reminder out, and
# "cloud switch" is a switch that writes no state of its own (see install_switch).
STORIES = read_stories(
    """
# Real changes.
cheap_starts-plugged_in_below_target: READY | cheap on -> on; battery 71
cheap_starts-above_target: READY, battery 85 | cheap on
cheap_starts-unplugged_below_target: READY, plug off | cheap on -> remind
cheap_starts-unplugged_level_unknown: READY, plug off, battery unknown | cheap on -> remind
cheap_starts-unplugged_above_target: READY, plug off, battery 90 | cheap on
cheap_starts-unplugged_no_reminder: READY, plug off, no reminder | cheap on
cheap_ends-charging: READY | cheap on -> on; cheap off -> off
cheap_ends-already_off: CHEAP_OFF | cheap off
plugged_in_in_a_cheap_period: CHEAP_OFF, plug off | plug on -> on
switched_off_by_hand-on_again_when_plugged_in_again:
    READY | cheap on -> on; hand off; plug off; plug on -> on
switched_off_by_hand-on_again_in_the_next_cheap_period:
    READY | cheap on -> on; hand off; cheap off; cheap on -> on
target_entity-charging_stops_at_its_level:
    READY, battery 58, target 60 | cheap on -> on; battery 59; battery 60 -> off
target_entity-lowered_to_the_level: READY, battery 55, target 60 | cheap on -> on; target 50 -> off
target_entity-lowered_below_a_charge_by_hand_above_it: PEAK_ABOVE, target 85 | hand on; target 80
# Raised past the level in a cheap period: charging starts again, unless a person or the
# charger switched it off since the cheap period began (an automation's stop is no one's).
target_entity-raised_past_the_level_after_the_blueprint_stopped_at_it:
    READY, battery 84, target 85 | cheap on -> on; battery 85 -> off; target 90 -> on
target_entity-raised_past_the_level_after_a_switch_off_by_hand:
    CHEAP_OFF, battery 85, target 85, switch on | hand off; target 90
target_entity-raised_past_the_level_outside_a_cheap_period: READY, battery 85, target 85 | target 90
target_entity-above_the_level_when_a_cheap_period_starts:
    READY, battery 65, target 70 | cheap on -> on
target_entity-below_the_level_when_a_cheap_period_starts: READY, battery 65, target 60 | cheap on
target_entity-unknown_when_a_cheap_period_starts: READY, battery 65, target unknown | cheap on -> on
target_entity-unavailable_when_a_cheap_period_starts:
    READY, battery 65, target unavailable | cheap on -> on
# Home Assistant starts: the charger is brought to where it should be, from states that are
# known. After a restart nothing tells a charge started by hand at peak rate from one whose
# cheap period ended while Home Assistant was down: both are left alone.
start-should_charge: CHEAP_OFF, battery 50 | start -> on
start-charging_at_peak_rate: READY, battery 50, switch on | start
start-unplugged_while_down: CHEAP_OFF, plug off, switch on | start -> off
start-target_reached_while_down: CHEAP_OFF, battery 85, switch on | start -> off
start-cheap_period_ended_while_down_reported_after_the_start:
    CHEAP_OFF, battery 50, switch on | start; cheap off -> off
# The battery. A level that goes unavailable or unknown and comes back is no news: only a
# number to a number can reach the target (not before it, at it).
battery_unavailable_and_back-charging_by_the_blueprint:
    READY, battery 78 | cheap on -> on; battery unavailable; battery 79; battery 80 -> off
# A target passed while the level was unknown stops a charge the blueprint started in this
# cheap period (the switch's context has a parent and no user), never one started by hand.
# After a restart no context is left: such a charge is left to the end of the cheap period.
battery_unavailable_and_back_past_the_target-charging_by_the_blueprint:
    READY, battery 83, target 85 | cheap on -> on; battery unavailable; battery 86 -> off
battery_unknown_and_back_past_the_target-charging_by_the_blueprint:
    READY, battery 79 | cheap on -> on; battery unknown; battery 81 -> off
battery_unknown_and_back_past_the_target-charging_by_hand:
    CHEAP_OFF, battery 79 | hand on; battery unknown; battery 81
battery_unknown_at_start_and_back_past_the_target-charging:
    CHEAP_OFF, battery unknown, switch on | start; battery 81; battery 82
battery_unavailable_and_back-stopped_by_the_blueprint_at_the_target:
    READY, battery 79 | cheap on -> on; battery 80 -> off; battery unavailable; battery 79
battery_unknown_and_back-switched_off_at_the_charger:
    READY | cheap on -> on; switch off; battery unknown; battery 71
battery_unavailable_and_back-charging_by_hand_above_the_target:
    PEAK_ABOVE | hand on; battery unavailable; battery 91
battery_unknown_and_back-charging_by_hand_above_the_target:
    PEAK_ABOVE, battery 88, target 85 | hand on; battery unknown; battery 89
battery_attributes_change-charging_by_the_blueprint:
    READY, battery 79 | cheap on -> on; battery 79+; battery 80 -> off
battery_unknown_and_back-not_started_while_unknown:
    READY, battery unknown | cheap on; battery 45 -> on
battery_unavailable_and_back-switched_off_by_hand:
    READY | cheap on -> on; hand off; battery unavailable; battery 71
battery_unavailable_at_start-not_charging: CHEAP_OFF, battery unavailable | start; battery 45 -> on
# The plug. Plugged in is off to on, unplugged on to off: a sensor that was unavailable is
# no news, whatever it comes back with.
plug_unavailable_and_back_off-charging_by_the_blueprint:
    READY | cheap on -> on; plug unavailable; plug off; cheap off -> off
plug_unavailable_and_back-switched_off_by_hand:
    READY | cheap on -> on; hand off; plug unavailable; plug on
plug_unknown_and_back-charging_by_the_blueprint:
    READY | cheap on -> on; plug unknown; plug on; plug off -> off
plug_unknown_and_back-charging_by_hand: READY | hand on; plug unknown; plug on
# Known limitation: a car plugged in while the sensor was unavailable is not seen plugged in.
plug_unknown_and_back_on-stopped_by_the_blueprint_when_unplugged:
    READY | cheap on -> on; plug off -> off; plug unknown; plug on
plug_attributes_change-charging_by_the_blueprint: READY | cheap on -> on; plug on+
plug_unavailable_at_start-charging: CHEAP_OFF, plug unavailable, switch on | start; plug on
# The car's sensors not loaded yet at start: the level's return starts the charge. A run
# decides from the states at its trigger; the integration writes the plug before the level.
plug_and_battery_unavailable_at_start-not_charging:
    CHEAP_OFF, battery unavailable, plug unavailable | start; plug on, battery 50 -> on
# The charge target. A target that is unknown is never reached: the fixed target only decides
# whether to start.
target_unavailable_and_back-charging_by_the_blueprint:
    READY, battery 84, target 95 | cheap on -> on; target unavailable; target 95; battery 95 -> off
target_unknown_and_back-charging_by_the_blueprint_past_the_fixed_target:
    READY, battery 79, target 95 | cheap on -> on; target unknown; battery 81; target 95
target_unavailable_and_back-charging_by_hand_above_it:
    PEAK_ABOVE, target 85 | hand on; target unavailable; target 85
target_unavailable_and_back-stopped_by_the_blueprint_at_it:
    READY, battery 84, target 85 | cheap on -> on; battery 85 -> off; target unavailable; target 85
target_unknown_and_back-switched_off_by_hand:
    READY, target 85 | cheap on -> on; hand off; target unknown; target 85
target_unavailable_at_start-charging_above_the_fixed_target:
    CHEAP_OFF, battery 85, switch on, target unavailable | start; target 95
target_unavailable_at_start-not_charging: CHEAP_OFF, battery 50, target unavailable | start -> on
target_attributes_change-charging_by_the_blueprint:
    READY, battery 84, target 95 | cheap on -> on; target 95+
# The tariff. Unavailable or unknown ends the cheap period (no signal, no cheap period); the
# sensor's coming back on restarts the charge that this blip stopped (the blueprint's: see the
# week's stories), unless someone touched the switch in between.
tariff_unavailable_and_back-charging_by_hand:
    CHEAP_OFF | hand on; cheap unavailable -> off; cheap on -> on
tariff_unknown_and_back-switched_on_and_off_by_hand_meanwhile:
    READY | cheap on -> on; cheap unknown -> off; hand on; hand off; cheap on
tariff_unavailable_and_back-switched_off_at_the_charger:
    READY | cheap on -> on; switch off; cheap unavailable; cheap on
tariff_unavailable_and_back-stopped_by_the_blueprint_at_the_target:
    READY, battery 79 | cheap on -> on; battery 80 -> off; cheap unavailable; cheap on
# A switch that reports its state later, from a poll, with no context of the blueprint's: a
# change to off from outside Home Assistant within 2 minutes after the blip began is taken for
# the blip's stop. Before the switch reports it, the stop is still on its way: switched on again.
tariff_unavailable_and_back-cloud_switch_reports_the_stop_within_2_minutes:
    READY, cloud switch | cheap on -> on; switch on; cheap unavailable -> off; wait 100s, switch off;
    cheap on -> on
tariff_unavailable_and_back-cloud_switch_reports_the_stop_after_2_minutes:
    READY, cloud switch | cheap on -> on; switch on; cheap unavailable -> off; wait 120s, switch off;
    cheap on
tariff_unavailable_and_back-cloud_switch_before_it_reports_the_stop:
    READY, cloud switch | cheap on -> on; switch on; cheap unavailable -> off; cheap on -> on
# Known limitations: the sensor's state before the blip is not known, so a cheap period that
# begins while the sensor is unavailable does not start charging; nor does a blip through both
# unavailable and unknown restart the charge (the sensor's return no longer names the blip).
tariff_off_unavailable_on-a_cheap_period_begun_unseen: READY | cheap unavailable; cheap on
tariff_unavailable_then_unknown_and_back-charging_by_the_blueprint:
    READY | cheap on -> on; cheap unavailable -> off; cheap unknown; cheap on
tariff_attributes_change-charging_by_the_blueprint: READY | cheap on -> on; cheap on+
tariff_unavailable_at_start-charging:
    CHEAP_OFF, battery 50, cheap unavailable, switch on | start; cheap on
# Not known at start: its coming back on is a blip's end, and nothing stopped a charge.
tariff_unknown_at_start-not_charging: CHEAP_OFF, cheap unknown | start; cheap on
# A household's week.
week-a_flapping_tariff_sensor:
    READY | cheap on -> on; cheap unavailable -> off; cheap on -> on; cheap unknown -> off;
    cheap on -> on; battery 71; cheap unavailable -> off; battery unavailable; cheap on;
    battery 72 -> on; cheap off -> off; cheap unavailable; cheap off; cheap on -> on
week-a_reload_mid_charge_past_the_target:
    READY, battery 84, target 85 | cheap on -> on;
    plug unavailable, target unavailable, battery unavailable; plug on, target 85, battery 86 -> off
week-switched_off_by_hand_then_blips_then_the_next_cheap_period:
    READY | cheap on -> on; hand off; battery unavailable; battery 70; plug unknown; plug on;
    cheap unavailable; cheap on; cheap off; cheap on -> on
week-a_restart_mid_charge_then_a_blip:
    CHEAP_OFF, battery 75, switch on | start; cheap unavailable -> off; cheap on -> on; battery 79;
    battery 80 -> off
week-the_target_lowered_and_raised:
    READY, battery 84, target 90 | cheap on -> on; target 80 -> off; target 90 -> on;
    target 84 -> off; target 85 -> on; battery 85 -> off
week-a_blip_while_the_level_is_unknown:
    READY | cheap on -> on; battery unknown; cheap unavailable -> off; cheap on; battery 72 -> on
week-the_target_passed_during_a_blip:
    READY, battery 79 | cheap on -> on; cheap unavailable -> off; battery 80; cheap on
week-the_target_passed_while_unknown_after_a_blip:
    READY, battery 79 | cheap on -> on; cheap unknown -> off; cheap on -> on; battery unavailable;
    battery 81 -> off
# Known limitations. A blip's end restarts a charge only below the target, so one started by
# hand above it stays off. A switch that reports later leaves no context: a target passed while
# the level was unknown does not stop its charge, and raising the target after a stop at it
# does not start one.
# The cheap period's start is the tariff sensor's last change, and a blip moves it: a switch
# turned off by hand before a blip counts as untouched when the level comes back afterwards.
week-switched_off_by_hand_then_a_blip_then_a_failed_update:
    READY | cheap on -> on; hand off; cheap unavailable; cheap on; battery unavailable;
    battery 70 -> on
week-charging_by_hand_above_the_target_then_a_blip:
    READY, battery 79 | cheap on -> on; battery 80 -> off; hand on; battery 81;
    cheap unavailable -> off; cheap on
week-cloud_switch-the_target_passed_while_unknown:
    READY, battery 79, cloud switch | cheap on -> on; switch on; battery unknown; battery 81
week-cloud_switch-the_target_raised_after_a_stop_at_it:
    READY, battery 84, target 85, cloud switch | cheap on -> on; switch on; battery 85 -> off;
    switch off; target 90
"""
)


@pytest.mark.parametrize("story", STORIES.values(), ids=STORIES.keys())
async def test_household(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    actions: Callable[[], list[Action]],
    story: Story,
) -> None:
    """Each change leads to the actions the story expects, and to no other."""
    install_switch(hass, writes_state=not story.cloud_switch)
    if story.restart:
        hass.set_state(CoreState.not_running)
    for name, state in story.states.items():
        set_state(hass, name, state)
    await setup_automation(
        hass, blueprint_inputs(reminder=story.reminder, target_entity=story.target_entity)
    )
    assert actions() == []

    expected: list[Action] = []
    for number, (change, new_actions) in enumerate(story.steps):
        freezer.tick(timedelta(seconds=1))
        for name, value in change.items():
            if name == "start":
                await hass.async_start()
            elif name == "wait":
                freezer.tick(value)
            else:
                set_state(hass, name, value)
        await hass.async_block_till_done()
        expected += new_actions
        assert actions() == expected, f"after step {number}: {change}"


async def test_a_reload_of_the_integration_mid_charge(
    hass: HomeAssistant,
    actions: Callable[[], list[Action]],
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Reproduced: saving the integration's options reloaded it, and the charge stopped at 85 %.

    The real integration against the simulator's i3s, charging at 85 % to a target of 95 %. The
    reload takes the car's entities through unavailable, the target before the level; the fixed
    80 % stood in for the target while the level was still 85 %.
    """
    simulator.update_car(I3S_VIN, percentage=85)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        "number", "set_value", {"entity_id": I3S_TARGET, "value": 95}, blocking=True
    )
    install_switch(hass, writes_state=True)
    set_state(hass, "cheap", "off")
    set_state(hass, "switch", "off")
    await hass.async_block_till_done()
    assert hass.states.get(I3S_BATTERY).state == "85"
    assert float(hass.states.get(I3S_TARGET).state) == 95
    assert hass.states.get(I3S_PLUG).state == "on"
    await setup_automation(
        hass,
        {
            **blueprint_inputs(),
            "battery_sensor": I3S_BATTERY,
            "charger_connected_sensor": I3S_PLUG,
            "charge_target_entity": I3S_TARGET,
        },
    )
    set_state(hass, "cheap", "on")
    await hass.async_block_till_done()
    assert actions()[-1] == TURN_ON
    assert hass.states.get(SWITCH).state == "on"

    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_ACTIVE_INTERVAL: 5, CONF_IDLE_INTERVAL: 15, CONF_DAILY_REQUEST_LIMIT: 0},
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    went = [(e.data["entity_id"], e.data["new_state"].state) for e in changes]
    assert went.index((I3S_TARGET, STATE_UNAVAILABLE)) < went.index(
        (I3S_BATTERY, STATE_UNAVAILABLE)
    )
    assert hass.states.get(I3S_BATTERY).state == "85"
    assert float(hass.states.get(I3S_TARGET).state) == 95
    assert TURN_OFF not in actions()
    assert hass.states.get(SWITCH).state == "on"
