"""Diagnostics: the entry and the cars' last data, with every secret and identifier redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .capacity import capacity_of
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
}


def _polling(coordinator: OrangePowerCoordinator) -> dict[str, Any]:
    """Return how polling goes: the schedule's state, the last update, and the requests made."""
    last_success = coordinator.last_update_success_time
    schedule, client = coordinator.schedule, coordinator.client
    return {
        "interval_seconds": schedule.interval.total_seconds(),
        "next_update": coordinator.next_update.isoformat() if coordinator.next_update else None,
        "next_update_reason": coordinator.next_update_reason,
        "schedule": schedule.as_dict(),
        "credentials_refused": schedule.refused,
        "last_update_success": coordinator.last_update_success,
        "last_success": last_success.isoformat() if last_success else None,
        "last_error": repr(coordinator.last_exception) if coordinator.last_exception else None,
        # Today's count is kept across restarts; the client's counts start when the entry loads.
        "requests_today": coordinator.budget.count,
        "daily_request_limit": coordinator.budget.limit or None,
        "requests_since_the_entry_loaded": {
            "logins": client.logins,
            "vehicle_calls": client.vehicle_calls,
        },
    }


def _vehicles(coordinator: OrangePowerCoordinator, vins: set[str] | None = None) -> list[Any]:
    """Return the cars' last data and charging sessions (levels and times), redacted."""
    return [
        {
            **async_redact_data(asdict(vehicle), TO_REDACT),
            "capacity_of_the_model": capacity_of(vehicle),
            "charging": coordinator.charging.car(vin).as_dict(),
        }
        for vin, vehicle in (coordinator.data or {}).items()
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
