"""Which cars an entry shows: a car on two accounts, a car gone missing, and the cars' devices.

A car two entries list is shown by one of them; the entity registry says which. A car missing from
good polls keeps its device for a grace period, so that one empty answer removes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import logging
from typing import TypedDict

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api import redact_identifiers
from .const import DOMAIN
from .models import Vehicle

_LOGGER = logging.getLogger(__name__)

# A car missing from good polls keeps its device until it has been missing this long and this often,
# so that one empty or partial answer does not remove every car.
MISSING_GRACE = timedelta(hours=1)
MISSING_GRACE_POLLS = 3


class DeviceFields(TypedDict, total=False):
    """What a car's device shows of it."""

    name: str | None
    manufacturer: str | None
    model: str | None


class EntryCars:
    """The cars one config entry shows, and those it is waiting to remove."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Start with no car shown."""
        self._hass = hass
        self._entry = entry
        # The cars whose entities this entry shows; a car another entry shows is left to it.
        self.shown: set[str] = set()
        self._left_to_others: set[str] = set()
        # When each missing car was first missing (stored), and in how many good polls since.
        self.missing: dict[str, str] = {}
        self._missing_polls: dict[str, int] = {}
        # Each shown car as the last answer that listed it showed it (its brand, model and year
        # as last known, for its device): a car missing from answers, still shown within its
        # grace, keeps what it needs of the schedule.
        self.last_seen: dict[str, Vehicle] = {}
        # The service refused this entry's credentials: it shows nothing new until the user
        # signs in again, so another entry listing its shared cars takes them over.
        self.waiting_for_user = False

    def take_in(self, data: dict[str, Vehicle]) -> None:
        """Follow a good answer: cars to show, cars gone missing, devices to bring up to date."""
        self.show_listed(data)
        self.track_missing(data)
        self.update_devices(data)
        # A car another entry shows is not this one's to remember.
        self.last_seen = {vin: car for vin, car in self.last_seen.items() if vin in self.shown}

    def device_info(self, vin: str) -> DeviceInfo:
        """Return the device of a car's entities; cars.py made it and keeps it up to date."""
        return DeviceInfo(identifiers={(DOMAIN, vin)}, serial_number=vin)

    def show_listed(self, data: dict[str, Vehicle]) -> None:
        """Show each listed car that no other entry shows; take over one another entry let go."""
        for vin in sorted(data.keys() - self.shown):
            owner = self._other_owner(vin)
            if owner is not None and _shows(self._hass, owner, vin):
                if vin not in self._left_to_others:
                    self._left_to_others.add(vin)
                    _LOGGER.info(
                        "The %s is shown by the entry %s; this entry skips it",
                        redact_identifiers(device_fields(data[vin])["name"] or ""),
                        owner.title,
                    )
                continue
            if owner is not None:
                self._take_over(vin, owner)
            self._left_to_others.discard(vin)
            self.shown.add(vin)
            self._add_device(data[vin])

    def restore(self, missing: dict[str, str], last_seen: dict[str, Vehicle]) -> None:
        """Take in what a restart kept: the cars missing from answers, each car as last seen.

        Within its grace a missing car is still this entry's: it stays shown, so that another
        entry listing it again before this one does cannot take it over.
        """
        self.missing, self.last_seen = missing, last_seen
        self.shown |= missing.keys() & self._device_vins()

    def _other_owner(self, vin: str) -> ConfigEntry | None:
        """Return the other entry that shows this car or owns its entities, if any."""
        for other in self._hass.config_entries.async_entries(DOMAIN):
            cars = cars_of(other)
            if (
                other.entry_id != self._entry.entry_id
                and cars is not None
                and vin in cars.shown
                and other.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
            ):
                return other
        registry = er.async_get(self._hass)
        entity_id = registry.async_get_entity_id(Platform.SENSOR, DOMAIN, f"{vin}_battery")
        entity = registry.async_get(entity_id) if entity_id else None
        if entity is None or entity.config_entry_id in (None, self._entry.entry_id):
            return None
        return self._hass.config_entries.async_get_entry(entity.config_entry_id or "")

    def _add_device(self, vehicle: Vehicle) -> None:
        """Make the device of a car shown for the first time, named after what is known of it."""
        registry = dr.async_get(self._hass)
        entry_id = self._entry.entry_id
        if registry.async_get_device_by_identifier((DOMAIN, vehicle.vin), entry_id) is None:
            registry.async_get_or_create(
                config_entry_id=entry_id,
                identifiers={(DOMAIN, vehicle.vin)},
                serial_number=vehicle.vin,
                **device_fields(vehicle),
            )

    def _take_over(self, vin: str, owner: ConfigEntry) -> None:
        """Move a car's entities from the entry that let it go to this one, and drop its device."""
        if (cars := cars_of(owner)) is not None and vin in cars.shown:
            # Still loaded (waiting for a reauth): its entities of the car go first.
            cars.forget(vin)
            owner.runtime_data.async_update_listeners()
        owner_id = owner.entry_id
        registry = er.async_get(self._hass)
        for entity in er.async_entries_for_config_entry(registry, owner_id):
            if entity.platform == DOMAIN and entity.unique_id.startswith(f"{vin}_"):
                registry.async_update_entity(
                    entity.entity_id,
                    config_entry_id=self._entry.entry_id,
                    device_id=None,
                    disabled_by=_disabled_after_takeover(entity.disabled_by),
                )
        devices = dr.async_get(self._hass)
        if device := devices.async_get_device_by_identifier((DOMAIN, vin), owner_id):
            _LOGGER.info("The %s is now shown by this entry", redact_identifiers(device.name or ""))
            devices.async_remove_device(device.id)

    def track_missing(self, data: dict[str, Vehicle]) -> None:
        """Let go at once of a car another entry lists; remove a car missing for long enough."""
        now = dt_util.utcnow()
        absent = (self.shown | self._device_vins()) - data.keys()
        self.missing = {vin: self.missing[vin] for vin in absent & self.missing.keys()}
        self._missing_polls = {vin: self._missing_polls.get(vin, 0) for vin in absent}
        for vin in sorted(absent):
            # An answer without any car is a glitch, not the car moving to another account.
            if data and self._listed_elsewhere(vin):
                # The other entry takes the car over at its next poll.
                self.forget(vin)
                continue
            since = dt_util.parse_datetime(self.missing.setdefault(vin, now.isoformat())) or now
            self._missing_polls[vin] += 1
            if now - since >= MISSING_GRACE and self._missing_polls[vin] >= MISSING_GRACE_POLLS:
                self._remove_device(vin)
                self.forget(vin)

    def _listed_elsewhere(self, vin: str) -> bool:
        """Return whether another loaded entry's last poll worked and listed this car."""
        for other in self._hass.config_entries.async_loaded_entries(DOMAIN):
            coordinator = getattr(other, "runtime_data", None)
            if (
                other.entry_id != self._entry.entry_id
                and cars_of(other) is not None
                and isinstance(coordinator, DataUpdateCoordinator)
                and coordinator.last_update_success
                and vin in (coordinator.data or {})
            ):
                return True
        return False

    def _device_vins(self) -> set[str]:
        """Return the VINs of this entry's car devices."""
        registry = dr.async_get(self._hass)
        return {
            value
            for device in dr.async_entries_for_config_entry(registry, self._entry.entry_id)
            for domain, value in device.identifiers
            if domain == DOMAIN and value != self._entry.entry_id
        }

    def _remove_device(self, vin: str) -> None:
        """Remove this entry's device of a car, and with it the car's entities."""
        registry = dr.async_get(self._hass)
        if device := registry.async_get_device_by_identifier((DOMAIN, vin), self._entry.entry_id):
            _LOGGER.info(
                "The %s left the account; removing its device",
                redact_identifiers(device.name or ""),
            )
            registry.async_remove_device(device.id)

    def forget(self, vin: str) -> None:
        """Stop showing a car; its entities go at the next update of the listeners."""
        self.shown.discard(vin)
        self.missing.pop(vin, None)
        self._missing_polls.pop(vin, None)
        self.last_seen.pop(vin, None)

    def update_devices(self, data: dict[str, Vehicle]) -> None:
        """Bring each shown car's device up to date when its brand, model or year changed."""
        registry = dr.async_get(self._hass)
        for vin in self.shown & data.keys():
            vehicle, known = data[vin], self.last_seen.get(vin)
            if known is not None:
                # A field the service left out this time is unknown, not a change.
                vehicle = replace(
                    vehicle,
                    brand=vehicle.brand or known.brand,
                    model=vehicle.model or known.model,
                    year=vehicle.year or known.year,
                )
            self.last_seen[vin] = vehicle
            if None in (vehicle.brand, vehicle.model, vehicle.year):
                # A field not known yet: the device keeps what it shows rather than lose it.
                continue
            fields = device_fields(vehicle)
            device = registry.async_get_device_by_identifier((DOMAIN, vin), self._entry.entry_id)
            if device is not None and any(
                getattr(device, key) != value for key, value in fields.items()
            ):
                registry.async_update_device(device.id, **fields)


