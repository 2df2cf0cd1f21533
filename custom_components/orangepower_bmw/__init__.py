"""The Orange Power BMW integration: a BMW's charge level, range and charger state."""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_REFRESH_ENTITIES, CONF_TOKEN, DOMAIN
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator
from .notices import async_remove_issues
from .store import EntryStore, token_for_entry, token_from_entry
from .triggers import async_track_refresh_entities

_LOGGER = logging.getLogger(__name__)

PLATFORMS = [Platform.BINARY_SENSOR, Platform.NUMBER, Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> bool:
    """Set up the account's cars from a config entry."""
    coordinator = OrangePowerCoordinator(hass, entry)
    # Set before the first poll, so that other entries sharing a car see which cars this one shows.
    entry.runtime_data = coordinator
    try:
        await coordinator.async_config_entry_first_refresh()
    except ConfigEntryNotReady:
        if coordinator.schedule.wait is None:
            raise
        # Rate limited, out of quota or told the API is gone: no reason to retry set-up every
        # few seconds. The entry loads without fresh data (its entities unavailable), and the
        # schedule asks again when the wait is over.
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(
        async_track_refresh_entities(
            hass, coordinator, entry.options.get(CONF_REFRESH_ENTITIES, [])
        )
    )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> bool:
    """Unload a config entry; the coordinator writes its store as it shuts down."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> None:
    """Withdraw the entry's repairs and delete what it stored."""
    async_remove_issues(hass, entry.entry_id)
    await EntryStore(hass, entry.entry_id).async_remove()


async def async_migrate_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> bool:
    """Bring an entry from an older version up to date.

    1.2: the stored token keeps only the access token and its expiry (no refresh token, type or
    scopes, which nothing uses).
    """
    # Home Assistant itself refuses an entry from a newer major version, without calling this.
    if entry.minor_version < 2:
        data = dict(entry.data)
        token = token_from_entry(data.get(CONF_TOKEN) or {})
        data[CONF_TOKEN] = token_for_entry(token) if token is not None else None
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        _LOGGER.debug("Migrated the entry to version 1.2")
    return True


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: OrangePowerConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete the device of a car that is not on the account now, and no other."""
    vins = {value for domain, value in device.identifiers if domain == DOMAIN}
    if entry.entry_id in vins:
        # The account's own device, with its request count: it goes with the entry.
        return False
    if entry.state is not ConfigEntryState.LOADED:
        # Nothing is known of the account now: a car still on it gets its device back when it loads.
        return True
    coordinator = entry.runtime_data
    if any(vin in (coordinator.data or {}) for vin in vins):
        return False
    for vin in vins:
        coordinator.cars.forget(vin)
    # The platforms drop the car's entities, so that a car that comes back gets them again.
    coordinator.async_update_listeners()
    return True
