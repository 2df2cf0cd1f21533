"""Settings of a car the estimates need: the level it charges to and its battery's capacity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntityDescription,
    NumberExtraStoredData,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .charging import CarCharging
from .coordinator import OrangePowerConfigEntry
from .entity import CarEntityDescription, CarView, OrangePowerEntity, add_entities_for_new_cars

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ChargingNumberDescription(NumberEntityDescription, CarEntityDescription):
    """A setting of a car's charging: the value in force, the user's own, and how to set it."""

    value_fn: Callable[[CarView], float | None]
    user_fn: Callable[[CarCharging], float | None]
    set_fn: Callable[[CarCharging, float], None]
    # A setting needs no update: it stays available while polls fail.
    needs_update: bool = False


NUMBERS: tuple[ChargingNumberDescription, ...] = (
    ChargingNumberDescription(
        # A battery level: the device class lets a picker (the blueprint's) offer only these.
        key="charge_target",
        translation_key="charge_target",
        device_class=NumberDeviceClass.BATTERY,
        entity_category=EntityCategory.CONFIG,
        native_min_value=20,
        native_max_value=100,
        native_step=1,
        native_unit_of_measurement=PERCENTAGE,
        mode=NumberMode.SLIDER,
        value_fn=lambda car: car.charging.charge_target,
        user_fn=lambda charging: charging.target,
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
        value_fn=lambda car: car.charging.battery_capacity(car.vehicle),
        user_fn=lambda charging: charging.capacity,
        set_fn=CarCharging.set_capacity,
    ),
)


@dataclass
class SettingData(NumberExtraStoredData):
    """A setting as Home Assistant's restore state keeps it, and whether the user set it."""

    # Release 0.1.0 kept only settings the user set (or the target's 100 %), without this.
    set_by_user: bool = True


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
    """A setting of a car, kept in the entry's store."""

    entity_description: ChargingNumberDescription

    @property
    def _charging(self) -> CarCharging:
        """Return the charging of this entity's car."""
        return self.coordinator.charging.car(self.vin)

    @override
    async def async_added_to_hass(self) -> None:
        """Take over a value an older release kept only in Home Assistant's restore state."""
        await super().async_added_to_hass()
        if self.entity_description.user_fn(self._charging) is not None:
            return
        restored = await self.async_get_last_extra_data()
        data = restored.as_dict() if restored else {}
        value = data.get("native_value")
        if isinstance(value, int | float) and data.get("set_by_user", True) is True:
            self.entity_description.set_fn(self._charging, value)
            self.coordinator.save()
            self.coordinator.async_update_listeners()

    @property
    @override
    def native_value(self) -> float | None:
        """Return the value the estimates use (none for a car no longer on the account)."""
        if self.vin not in (self.coordinator.data or {}):
            return None
        return self.entity_description.value_fn(self.car)

    @property
    @override
    def extra_restore_state_data(self) -> SettingData:
        """Keep, with the value, whether the user set it or it is the default."""
        return SettingData(
            native_max_value=self.native_max_value,
            native_min_value=self.native_min_value,
            native_step=self.native_step,
            native_unit_of_measurement=self.native_unit_of_measurement,
            native_value=self.native_value,
            set_by_user=self.entity_description.user_fn(self._charging) is not None,
        )

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Use the new value, and show the estimates (and the polls) that follow from it at once."""
        self.entity_description.set_fn(self._charging, value)
        self.coordinator.save()
        self.coordinator.async_targets_changed()
