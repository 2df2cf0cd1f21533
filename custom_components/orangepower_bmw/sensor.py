"""Sensors of a car (battery, range, charging, estimates) and of the account (requests, next update)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfEnergy,
    UnitOfLength,
    UnitOfPower,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .charging import Charger, charger_state
from .const import DOMAIN
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator
from .entity import CarEntityDescription, CarView, OrangePowerEntity, add_entities_for_new_cars
from .models import CHARGING_STATES, CHARGING_TYPES, Vehicle

PARALLEL_UPDATES = 0

# Kilometres per unit the service reports a range in.
KM_PER_RANGE_UNIT = {"KILOMETERS": 1.0, "MILES": 1.609344}
# A time shown is written again this long after it passed, so that it is past by then.
EXPIRY_MARGIN = timedelta(seconds=1)
# BMW's own "UNKNOWN" is Home Assistant's unknown state, not an option of its own.
STATUS_OPTIONS = CHARGING_STATES - {"UNKNOWN"}


class Waiting(StrEnum):
    """What an unknown estimate waits for: its `waiting_for` attribute, so that Unknown says why."""

    CHARGE = "charge"
    LEVEL_CHANGES = "level_changes"
    BATTERY_CAPACITY = "battery_capacity"


WAITING: dict[Waiting, Callable[[CarView], bool]] = {
    Waiting.CHARGE: lambda car: car.charging.session is None,
    Waiting.LEVEL_CHANGES: lambda car: car.charging.rate is None,
    Waiting.BATTERY_CAPACITY: lambda car: car.charging.battery_capacity(car.vehicle) is None,
}


@dataclass(frozen=True, kw_only=True)
class CarSensorDescription(SensorEntityDescription, CarEntityDescription):
    """A sensor of a car: its value from the car's view."""

    value_fn: Callable[[CarView], StateType | datetime]
    # A time that is unknown once it has passed without a poll saying what happened.
    expires: bool = False
    # What the value, while unknown, may wait for, the first that holds shown.
    waits_for: tuple[Waiting, ...] = ()


def _known(value: str | None, known: frozenset[str]) -> str | None:
    """Return the value lowercased when it is one of the known ones; unknown otherwise."""
    return value.lower() if value in known else None


def range_km(vehicle: Vehicle) -> float | None:
    """Return the range in km, whatever unit the car reports it in; unknown for a unit we don't know.

    One native unit keeps the entity's meaning when the car's unit setting changes; Home Assistant
    converts it to the user's unit system for display.
    """
    factor = KM_PER_RANGE_UNIT.get(vehicle.electric_range_unit or "")
    if factor is None or vehicle.electric_range is None:
        return None
    return vehicle.electric_range * factor


def _rate(car: CarView) -> float | None:
    """Return the charging rate in % per hour to one decimal, when known."""
    rate = car.charging.rate
    return round(rate, 1) if rate is not None else None


