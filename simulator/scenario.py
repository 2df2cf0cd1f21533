"""Scenarios: the accounts and cars a simulator starts with, and how to read them from a file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
import hashlib
import json
import math
from pathlib import Path
from typing import Final

import yaml  # type: ignore[import-untyped,unused-ignore]

KILOMETERS: Final = "KILOMETERS"
MILES: Final = "MILES"
UNITS: Final = (KILOMETERS, MILES)
KM_PER_MILE: Final = 1.609344
DEFAULT_TOKEN_LIFETIME: Final = 28800


class ScenarioError(ValueError):
    """A scenario, or a car or change given to the simulator, is not valid."""


@dataclass(frozen=True, kw_only=True)
class CarSpec:
    """One car as a scenario describes it."""

    vin: str
    vehicle_id: str
    model: str
    year: int
    brand: str = "BMW"
    units: str = KILOMETERS
    percentage: float = 50.0
    km_per_percent: float = 4.0
    charger_connected: bool = False
    charging: bool = False
    charging_type: str = "CONDUCTIVE"
    charge_rate_per_hour: float = 10.0
    state: str | None = None
    overrides: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """One BMW account, the Orange Power account it is linked to, and its cars."""

    email: str
    password: str
    account_email: str
    cars: tuple[CarSpec, ...] = ()
    # VINs of cars another account lists, which this account serves too (a secondary driver's).
    shared_cars: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """Everything a simulator starts with."""

    accounts: tuple[AccountSpec, ...]
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME


def stable_id(kind: str, value: str, length: int) -> str:
    """Return a hex id derived from a value, the same on every run."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:length]