def device_fields(vehicle: Vehicle) -> DeviceFields:
    """Return the name, manufacturer and model a car's device shows."""
    model = vehicle.model
    if model is not None and vehicle.year is not None:
        model = f"{model} ({vehicle.year})"
    return {
        "name": " ".join(part for part in (vehicle.brand or "BMW", vehicle.model) if part),
        "manufacturer": vehicle.brand,
        "model": model,
    }


def _disabled_after_takeover(
    disabled_by: er.RegistryEntryDisabler | None,
) -> er.RegistryEntryDisabler | None:
    """Return how a car's entity is disabled once it moves to another entry and a new device.

    Disabled with its old entry: enabled with the new one. Disabled with its old device, which
    goes: disabled by the user, who disabled that device.
    """
    if disabled_by is er.RegistryEntryDisabler.CONFIG_ENTRY:
        return None
    if disabled_by is er.RegistryEntryDisabler.DEVICE:
        return er.RegistryEntryDisabler.USER
    return disabled_by


def _shows(hass: HomeAssistant, entry: ConfigEntry, vin: str) -> bool:
    """Return whether another entry shows the car, or is (re)loading and will."""
    coordinator, cars = getattr(entry, "runtime_data", None), cars_of(entry)
    if entry.state is ConfigEntryState.SETUP_RETRY:
        # It failed to start (the service was down); it shows its cars when the service answers.
        return True
    if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS):
        return (
            cars is not None
            and isinstance(coordinator, DataUpdateCoordinator)
            # An entry waiting for the user to sign in again shows nothing new for days.
            and not cars.waiting_for_user
            and (vin in cars.shown or coordinator.data is None)
        )
    if (
        entry.state is ConfigEntryState.NOT_LOADED
        and not entry.disabled_by
        and hass.state is not CoreState.running
    ):
        # Home Assistant is starting and has not come to that entry yet.
        return True
    # A reload holds the lock between unloading and setting up again.
    return entry.setup_lock.locked()


def cars_of(entry: ConfigEntry) -> EntryCars | None:
    """Return the cars another entry of this integration shows, when it is set up."""
    cars = getattr(getattr(entry, "runtime_data", None), "cars", None)
    return cars if isinstance(cars, EntryCars) else None
