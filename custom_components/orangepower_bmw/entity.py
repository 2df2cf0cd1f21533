"""The base entity of a car: device info, unique id, availability."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import override

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import Vehicle
from .cars import device_fields
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
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, vin)}, serial_number=vin)
        # A device that exists already is kept up to date by the coordinator, which does not
        # take one answer that leaves a field out for a change; only a new device is described here.
        if not dr.async_get(coordinator.hass).async_get_device_by_identifier(
            (DOMAIN, vin), coordinator.config_entry.entry_id
        ):
            fields = device_fields(coordinator.data[vin])
            self._attr_device_info["name"] = fields["name"]
            self._attr_device_info["manufacturer"] = fields["manufacturer"]
            self._attr_device_info["model"] = fields["model"]

    @property
    @override
    def available(self) -> bool:
        """Return whether the last poll worked and still listed this car."""
        return super().available and self.vin in (self.coordinator.data or {})

    @property
    def vehicle(self) -> Vehicle:
        """Return the car's latest data; only read while available."""
        return self.coordinator.data[self.vin]


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
        for vin in added.keys() - coordinator.shown:
            for entity in added.pop(vin):
                # An entity whose adding was aborted has no hass; removing one twice is harmless.
                if entity.hass is not None:
                    entry.async_create_task(coordinator.hass, entity.async_remove())
        new = [
            vin
            for vin in sorted(coordinator.shown - added.keys())
            if vin in (coordinator.data or {})
        ]
        for vin in new:
            added[vin] = list(make_entities(vin))
        if entities := [entity for vin in new for entity in added[vin]]:
            async_add_entities(entities)

    sync_with_shown_cars()
    entry.async_on_unload(coordinator.async_add_listener(sync_with_shown_cars))
