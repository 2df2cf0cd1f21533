"""Settings of a car the estimates need: the level it charges to and its battery's capacity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .charging import CarCharging
from .coordinator import OrangePowerConfigEntry
from .entity import CarEntityDescription, OrangePowerEntity, add_entities_for_new_cars

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ChargingNumberDescription(NumberEntityDescription, CarEntityDescription):
    """A setting of a car's charging: where it lives, and its value before the user sets it."""

    value_fn: Callable[[CarCharging], float | None]
    set_fn: Callable[[CarCharging, float], None]
    default: float | None = None
    # A setting needs no update: it stays available while polls fail.
    needs_update: bool = False


NUMBERS: tuple[ChargingNumberDescription, ...] = (
    ChargingNumberDescription(
        key="charge_target",
        translation_key="charge_target",
        entity_category=EntityCategory.CONFIG,
        native_min_value=20,
        native_max_value=100,
        native_step=1,
        native_unit_of_measurement=PERCENTAGE,
        mode=NumberMode.SLIDER,
        default=100,
        value_fn=lambda charging: charging.target,
        set_fn=CarCharging.set_target,
    ),
    ChargingNumberDescription(
        key="battery_capacity",
        translation_key="battery_capacity",
        entity_category=EntityCategory.CONFIG,
        device_class=NumberDeviceClass.ENERGY_STORAGE,
        native_min_value=1,
        native_max_value=250,
        native_step=0.1,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        mode=NumberMode.BOX,
        value_fn=lambda charging: charging.capacity,
        set_fn=CarCharging.set_capacity,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OrangePowerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the settings of every car, now and as cars appear."""
    coordinator = entry.runtime_data
    add_entities_for_new_cars(
        entry,
        async_add_entities,
        lambda vin: (ChargingNumber(coordinator, vin, description) for description in NUMBERS),
    )


class ChargingNumber(OrangePowerEntity, RestoreNumber):
    """A setting of a car, restored after a restart and a reload."""

    entity_description: ChargingNumberDescription

    @property
    def _charging(self) -> CarCharging:
        """Return the charging of this entity's car."""
        return self.coordinator.charging.car(self.vin)

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the user's value, or start from the default, and let the estimates use it."""
        await super().async_added_to_hass()
        restored = await self.async_get_last_number_data()
        value = restored.native_value if restored else None
        if value is None:
            value = self.entity_description.default
        if value is not None:
            self.entity_description.set_fn(self._charging, value)
            self.coordinator.async_update_listeners()

    @property
    @override
    def native_value(self) -> float | None:
        """Return the value the estimates use."""
        return self.entity_description.value_fn(self._charging)

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Use the new value, and show the estimates that follow from it at once."""
        self.entity_description.set_fn(self._charging, value)
        self.coordinator.async_update_listeners()
