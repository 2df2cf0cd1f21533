"""What a restart or reload must not lose: one store per entry, one versioned schema.

`.storage/orangepower_bmw.<entry_id>` holds five parts, each parsed all or nothing (a part that does
not parse is dropped with a debug line, and the entry starts that part afresh):

- `schedule`: the day's request count, a wait the service asked for, the backoff, a refresh asked
  for (schedule.py);
- `cars` and `polled_at`: each car's last answer, and when it was fetched;
- `missing`: since when each car missing from the answers has been missing, by VIN;
- `last_seen`: each car the entry shows as last known, a missing one too (its brand, model and year
  kept when an answer left them out), for the schedule and the car's device;
- `charging`: each car's charging session (charging.py).

The access token is kept in the config entry; its stored form is here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
import logging
from typing import Any, override

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .budget import aware
from .charging import CarCharging
from .const import DOMAIN
from .models import ChargingStatus, Token, Vehicle

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 2
# Seconds to gather the writes of several events; a pending write is made at unload and at stop.
SAVE_DELAY = 10
# Version 1 (release 0.1.0) kept the charging sessions in a store of their own.
V1_CHARGING_SUFFIX = ".charging"


def storage_key(entry_id: str) -> str:
    """Return the key of an entry's store."""
    return f"{DOMAIN}.{entry_id}"


@dataclass
class Stored:
    """The parts of an entry's store that parsed."""

    schedule: dict[str, Any] = field(default_factory=dict)
    cars: dict[str, Vehicle] | None = None
    polled_at: datetime | None = None
    missing: dict[str, str] = field(default_factory=dict)
    last_seen: dict[str, Vehicle] = field(default_factory=dict)
    charging: dict[str, CarCharging] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        """Return the store's data for these parts."""
        return {
            "schedule": self.schedule,
            "cars": [asdict(car) for car in (self.cars or {}).values()],
            "polled_at": self.polled_at.isoformat() if self.polled_at else None,
            "missing": self.missing,
            "last_seen": [asdict(car) for car in self.last_seen.values()],
            "charging": {vin: car.as_dict() for vin, car in self.charging.items()},
        }


class EntryStore:
    """The store of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Use the entry's store."""
        self._store = _Store(hass, STORAGE_VERSION, storage_key(entry_id))
        self._v1_charging: Store[dict[str, Any]] = Store(
            hass, 1, storage_key(entry_id) + V1_CHARGING_SUFFIX
        )

    async def async_load(self) -> Stored:
        """Load the entry's store, bringing a version 1 pair of stores into it on the way."""
        loaded = await self._store.async_load()
        data = loaded if isinstance(loaded, dict) else {}
        sessions = await self._v1_charging.async_load()
        if sessions is not None:
            data.setdefault("charging", sessions)
            await self._store.async_save(data)
            await self._v1_charging.async_remove()
        return parse(data)

    def async_delay_save(self, data: Any) -> None:
        """Write what `data()` returns, a few seconds from now (sooner at unload)."""
        self._store.async_delay_save(data, SAVE_DELAY)

    async def async_save(self, data: dict[str, Any]) -> None:
        """Write now."""
        await self._store.async_save(data)

    async def async_remove(self) -> None:
        """Delete the store, and a version 1 charging store left behind."""
        await self._store.async_remove()
        await self._v1_charging.async_remove()


class _Store(Store[dict[str, Any]]):
    """The entry's store, migrated from older versions when loaded."""

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Any
    ) -> dict[str, Any]:
        """Bring version 1's flat layout into version 2's parts."""
        return migrate_v1(old_data) if isinstance(old_data, dict) else {}


def migrate_v1(old: dict[str, Any]) -> dict[str, Any]:
    """Return version 1's data in version 2's layout (its cars without the ids nothing used)."""
    cars = old.get("cars")
    return {
        "schedule": {
            "budget": old.get("requests"),
            "wait": old.get("waiting"),
            "backoff_seconds": old.get("backoff_seconds"),
            "limited_since": old.get("limited_since"),
            "ask": old.get("asked"),
        },
        "cars": [
            {key: value for key, value in car.items() if key not in ("vehicle_id", "user_id")}
            if isinstance(car, dict)
            else car
            for car in cars
        ]
        if isinstance(cars, list)
        else cars,
        "polled_at": old.get("polled_at"),
        "missing": old.get("missing"),
    }


def parse(data: dict[str, Any]) -> Stored:
    """Return the parts of the stored data that parse; drop the others, with a debug line."""
    stored = Stored()
    schedule, cars, missing = data.get("schedule"), data.get("cars"), data.get("missing")
    if isinstance(schedule, dict):
        stored.schedule = schedule
    if (vehicles := _vehicles(cars)) is not None:
        stored.cars, stored.polled_at = vehicles, aware(data.get("polled_at"))
    elif cars:
        _LOGGER.debug("The stored cars cannot be read; the first poll brings them")
    # A store written before this part existed: the last answer's cars are the last seen.
    stored.last_seen = _vehicles(data.get("last_seen")) or dict(stored.cars or {})
    if isinstance(missing, dict):
        stored.missing = {vin: since for vin, since in missing.items() if aware(since)}
    sessions = data.get("charging")
    try:
        stored.charging = {vin: CarCharging.from_dict(car) for vin, car in (sessions or {}).items()}
    except KeyError, TypeError, ValueError, AttributeError:
        # Losing the sessions costs an estimate for a while; refusing to start costs everything.
        _LOGGER.debug("The stored charging sessions cannot be read; starting afresh")
    return stored


def _vehicles(data: Any) -> dict[str, Vehicle] | None:
    """Return stored cars by VIN; None unless every one of a non-empty list parses."""
    vehicles = [vehicle_from_dict(car) for car in data] if isinstance(data, list) else []
    if not vehicles or None in vehicles:
        return None
    return {vehicle.vin: vehicle for vehicle in vehicles if vehicle is not None}


def token_from_entry(data: Any) -> Token | None:
    """Return the token kept in a config entry's data, or None when it is not a usable one."""
    try:
        expires_at = datetime.fromisoformat(data["expires_at"])
        access_token = data["access_token"]
    except KeyError, TypeError, ValueError:
        return None
    if not isinstance(access_token, str) or not access_token or expires_at.tzinfo is None:
        return None
    return Token(access_token=access_token, expires_at=expires_at)


def token_for_entry(token: Token) -> dict[str, str]:
    """Return a token as it is kept in the config entry."""
    return {"access_token": token.access_token, "expires_at": token.expires_at.isoformat()}


# The types asdict writes, by the annotation of the field (None stands for a nested object).
_STORED_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
    "bool | None": (bool, type(None)),
    "ChargingStatus": (type(None),),
}


def vehicle_from_dict(data: Any) -> Vehicle | None:
    """Return a car as stored, or None when the data is not a car as asdict wrote it."""
    charging = _stored_fields(
        ChargingStatus, data.get("charging") if isinstance(data, dict) else None
    )
    car = _stored_fields(Vehicle, {**data, "charging": None}) if charging is not None else None
    if charging is None or car is None or not car["vin"]:
        return None
    return Vehicle(**{**car, "charging": ChargingStatus(**charging)})


def _stored_fields(cls: type, data: Any) -> dict[str, Any] | None:
    """Return the stored fields of a dataclass, or None unless each is there with its type."""
    if not isinstance(data, dict) or set(data) != {each.name for each in fields(cls)}:
        return None
    for each in fields(cls):
        value, allowed = data[each.name], _STORED_TYPES[str(each.type)]
        # A bool is an int to isinstance, but a stored count or year is never true or false.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return None
    return data
