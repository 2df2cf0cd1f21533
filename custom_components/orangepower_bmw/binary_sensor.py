"""Binary sensors of a car: charger connected, charging."""

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

from .api import CHARGING_STATES, Vehicle
from .charging import CarCharging
from .coordinator import OrangePowerConfigEntry
from .entity import OrangePowerEntity, add_entities_for_new_cars

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class VehicleBinarySensorDescription(BinarySensorEntityDescription):
    """A car binary sensor: on, off, or None when the service did not say."""

    is_on_fn: Callable[[Vehicle], bool | None]


def _is_charging(vehicle: Vehicle) -> bool | None:
    """Return whether the car charges; unknown for BMW's UNKNOWN and for a state we don't know."""
    state = vehicle.charging.state
    if state not in CHARGING_STATES or state == "UNKNOWN":
        return None
    return state == "CHARGING"


BINARY_SENSORS: tuple[VehicleBinarySensorDescription, ...] = (
    VehicleBinarySensorDescription(
        key="charger_connected",
        translation_key="charger_connected",
        device_class=BinarySensorDeviceClass.PLUG,
        is_on_fn=lambda vehicle: vehicle.charging.charger_connected,
    ),
    VehicleBinarySensorDescription(
        # Named "Charging" and drawn by its device class.
        key="charging",
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        is_on_fn=_is_charging,
    ),
)


@dataclass(frozen=True, kw_only=True)
class ChargingBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor of a car's charging, from what its polls showed."""

    is_on_fn: Callable[[CarCharging], bool]


CHARGING_BINARY_SENSORS: tuple[ChargingBinarySensorDescription, ...] = (
    ChargingBinarySensorDescription(
        key="charging_stalled",
        translation_key="charging_stalled",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda charging: charging.stalled,
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
            *(VehicleBinarySensor(coordinator, vin, description) for description in BINARY_SENSORS),
            *(
                ChargingBinarySensor(coordinator, vin, description)
                for description in CHARGING_BINARY_SENSORS
            ),
        ),
    )


class VehicleBinarySensor(OrangePowerEntity, BinarySensorEntity):
    """A binary sensor of a car."""

    entity_description: VehicleBinarySensorDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the state from the latest poll."""
        return self.entity_description.is_on_fn(self.vehicle)


class ChargingBinarySensor(OrangePowerEntity, BinarySensorEntity):
    """A binary sensor of a car's charging: unknown, not unavailable, while polls fail."""

    entity_description: ChargingBinarySensorDescription

    @property
    @override
    def available(self) -> bool:
        """Return whether the car is on the account."""
        return self.vin in self.coordinator.data

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the state from the latest poll; unknown while polls fail, as no level moves then."""
        if not self.coordinator.last_update_success:
            return None
        return self.entity_description.is_on_fn(self.coordinator.charging.car(self.vin))
