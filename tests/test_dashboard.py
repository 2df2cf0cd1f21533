"""The Cars dashboard: the README's YAML is the one scripts/develop makes, with the demo's entity ids."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from scripts.bootstrap_dev import car_section, dashboard
from tests.conftest import I3S_VIN
from tests.helpers import readme_yaml


def shown_entities(section: dict[str, Any]) -> set[str]:
    """Return every entity a dashboard section shows."""
    shown = set()
    for card in section["cards"]:
        shown.update([card["entity"]] if "entity" in card else card.get("entities", []))
    return shown


async def test_the_readme_dashboard_is_the_demo_one_and_shows_only_real_entities(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    i3s = {
        entry.unique_id.removeprefix(f"{I3S_VIN}_"): entry.entity_id
        for entry in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
        if entry.unique_id.startswith(f"{I3S_VIN}_")
    }
    (view,) = readme_yaml("Dashboard")["views"]
    (section,) = view["sections"]

    assert section == car_section("BMW i3s 94 REX", i3s)
    shown = shown_entities(section)
    assert {state.entity_id for state in map(hass.states.get, shown) if state} == shown
    # Battery and range, the graphs' entities, are measurements: the recorder keeps statistics.
    for entity_id in (i3s["battery"], i3s["electric_range"]):
        assert hass.states.get(entity_id).attributes["state_class"] == "measurement"


def test_the_dashboard_has_a_section_per_car_side_by_side() -> None:
    keys = ("battery", "charger", "electric_range", "charging_rate", "charge_end", "charge_target")
    # Two cars of one model share a name, not a section.
    cars = [
        (name, {key: f"sensor.{index}_{key}" for key in keys}) for index, name in enumerate("aab")
    ]

    (view,) = dashboard(cars)["views"]

    assert [section["cards"][0]["heading"] for section in view["sections"]] == ["a", "a", "b"]
    assert [section["cards"][1]["entity"] for section in view["sections"]] == [
        "sensor.0_battery",
        "sensor.1_battery",
        "sensor.2_battery",
    ]
    assert view["max_columns"] == 3
    # The README's view is the one the script makes.
    (readme_view,) = readme_yaml("Dashboard")["views"]
    assert {key: view[key] for key in readme_view if key != "sections"} == {
        key: value for key, value in readme_view.items() if key != "sections"
    }
