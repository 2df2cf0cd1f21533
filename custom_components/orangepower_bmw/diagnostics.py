"""Diagnostics: the entry and the cars' last data, with every secret and identifier redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_ACCOUNT_EMAIL, DOMAIN
from .coordinator import OrangePowerConfigEntry, OrangePowerCoordinator

TO_REDACT = {
    CONF_EMAIL,
    CONF_PASSWORD,
    CONF_ACCOUNT_EMAIL,
    "access_token",
    "refresh_token",
    "title",
    "unique_id",
    "vin",
    "vehicle_id",
    "user_id",
}


def _polling(coordinator: OrangePowerCoordinator) -> dict[str, Any]:
    """Return how polling goes: interval, last success and error, call counts since start."""
    last_success = coordinator.last_update_success_time
    return {
        "update_interval_seconds": coordinator.schedule.interval.total_seconds(),
        "last_update_success": coordinator.last_update_success,
        "last_success": last_success.isoformat() if last_success else None,
        "last_error": repr(coordinator.last_exception) if coordinator.last_exception else None,
        "login_calls": coordinator.client.logins,
        "vehicle_calls": coordinator.client.vehicle_calls,
        "daily_request_limit": coordinator.budget.limit,
        "requests_today": coordinator.budget.count,
        "next_update": coordinator.next_update.isoformat() if coordinator.next_update else None,
    }


def _vehicles(coordinator: OrangePowerCoordinator, vins: set[str] | None = None) -> list[Any]:
    """Return the cars' last data, redacted."""
    return [
        async_redact_data(asdict(vehicle), TO_REDACT)
        for vin, vehicle in coordinator.data.items()
        if vins is None or vin in vins
    ]


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: OrangePowerConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for the account."""
    coordinator = entry.runtime_data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "vehicles": _vehicles(coordinator),
        "polling": _polling(coordinator),
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: OrangePowerConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return diagnostics for one car."""
    coordinator = entry.runtime_data
    vins = {value for domain, value in device.identifiers if domain == DOMAIN}
    return {"vehicles": _vehicles(coordinator, vins), "polling": _polling(coordinator)}
