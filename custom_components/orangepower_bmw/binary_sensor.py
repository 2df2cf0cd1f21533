"""Binary sensors of a car: charger connected, charging, charging stalled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)

# The platform package does not re-export it explicitly, which mypy --strict requires.
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import OrangePowerConfigEntry
from .entity import CarEntityDescription, CarView, OrangePowerEntity, add_entities_for_new_cars
from .models import CHARGING_STATES

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class CarBinarySensorDescription(BinarySensorEntityDescription, CarEntityDescription):
    """A binary sensor of a car: on, off, or None when the data does not say."""

    is_on_fn: Callable[[CarView], bool | None]


def _is_charging(car: CarView) -> bool | None:
    """Return whether the car charges; unknown for BMW's UNKNOWN and for a state we don't know."""
    state = car.vehicle.charging.state
    if state not in CHARGING_STATES or state == "UNKNOWN":
        return None
    return state == "CHARGING"


BINARY_SENSORS: tuple[CarBinarySensorDescription, ...] = (
    CarBinarySensorDescription(
        key="charger_connected",
        translation_key="charger_connected",
        device_class=BinarySensorDeviceClass.PLUG,
        is_on_fn=lambda car: car.vehicle.charging.charger_connected,
    ),
    CarBinarySensorDescription(
        # Named "Charging" and drawn by its device class. The Charger sensor says what a user
        # reads; this one is for EV Smart Charging and Predbat, which want on and off.
        key="charging",
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        entity_registry_enabled_default=False,
        is_on_fn=_is_charging,
    ),
    CarBinarySensorDescription(
        key="charging_stalled",
        translation_key="charging_stalled",
        device_class=BinarySensorDeviceClass.PROBLEM,
        # Unknown, not unavailable, while polls fail: no level moves then.
        needs_update=False,
        is_on_fn=lambda car: car.charging.stalled if car.fresh else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OrangePowerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors of every car, now and as cars appear."""
    coordinator = entry.runtime_data
    add_entities_for_new_cars(
        entry,
        async_add_entities,
        lambda vin: (
            CarBinarySensor(coordinator, vin, description) for description in BINARY_SENSORS
        ),
    )


class CarBinarySensor(OrangePowerEntity, BinarySensorEntity):
    """A binary sensor of a car."""

    entity_description: CarBinarySensorDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the state from the car's view."""
        return self.entity_description.is_on_fn(self.car)
