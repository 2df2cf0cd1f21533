"""What the Orange Power Connect service answers, as frozen typed models, and the parsing of it.

Knows nothing about Home Assistant. Every field but the VIN may be missing or odd: it becomes None,
never a made-up value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import math
from typing import Any

# The charging states bimmer_connected knows; anything else is kept as its raw string.
CHARGING_STATES = frozenset(
    {
        "DEFAULT",
        "CHARGING",
        "ERROR",
        "COMPLETE",
        "FULLY_CHARGED",
        "FINISHED_FULLY_CHARGED",
        "FINISHED_NOT_FULL",
        "INVALID",
        "NOT_CHARGING",
        "PLUGGED_IN",
        "WAITING_FOR_CHARGING",
        "TARGET_REACHED",
        "UNKNOWN",
    }
)

# Charging types seen so far; likewise, a new one is kept as its raw string.
CHARGING_TYPES = frozenset({"CONDUCTIVE", "INDUCTIVE", "NOT_AVAILABLE"})

# A token lifetime or a Retry-After beyond this is not believed (it also keeps datetimes in range).
MAX_TOKEN_LIFETIME = timedelta(days=1)
MAX_RETRY_AFTER = timedelta(days=1)


class UnexpectedShapeError(ValueError):
    """An answer is JSON, but not of the shape the endpoint's reference shows."""


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when it stops working.

    The token answer's refresh token, type and scopes are not kept: no endpoint takes them.
    """

    access_token: str = field(repr=False)
    expires_at: datetime

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        """Return whether the token is expired, or will be within the margin."""
        return self.expires_at - margin <= now


@dataclass(frozen=True, slots=True)
class ChargingStatus:
    """The charging state of a car; any part the service left out is None."""

    percentage: int | None
    state: str | None
    type: str | None
    charger_connected: bool | None


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One car of the account; any optional part the service left out is None.

    The car's ids at BMW and the account's user id are not kept: nothing uses them.
    """

    vin: str
    brand: str | None
    model: str | None
    year: int | None
    charging: ChargingStatus
    electric_range: float | None
    electric_range_unit: str | None

    @property
    def is_charging(self) -> bool:
        """Return whether the car is charging: the only time its values change by the minute."""
        return self.charging.state == "CHARGING"


class VehicleList(list[Vehicle]):
    """The cars of one answer, and how many of its items were skipped for having no VIN."""

    skipped: int = 0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the delay a Retry-After header asks for, in seconds (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    limit = MAX_RETRY_AFTER.total_seconds()
    if value.isascii() and value.isdigit():
        return min(float(value), limit)
    try:
        when = parsedate_to_datetime(value)
    except TypeError, ValueError, IndexError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), limit)


def parse_token(data: Any, now: datetime) -> Token:
    """Build a Token from the token endpoint's JSON; `now` is the clock at the response."""
    if not isinstance(data, dict):
        raise UnexpectedShapeError("The token response is not a JSON object")
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise UnexpectedShapeError("The token response has no access token")
    # A missing, negative or unreadable lifetime means "use it now, renew next time".
    lifetime = _number(data.get("expires_in"))
    seconds = min(max(lifetime or 0.0, 0.0), MAX_TOKEN_LIFETIME.total_seconds())
    return Token(access_token=access_token, expires_at=now + timedelta(seconds=seconds))


def parse_vehicles(data: Any) -> VehicleList:
    """Build the BMW cars from the vehicles endpoint's JSON: a list, one bare object, or [].

    An item of a list without a VIN is skipped (and counted); one bare object without a VIN is not
    a vehicle list at all.
    """
    if not isinstance(data, list):
        if not isinstance(data, dict) or _text_or_number(data.get("device_id")) is None:
            raise UnexpectedShapeError("The response is not a vehicle list")
        data = [data]
    vehicles = VehicleList()
    for item in data:
        vin = _text_or_number(item.get("device_id")) if isinstance(item, dict) else None
        if vin is None:
            vehicles.skipped += 1
        # The endpoint lists all of the user's devices; only BMW ones (BMW and MINI cars) are cars here.
        elif (_text(item.get("device_type")) or "bmw").lower() == "bmw":
            vehicles.append(_parse_vehicle(item, vin))
    return vehicles


def _parse_vehicle(item: Mapping[str, Any], vin: str) -> Vehicle:
    """Build one Vehicle from an item with a VIN; any other missing or odd field becomes None."""
    charging = _mapping(item.get("charging_state"))
    distance = _mapping(_mapping(item.get("electric_range")).get("distance"))
    percentage = _number(charging.get("charge_percentage"))
    electric_range = _number(distance.get("value"))
    year = _number(item.get("year"))
    return Vehicle(
        vin=vin,
        brand=_text(item.get("brand")),
        model=_text(item.get("model")),
        year=int(year) if year is not None and year.is_integer() and 1900 <= year <= 2200 else None,
        charging=ChargingStatus(
            percentage=round(percentage)
            if percentage is not None and 0 <= percentage <= 100
            else None,
            state=_text(charging.get("state")),
            type=_text(charging.get("type")),
            charger_connected=_flag(charging.get("is_charger_connected")),
        ),
        electric_range=electric_range
        if electric_range is not None and electric_range >= 0
        else None,
        electric_range_unit=_text(distance.get("units")),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    """Return the value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _text_or_number(value: Any) -> str | None:
    """Return an identifier given as a non-empty string or a number, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return _text(value)


def _text(value: Any) -> str | None:
    """Return a non-empty string, else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _number(value: Any) -> float | None:
    """Return a finite number from a JSON number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError, OverflowError:
        return None
    return number if math.isfinite(number) else None


def _flag(value: Any) -> bool | None:
    """Return a JSON boolean, or the strings "true"/"false", else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None
