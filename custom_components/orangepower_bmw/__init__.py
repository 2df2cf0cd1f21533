"""The Orange Power BMW integration: a BMW's charge level, range and charger state."""

from __future__ import annotations

from homeassistant.const import CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntry

from .api import OrangePowerClient
from .charging import charging_store
from .const import DOMAIN, REQUEST_TIMEOUT
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator

PLATFORMS = [Platform.BINARY_SENSOR, Platform.NUMBER, Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> bool:
    """Set up the account's cars from a config entry."""
    client = OrangePowerClient(
        async_get_clientsession(hass), entry.data[CONF_URL], timeout=REQUEST_TIMEOUT
    )
    coordinator = OrangePowerCoordinator(hass, entry, client)
    await coordinator.charging.async_load()
    await coordinator.async_config_entry_first_refresh()
    entry.async_on_unload(coordinator.charging.async_save)
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: OrangePowerConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete the device of a car that is no longer on the account, and no other."""
    return not any(
        domain == DOMAIN and vin in entry.runtime_data.data for domain, vin in device.identifiers
    )


async def async_remove_entry(hass: HomeAssistant, entry: OrangePowerConfigEntry) -> None:
    """Delete the stored charging sessions of a removed entry."""
    await charging_store(hass, entry.entry_id).async_remove()
