"""The base entity of a car: its device, unique id, the one availability rule, and its view."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import override

from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .charging import CarCharging
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator
from .models import Vehicle


@dataclass(frozen=True, slots=True)
class CarView:
    """What the entities of a car read: its last values, its charging, and how fresh they are."""

    vehicle: Vehicle
    charging: CarCharging
    # When the values were fetched; whether the last update worked.
    polled_at: datetime | None
    fresh: bool


@dataclass(frozen=True, kw_only=True)
class CarEntityDescription(EntityDescription):
    """What every entity of a car declares besides its platform's fields."""

    # A setting, or a flag that is unknown rather than unavailable, needs no working update.
    needs_update: bool = True


class OrangePowerEntity(CoordinatorEntity[OrangePowerCoordinator]):
    """An entity of one car.

    Available while the car is on the account and, unless it needs no update, the last update
    worked: unavailable while polls fail, and at once when a good answer leaves the car out.
    """

    _attr_has_entity_name = True
    entity_description: CarEntityDescription

    def __init__(
        self, coordinator: OrangePowerCoordinator, vin: str, description: CarEntityDescription
    ) -> None:
        """Attach the entity to its car's device, which cars.py made."""
        super().__init__(coordinator)
        self.entity_description = description
        self.vin = vin
        self._attr_unique_id = f"{vin}_{description.key}"
        self._attr_device_info = coordinator.cars.device_info(vin)

    @property
    @override
    def available(self) -> bool:
        """Return whether the car is on the account and, if needed, the last update worked."""
        listed = self.vin in (self.coordinator.data or {})
        fresh = self.coordinator.last_update_success or not self.entity_description.needs_update
        return listed and fresh

    @property
    def car(self) -> CarView:
        """Return what the entity reads; only while available."""
        coordinator = self.coordinator
        return CarView(
            vehicle=coordinator.data[self.vin],
            charging=coordinator.charging.car(self.vin),
            polled_at=coordinator.polled_at,
            fresh=coordinator.last_update_success,
        )


def add_entities_for_new_cars(
    entry: OrangePowerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    make_entities: Callable[[str], Iterable[Entity]],
) -> None:
    """Add a car's entities when the entry starts showing it, and remove them when it stops.

    A car that comes back after its device was removed gets its entities again.
    """
    coordinator = entry.runtime_data
    added: dict[str, list[Entity]] = {}

    def sync_with_shown_cars() -> None:
        for vin in added.keys() - coordinator.cars.shown:
            for entity in added.pop(vin):
                # An entity whose adding was aborted has no hass; removing one twice is harmless.
                if entity.hass is not None:
                    entry.async_create_task(coordinator.hass, entity.async_remove())
        new = [
            vin
            for vin in sorted(coordinator.cars.shown - added.keys())
            if vin in (coordinator.data or {})
        ]
        for vin in new:
            added[vin] = list(make_entities(vin))
        if entities := [entity for vin in new for entity in added[vin]]:
            async_add_entities(entities)

    sync_with_shown_cars()
    entry.async_on_unload(coordinator.async_add_listener(sync_with_shown_cars))
