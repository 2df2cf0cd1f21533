"""The base entity of a car: device info, unique id, availability."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import override

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import Vehicle
from .const import DOMAIN
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator


class OrangePowerEntity(CoordinatorEntity[OrangePowerCoordinator]):
    """An entity of one car, unavailable while polls fail or once the car left the account."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: OrangePowerCoordinator, vin: str, description: EntityDescription
    ) -> None:
        """Attach the entity to its car's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.vin = vin
        self._attr_unique_id = f"{vin}_{description.key}"
        vehicle = coordinator.data[vin]
        model = vehicle.model
        if model is not None and vehicle.year is not None:
            model = f"{model} ({vehicle.year})"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, vin)},
            manufacturer=vehicle.brand,
            model=model,
            name=" ".join(part for part in (vehicle.brand or "BMW", vehicle.model) if part),
            serial_number=vin,
        )

    @property
    @override
    def available(self) -> bool:
        """Return whether the last poll worked and still listed this car."""
        return super().available and self.vin in self.coordinator.data

    @property
    def vehicle(self) -> Vehicle:
        """Return the car's latest data; only read while available."""
        return self.coordinator.data[self.vin]


def add_entities_for_new_cars(
    entry: OrangePowerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make_entities: Callable[[str], Iterable[Entity]],
) -> None:
    """Add a car's entities now and for every car that appears on the account later."""
    coordinator = entry.runtime_data
    known: set[str] = set()

    def add_new_cars() -> None:
        new = coordinator.data.keys() - known
        known.update(new)
        entities = [entity for vin in sorted(new) for entity in make_entities(vin)]
        if entities:
            async_add_entities(entities)

    add_new_cars()
    entry.async_on_unload(coordinator.async_add_listener(add_new_cars))