SENSORS: tuple[CarSensorDescription, ...] = (
    CarSensorDescription(
        # Named "Battery" and drawn by its device class, its icon following the level.
        key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda car: car.vehicle.charging.percentage,
    ),
    CarSensorDescription(
        key="electric_range",
        translation_key="electric_range",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda car: range_km(car.vehicle),
    ),
    CarSensorDescription(
        # BMW's own words; the Charger sensor says what a user reads, so this is off by default.
        key="charging_status",
        translation_key="charging_status",
        device_class=SensorDeviceClass.ENUM,
        entity_registry_enabled_default=False,
        options=sorted(state.lower() for state in STATUS_OPTIONS),
        value_fn=lambda car: _known(car.vehicle.charging.state, STATUS_OPTIONS),
    ),
    CarSensorDescription(
        key="charging_type",
        translation_key="charging_type",
        device_class=SensorDeviceClass.ENUM,
        options=sorted(kind.lower() for kind in CHARGING_TYPES),
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda car: _known(car.vehicle.charging.type, CHARGING_TYPES),
    ),
    CarSensorDescription(
        key="last_update",
        translation_key="last_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda car: car.polled_at,
    ),
    CarSensorDescription(
        key="charging_rate",
        translation_key="charging_rate",
        native_unit_of_measurement=f"{PERCENTAGE}/h",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_rate,
        waits_for=(Waiting.CHARGE, Waiting.LEVEL_CHANGES),
    ),
    CarSensorDescription(
        key="charge_end",
        translation_key="charge_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda car: car.charging.end,
        # Past its end and not yet seen at the target: no estimate until the next poll.
        expires=True,
        waits_for=(Waiting.CHARGE, Waiting.LEVEL_CHANGES),
    ),
    CarSensorDescription(
        key="energy_to_target",
        translation_key="energy_to_target",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda car: car.charging.energy_to_target(car.vehicle),
    ),
    CarSensorDescription(
        # An estimate of what went into the battery (the level's rises times the capacity), not
        # a meter at the wallbox: charging losses are not in it.
        key="energy_charged",
        translation_key="energy_charged",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        # A total known up to the last poll is still right while polls fail: no gap in the
        # Energy dashboard's statistics.
        needs_update=False,
        value_fn=lambda car: car.charging.energy_charged(car.vehicle),
    ),
    CarSensorDescription(
        key="charging_power",
        translation_key="charging_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda car: car.charging.power(car.vehicle),
        waits_for=(Waiting.BATTERY_CAPACITY, Waiting.LEVEL_CHANGES),
    ),
    CarSensorDescription(
        key="charger",
        translation_key="charger",
        device_class=SensorDeviceClass.ENUM,
        options=[charger.value for charger in Charger],
        value_fn=lambda car: charger_state(car.vehicle),
    ),
    CarSensorDescription(
        key="battery_last_changed",
        translation_key="battery_last_changed",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A time that moves with every percent would fill the Activity log while a car charges.
        entity_registry_enabled_default=False,
        # Only while the level is known: it says since when the level shown has been shown.
        value_fn=lambda car: (
            car.charging.level_since if car.vehicle.charging.percentage is not None else None
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class AccountSensorDescription(SensorEntityDescription):
    """A sensor of the account's use of the service: its value and attributes from the coordinator."""

    value_fn: Callable[[OrangePowerCoordinator], StateType | datetime]
    attributes_fn: Callable[[OrangePowerCoordinator], dict[str, Any]] = lambda _: {}


ACCOUNT_SENSORS: tuple[AccountSensorDescription, ...] = (
    AccountSensorDescription(
        key="requests_today",
        translation_key="requests_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.budget.count,
        # The limit, when one is set: no "Daily limit: unknown" without one.
        attributes_fn=lambda coordinator: (
            {"daily_limit": coordinator.budget.limit} if coordinator.budget.limit else {}
        ),
    ),
    AccountSensorDescription(
        key="next_update",
        translation_key="next_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A time that moves with every request would fill the Activity log.
        entity_registry_enabled_default=False,
        value_fn=lambda coordinator: coordinator.next_update,
        attributes_fn=lambda coordinator: {"reason": coordinator.next_update_reason},
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OrangePowerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the account's sensors, and those of every car, now and as cars appear."""
    coordinator = entry.runtime_data
    async_add_entities(AccountSensor(coordinator, description) for description in ACCOUNT_SENSORS)
    add_entities_for_new_cars(
        entry,
        async_add_entities,
        lambda vin: (CarSensor(coordinator, vin, description) for description in SENSORS),
    )


class CarSensor(OrangePowerEntity, SensorEntity):
    """A sensor of a car."""

    entity_description: CarSensorDescription
    _cancel_expiry: CALLBACK_TYPE | None = None

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the sensor's value; a time that expires is unknown once past."""
        value = self.entity_description.value_fn(self.car)
        if self.entity_description.expires and isinstance(value, datetime):
            return value if value >= dt_util.utcnow() else None
        return value

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return, while the value is unknown, what it waits for (when the sensor says)."""
        if self.native_value is not None:
            return None
        waiting = (wait for wait in self.entity_description.waits_for if WAITING[wait](self.car))
        return {"waiting_for": wait.value} if (wait := next(waiting, None)) else None

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the time the value expires at, if it does."""
        await super().async_added_to_hass()
        self.async_on_remove(self._stop_expiry)
        self._track_expiry()

    @override
    @callback
    def _handle_coordinator_update(self) -> None:
        """Show the new value and follow when it expires."""
        self._track_expiry()
        super()._handle_coordinator_update()

    @callback
    def _track_expiry(self) -> None:
        """Write the state again the moment the value shown passes."""
        self._stop_expiry()
        if not self.entity_description.expires or not self.available:
            return
        if isinstance(value := self.native_value, datetime):
            self._cancel_expiry = async_track_point_in_utc_time(
                self.hass, self._expired, value + EXPIRY_MARGIN
            )

    @callback
    def _expired(self, _: datetime) -> None:
        """Show that the value passed."""
        self._cancel_expiry = None
        self.async_write_ha_state()

    @callback
    def _stop_expiry(self) -> None:
        """Stop following the value's expiry."""
        if self._cancel_expiry is not None:
            self._cancel_expiry()
            self._cancel_expiry = None


class AccountSensor(CoordinatorEntity[OrangePowerCoordinator], SensorEntity):
    """A sensor of the account's use of the service, on the account's service device.

    Always available: it tells what this integration did, which it knows even when polls fail.
    """

    _attr_has_entity_name = True
    entity_description: AccountSensorDescription

    def __init__(
        self, coordinator: OrangePowerCoordinator, description: AccountSensorDescription
    ) -> None:
        """Attach the sensor to the account's device."""
        super().__init__(coordinator)
        self.entity_description = description
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = f"{entry_id}_{description.key}"
        # Named after the entry, so that two accounts' devices and entities are told apart.
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry_id)},
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="Orange Power",
            name=f"Orange Power Connect ({coordinator.config_entry.title})",
        )

    @property
    @override
    def available(self) -> bool:
        """Return True: the count and the plan are known whether or not polls work."""
        return True

    @property
    @override
    def native_value(self) -> StateType | datetime:
        """Return the sensor's value."""
        return self.entity_description.value_fn(self.coordinator)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return what explains the value."""
        return self.entity_description.attributes_fn(self.coordinator)