def default_scenario() -> Scenario:
    """Return the demo account with a charging i3s (km) and an unplugged iX (miles)."""
    return parse_scenario(
        {
            "accounts": [
                {
                    "email": "demo@example.com",
                    "password": "demo-password",
                    "cars": [
                        {
                            "vin": "WBY7Z8C5XJV123456",
                            "model": "i3s 94 REX",
                            "year": 2018,
                            "units": KILOMETERS,
                            "percentage": 45,
                            "km_per_percent": 1.48,
                            "charger_connected": True,
                            "charging": True,
                            "charge_rate_per_hour": 10,
                        },
                        {
                            "vin": "WBY21CF0XPC654321",
                            "model": "iX xDrive50",
                            "year": 2023,
                            "units": MILES,
                            "percentage": 64,
                            "range_per_percent": 3.75,
                        },
                    ],
                }
            ]
        }
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a JSON or YAML file, chosen by its extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise ScenarioError(f"{path}: a scenario file must end in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        data: object = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        first_line = str(err).splitlines()[0]
        raise ScenarioError(f"{path}: not valid {suffix[1:].upper()}: {first_line}") from err
    try:
        return parse_scenario(data)
    except ScenarioError as err:
        raise ScenarioError(f"{path}: {err}") from err


def parse_scenario(data: object) -> Scenario:
    """Validate a scenario given as plain data (as read from JSON or YAML)."""
    reader = FieldReader(as_mapping(data, "scenario"), "")
    token_lifetime = reader.integer("token_lifetime", DEFAULT_TOKEN_LIFETIME, minimum=1)
    accounts = tuple(
        parse_account(item, f"accounts[{index}]")
        for index, item in enumerate(reader.objects("accounts"))
    )
    reader.finish()
    if not accounts:
        raise ScenarioError("accounts: needs at least one account")
    _check_unique([account.email.lower() for account in accounts], "account email")
    cars = [car for account in accounts for car in account.cars]
    _check_unique([car.vin for car in cars], "car vin")
    _check_unique([car.vehicle_id for car in cars], "car vehicle_id")
    for account in accounts:
        # VINs are unique within an account; a shared car is one another account lists.
        _check_unique([car.vin for car in account.cars] + list(account.shared_cars), "car vin")
        for vin in account.shared_cars:
            if not any(car.vin == vin for other in accounts for car in other.cars):
                raise ScenarioError(f"{account.email}: shared car {vin!r} is not on any account")
    return Scenario(accounts=accounts, token_lifetime=token_lifetime)


def parse_account(data: Mapping[str, object], where: str) -> AccountSpec:
    """Validate one account of a scenario."""
    reader = FieldReader(data, where)
    email = reader.string("email").strip()
    password = reader.string("password")
    account_email = reader.string("account_email", email).strip()
    cars = tuple(
        parse_car(item, f"{where}.cars[{index}]")
        for index, item in enumerate(reader.objects("cars", required=False))
    )
    shared_cars = tuple(reader.strings("shared_cars"))
    reader.finish()
    return AccountSpec(
        email=email,
        password=password,
        account_email=account_email,
        cars=cars,
        shared_cars=shared_cars,
    )


def parse_car(data: Mapping[str, object], where: str = "car") -> CarSpec:
    """Validate one car as the scenario format describes it."""
    reader = FieldReader(data, where)
    vin = reader.string("vin")
    units = reader.choice("units", UNITS, KILOMETERS)
    if "km_per_percent" in data and "range_per_percent" in data:
        raise ScenarioError(f"{where}: give km_per_percent or range_per_percent, not both")
    km_per_percent = reader.number("km_per_percent", 4.0, minimum=0)
    if "range_per_percent" in data:
        # range_per_percent is in the car's own units; the simulator keeps kilometres.
        per_percent = reader.number("range_per_percent", 0, minimum=0)
        km_per_percent = per_percent * KM_PER_MILE if units == MILES else per_percent
    spec = CarSpec(
        vin=vin,
        vehicle_id=reader.string("vehicle_id", stable_id("vehicle", vin, 32)),
        brand=reader.string("brand", "BMW"),
        model=reader.string("model"),
        year=reader.integer("year", minimum=1900),
        units=units,
        percentage=reader.number("percentage", 50.0, minimum=0, maximum=100),
        km_per_percent=km_per_percent,
        charger_connected=reader.boolean("charger_connected", False),
        charging=reader.boolean("charging", False),
        charging_type=reader.string("charging_type", "CONDUCTIVE"),
        charge_rate_per_hour=reader.number("charge_rate_per_hour", 10.0, minimum=0),
        state=reader.optional_string("state", None),
        overrides=reader.mapping("overrides", {}),
    )
    reader.finish()
    if spec.charging and not spec.charger_connected:
        raise ScenarioError(f"{where}: a car cannot be charging while its charger is unplugged")
    return spec


def as_mapping(value: object, where: str) -> dict[str, object]:
    """Return value as a dict with string keys, or raise a ScenarioError."""
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected an object, got {_describe(value)}")
    if not all(isinstance(key, str) for key in value):
        raise ScenarioError(f"{where}: every key must be a string")
    return dict(value)


def _check_unique(values: list[str], what: str) -> None:
    """Raise a ScenarioError naming the first value that appears twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ScenarioError(f"duplicate {what} {value!r}")
        seen.add(value)


def _describe(value: object) -> str:
    """Describe a value's JSON type for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


class _Missing(Enum):
    """Marks a field without a default: it must be given."""

    MISSING = "missing"


_MISSING: Final = _Missing.MISSING


class FieldReader:
    """Read typed fields from a mapping, naming the field in every error."""

    def __init__(self, data: Mapping[str, object], where: str) -> None:
        self._data = data
        self._where = where
        self._read: set[str] = set()

    def _name(self, key: str) -> str:
        """Return the full name of a field, for error messages."""
        return f"{self._where}.{key}" if self._where else key

    def _get(self, key: str, default: object) -> object:
        """Return a field's raw value, or the default when it is absent."""
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise ScenarioError(f"{self._name(key)}: required")
        return default

    def _fail(self, key: str, expected: str, value: object) -> ScenarioError:
        """Return the error for a field of the wrong type or range."""
        return ScenarioError(f"{self._name(key)}: expected {expected}, got {_describe(value)}")

    def string(self, key: str, default: str | _Missing = _MISSING) -> str:
        """Read a non-empty string."""
        value = self._get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(key, "a non-empty string", value)
        return value

    def optional_string(self, key: str, default: str | None) -> str | None:
        """Read a non-empty string or null."""
        value = self._get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self._fail(key, "a non-empty string or null", value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """Read one of a few strings."""
        value = self._get(key, default)
        if value not in choices:
            raise self._fail(key, " or ".join(choices), value)
        return str(value)

    def optional_choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        """Read one of a few strings, or null."""
        return None if self._get(key, None) is None else self.choice(key, choices, "")

    def boolean(self, key: str, default: bool) -> bool:
        """Read true or false."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def integer(
        self,
        key: str,
        default: int | _Missing = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """Read a whole number between minimum and maximum."""
        value = self._get(key, default)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            bounds = "" if minimum is None else f" of at least {minimum}"
            if minimum is not None and maximum is not None:
                bounds = f" from {minimum} to {maximum}"
            raise self._fail(key, f"a whole number{bounds}", value)
        return value

    def optional_integer(self, key: str, *, minimum: int, maximum: int) -> int | None:
        """Read a whole number between minimum and maximum, or null."""
        if self._get(key, None) is None:
            return None
        return self.integer(key, minimum=minimum, maximum=maximum)

    def number(
        self, key: str, default: float, *, minimum: float, maximum: float | None = None
    ) -> float:
        """Read a number between minimum and maximum."""
        value = self._get(key, default)
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            upper = "" if maximum is None else f" to {maximum:g}"
            raise self._fail(key, f"a number from {minimum:g}{upper}", value)
        return float(value)

    def mapping(self, key: str, default: Mapping[str, object]) -> dict[str, object]:
        """Read an object."""
        return as_mapping(self._get(key, default), self._name(key))

    def strings(self, key: str) -> list[str]:
        """Read an optional list of non-empty strings."""
        value = self._get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise self._fail(key, "a list of strings", value)
        return [item.strip() for item in value]

    def objects(self, key: str, *, required: bool = True) -> list[dict[str, object]]:
        """Read a list of objects."""
        value = self._get(key, _MISSING if required else [])
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        return [as_mapping(item, f"{self._name(key)}[{index}]") for index, item in enumerate(value)]

    def finish(self) -> None:
        """Raise a ScenarioError if the mapping holds a field nobody read."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            where = f"{self._where}: " if self._where else ""
            raise ScenarioError(f"{where}unknown field {unknown[0]!r}")
