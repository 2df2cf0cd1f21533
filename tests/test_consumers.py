"""The words EV planners read: the charger's states against evcc's and Predbat's mappings, and the README.

A rename of a charger state, or of an entity the README points a planner at, must fail here rather
than silently stop a car from charging.
"""

from __future__ import annotations

from custom_components.orangepower_bmw.charging import Charger
from custom_components.orangepower_bmw.number import NUMBERS
from custom_components.orangepower_bmw.sensor import SENSORS
from tests.helpers import readme_yaml

CAR = "bmw_i3s_94_rex"

# evcc's Home Assistant vehicle maps a status entity's state, trimmed and lowercased, to A, B or C
# (evcc-io/evcc, util/homeassistant/connection.go, chargeStatusMap, as of its commit b29b49e3 of
# August 2026; "on", "off", "true" and the digits left the map in July 2026).
EVCC_STATUS = {
    **dict.fromkeys(["c", "charging"], "C"),
    **dict.fromkeys(
        [
            "b",
            "connected",
            "plugged",
            "starting",
            "stopped",
            "paused",
            "complete",
            "charging_completed",
        ],
        "B",
    ),
    **dict.fromkeys(["a", "disconnected", "not_plugged"], "A"),
}
# evcc's meaning of its letters.
EVCC_MEANING = {Charger.DISCONNECTED: "A", Charger.CONNECTED: "B", Charger.CHARGING: "C"}
# Predbat lowercases the car_charging_planned state and looks it up in car_charging_planned_response;
# a car counts as plugged in while it is connected or charging.
PREDBAT_PLUGGED_IN = {Charger.CONNECTED, Charger.CHARGING}


def test_evcc_reads_the_charger_state_as_its_status() -> None:
    """Each charger state is a word evcc maps to the right letter."""
    assert {charger: EVCC_STATUS[charger.value.strip().lower()] for charger in Charger} == (
        EVCC_MEANING
    )


def test_predbat_sees_a_plugged_in_car() -> None:
    """The README's response list holds exactly the states of a plugged-in car, as Predbat compares them."""
    responses = readme_yaml("Predbat")["car_charging_planned_response"]
    plugged_in = {
        charger for charger in Charger if charger.value.lower() in [str(r) for r in responses]
    }
    assert plugged_in == PREDBAT_PLUGGED_IN


def test_the_charger_sensor_offers_exactly_these_states() -> None:
    """The enum sensor's options are the words pinned above, no more."""
    (charger,) = (description for description in SENSORS if description.key == "charger")
    assert set(charger.options or ()) == {charger.value for charger in Charger}


def entity(domain: str, key: str) -> str:
    """Return the example car's entity id for a description key, checking that the key exists."""
    keys = {
        "sensor": {description.key for description in SENSORS},
        "number": {description.key for description in NUMBERS},
    }
    assert key in keys[domain], key
    return f"{domain}.{CAR}_{key}"


def test_the_readme_points_the_planners_at_these_entities() -> None:
    """evcc, Predbat and EV Smart Charging read the entities this integration creates."""
    (evcc,) = readme_yaml("evcc")["vehicles"]
    assert {name: evcc[name] for name in ("soc", "range", "status", "finishTime", "limitSoc")} == {
        "soc": entity("sensor", "battery"),
        "range": entity("sensor", "electric_range"),
        "status": entity("sensor", "charger"),
        "finishTime": entity("sensor", "charge_end"),
        "limitSoc": entity("number", "charge_target"),
    }
    assert isinstance(evcc["capacity"], float)
    # evcc's Home Assistant connection is granted in evcc's web UI; a token is ignored, with a warning.
    assert "token" not in evcc

    predbat = readme_yaml("Predbat")
    assert {
        name: predbat[name]
        for name in (
            "car_charging_soc",
            "car_charging_limit",
            "car_charging_battery_size",
            "car_charging_planned",
        )
    } == {
        # The template sensor that keeps the last known level, which the section defines.
        "car_charging_soc": [f"{entity('sensor', 'battery')}_last_known"],
        "car_charging_limit": [entity("number", "charge_target")],
        "car_charging_battery_size": [entity("number", "battery_capacity")],
        "car_charging_planned": [entity("sensor", "charger")],
    }
    assert predbat["car_charging_energy"] == [f"{entity('sensor', 'energy_charged')}_estimate"]

    (automation,) = readme_yaml("EV Smart Charging")["automation"]
    (trigger,) = automation["triggers"]
    assert trigger["entity_id"] == entity("sensor", "charging_rate")
    (action,) = automation["actions"]
    assert action["target"]["entity_id"] == "number.ev_smart_charging_charging_speed"
