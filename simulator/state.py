"""The simulator's state: clock, accounts, cars and their charging, tokens, faults and counters."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
import copy
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
import math
import secrets
from typing import Final

from .scenario import (
    KM_PER_MILE,
    MILES,
    UNITS,
    AccountSpec,
    CarSpec,
    FieldReader,
    Scenario,
    ScenarioError,
    default_scenario,
    parse_car,
    stable_id,
)

ENDPOINTS: Final = ("token", "vehicles")
DROPS: Final = ("before", "mid_body")
SCOPE: Final = (
    "smacc vehicle_data vehicle_list perseus svds dlm cesim mini_connected "
    "remote_services authenticate_user fupo"
)


class SimulatorError(Exception):
    """A request the simulator refuses, with the HTTP status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SimulatorClock:
    """The real clock (UTC, so freezegun moves it too) plus an offset that tests advance."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """Return the simulator's current time."""
        return datetime.now(UTC) + self._offset

    @property
    def offset_seconds(self) -> float:
        """Return how far the clock has been advanced."""
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        if not math.isfinite(seconds) or seconds < 0:
            raise SimulatorError(400, "the clock only moves forward: advance must be >= 0")
        self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        """Drop the offset: back to the real clock."""
        self._offset = timedelta()


# At a demo speed, a full charge stays full this long before it starts over, from the scenario's
# level but no higher than DEMO_RESTART_AT.
DEMO_HOLD_FULL = timedelta(minutes=5)
DEMO_RESTART_AT = 80.0


class Car:
    """A car whose charge moves on with the clock whenever it is read.

    At a demo speed the charge moves that many times faster, and a charge that reaches 100% stays
    full for DEMO_HOLD_FULL, then starts over, so that a demo always has a charge to watch.
    """

    def __init__(self, spec: CarSpec, now: datetime, demo_speed: float | None = None) -> None:
        self.spec = spec
        self.demo_speed = demo_speed
        # When a demo's charge reached 100 %, to start it over.
        self.full_since: datetime | None = None
        self.percentage = spec.percentage
        self.charger_connected = spec.charger_connected
        self.charging = spec.charging
        self.charging_type = spec.charging_type
        self.units = spec.units
        self.state_override = spec.state
        self.overrides: dict[str, object] = copy.deepcopy(dict(spec.overrides))
        self.updated_at = now
        self.advance(now)

    @property
    def vin(self) -> str:
        """Return the VIN (the served device_id)."""
        return self.spec.vin

    def advance(self, now: datetime) -> None:
        """Charge the car for the time since it was last read; charging stops at 100%."""
        hours = (now - self.updated_at).total_seconds() / 3600
        if self.charging and hours > 0:
            self.percentage += self.spec.charge_rate_per_hour * (self.demo_speed or 1) * hours
        self.updated_at = max(now, self.updated_at)
        if self.percentage >= 100:
            if self.charging and self.demo_speed:
                self.full_since = now
            self.percentage = 100.0
            self.charging = False
        if self.full_since is not None and now - self.full_since >= DEMO_HOLD_FULL:
            self.full_since = None
            if self.charger_connected:
                self.percentage = min(self.spec.percentage, DEMO_RESTART_AT)
                self.charging = True

    @property
    def state(self) -> str:
        """Return the charging state the service reports."""
        if self.state_override is not None:
            return self.state_override
        if not self.charger_connected:
            return "NOT_CHARGING"
        if self.percentage >= 100:
            return "FULLY_CHARGED"
        return "CHARGING" if self.charging else "PLUGGED_IN"

    @property
    def charge_percentage(self) -> int:
        """Return the whole percentage shown (rounded down, as a gauge would)."""
        return math.floor(self.percentage + 1e-9)

    @property
    def range_value(self) -> int:
        """Return the electric range in the car's units."""
        km = self.percentage * self.spec.km_per_percent
        return round(km / KM_PER_MILE if self.units == MILES else km)

    def vehicle(self, user_id: str) -> dict[str, object]:
        """Return the car as the vehicles endpoint serves it."""
        served: dict[str, object] = {
            "_id": stable_id("device", self.vin, 24),
            "electric_range": {"distance": {"value": self.range_value, "units": self.units}},
            "device_type": "bmw",
            "user_id": user_id,
            "device_id": self.vin,
            "id": self.spec.vehicle_id,
            "model": self.spec.model,
            "year": self.spec.year,
            "brand": self.spec.brand,
            "charging_state": {
                "charge_percentage": str(self.charge_percentage),
                "state": self.state,
                "type": self.charging_type,
                "is_charger_connected": self.charger_connected,
            },
            "__v": 0,
        }
        return deep_merge(served, self.overrides)

    def as_json(self, account: Account) -> dict[str, object]:
        """Return the car's simulated state and its served form, for the control API."""
        return {
            "vin": self.vin,
            "vehicle_id": self.spec.vehicle_id,
            "account": account.email,
            "percentage": round(self.percentage, 4),
            "charger_connected": self.charger_connected,
            "charging": self.charging,
            "charging_type": self.charging_type,
            "charge_rate_per_hour": self.spec.charge_rate_per_hour,
            "units": self.units,
            "state": self.state,
            "state_override": self.state_override,
            "overrides": self.overrides,
            "vehicle": self.vehicle(account.user_id),
        }


def deep_merge(base: dict[str, object], overrides: Mapping[str, object]) -> dict[str, object]:
    """Return base with overrides merged in, objects recursively; a null replaces like any value."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class Account:
    """A BMW account, the Orange Power account it belongs to, and its cars."""

    email: str
    password: str
    account_email: str
    user_id: str
    cars: list[Car]

    def as_json(self) -> dict[str, object]:
        """Return the account for the control API (passwords included: this is a test tool)."""
        return {
            "email": self.email,
            "password": self.password,
            "account_email": self.account_email,
            "user_id": self.user_id,
            "cars": [car.as_json(self) for car in self.cars],
        }


@dataclass(frozen=True)
class Token:
    """An access token issued to an account."""

    email: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class Fault:
    """What to do to one request instead of (or before) answering it normally."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    body: str | None = None
    drop: str | None = None

    @property
    def changes_answer(self) -> bool:
        """Return whether the fault does more than delay the normal answer."""
        return self.status is not None or self.body is not None or self.drop is not None

    def as_json(self) -> dict[str, object]:
        """Return the fault for the control API."""
        return {
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "body": self.body,
            "drop": self.drop,
        }


def parse_fault(fields: Mapping[str, object]) -> tuple[Fault, int]:
    """Validate a fault (and how many requests it hits) given as plain data."""
    fields = dict(fields)
    retry_after = fields.get("retry_after")
    if isinstance(retry_after, int) and not isinstance(retry_after, bool):
        fields["retry_after"] = str(retry_after)
    reader = FieldReader(fields, "fault")
    count = reader.integer("count", 1, minimum=1)
    fault = Fault(
        status=reader.optional_integer("status", minimum=100, maximum=599),
        retry_after=reader.optional_string("retry_after", None),
        delay=reader.number("delay", 0.0, minimum=0),
        body=reader.optional_string("body", None),
        drop=reader.optional_choice("drop", DROPS),
    )
    reader.finish()
    if not fault.changes_answer and not fault.delay:
        raise ScenarioError("fault: give at least one of status, body, drop or delay")
    return fault, count


class Simulator:
    """The Orange Power Connect service's state, driven by its HTTP API and by tests."""

    def __init__(
        self, scenario: Scenario | None = None, *, demo_speed: float | None = None
    ) -> None:
        self.scenario = scenario or default_scenario()
        # Charges move this many times faster and start over when full (scripts/develop's demo).
        self.demo_speed = demo_speed
        self.clock = SimulatorClock()
        self.token_lifetime = self.scenario.token_lifetime
        self.accounts: list[Account] = []
        self._tokens: dict[str, Token] = {}
        self._faults: dict[str, deque[Fault]] = {endpoint: deque() for endpoint in ENDPOINTS}
        self._requests: Counter[str] = Counter()
        self._statuses: dict[str, Counter[str]] = {endpoint: Counter() for endpoint in ENDPOINTS}
        self.reset()

    def reset(self) -> None:
        """Go back to the scenario: cars and passwords; no tokens, faults, counts or clock offset."""
        self.clock.reset()
        self.token_lifetime = self.scenario.token_lifetime
        self.accounts = [self._new_account(spec) for spec in self.scenario.accounts]
        for spec in self.scenario.accounts:
            for vin in spec.shared_cars:
                self.share_car(vin, spec.email)
        self._tokens.clear()
        self.clear_faults()
        self._requests.clear()
        for statuses in self._statuses.values():
            statuses.clear()

    def _new_account(self, spec: AccountSpec) -> Account:
        """Build an account's live state from its spec."""
        now = self.clock.now()
        return Account(
            email=spec.email,
            password=spec.password,
            account_email=spec.account_email,
            user_id=stable_id("user", spec.email.lower(), 24),
            cars=[Car(car, now, self.demo_speed) for car in spec.cars],
        )

    def account(self, email: str) -> Account:
        """Return the account with this BMW email (case and surrounding spaces ignored)."""
        wanted = email.strip().lower()
        for account in self.accounts:
            if account.email.lower() == wanted:
                return account
        raise SimulatorError(404, f"no account {email!r}")

    def _find_car(self, vin: str) -> tuple[Account, Car]:
        """Return the car with this VIN and its account, brought up to the current time."""
        for account in self.accounts:
            for car in account.cars:
                if car.vin == vin:
                    car.advance(self.clock.now())
                    return account, car
        raise SimulatorError(404, f"no car with vin {vin!r}")

    def car(self, vin: str) -> Car:
        """Return the car with this VIN, brought up to the current time."""
        return self._find_car(vin)[1]

    def car_json(self, vin: str) -> dict[str, object]:
        """Return a car's simulated state and its served form, for the control API."""
        account, car = self._find_car(vin)
        return car.as_json(account)

    # The service's two endpoints.

    def issue_token(self, email: str, password: str, account_email: str) -> dict[str, object]:
        """Log in as the service's token endpoint does and return its answer."""
        try:
            account = self.account(email)
        except SimulatorError:
            raise SimulatorError(401, "wrong email or password") from None
        if not secrets.compare_digest(password.encode(), account.password.encode()):
            raise SimulatorError(401, "wrong email or password")
        if account_email.strip().lower() != account.account_email.lower():
            raise SimulatorError(401, "payload.email is not the Orange Power account of this login")
        access_token = secrets.token_urlsafe(27)
        expires_at = self.clock.now() + timedelta(seconds=self.token_lifetime)
        self._tokens[access_token] = Token(email=account.email, expires_at=expires_at)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": secrets.token_urlsafe(40),
            "scope": SCOPE,
        }

    def check_token(self, access_token: str) -> Token:
        """Return the token record, or raise 401 if the token is unknown or expired."""
        token = self._tokens.get(access_token)
        if token is None:
            raise SimulatorError(401, "invalid token")
        if self.clock.now() >= token.expires_at:
            raise SimulatorError(401, "token expired")
        return token

    def vehicles(self, token: Token, email: str, password: str) -> list[dict[str, object]]:
        """Return the served cars of the token's account, if the credentials are its own."""
        account = self.account(token.email)
        if email.strip().lower() != account.email.lower() or not secrets.compare_digest(
            password.encode(), account.password.encode()
        ):
            raise SimulatorError(401, "the token does not belong to these credentials")
        now = self.clock.now()
        for car in account.cars:
            car.advance(now)
        return [car.vehicle(account.user_id) for car in account.cars]

    # Control: cars.

    def plug(self, vin: str) -> Car:
        """Plug the car's charger in (it does not start charging)."""
        car = self.car(vin)
        car.charger_connected = True
        return car

    def unplug(self, vin: str) -> Car:
        """Unplug the car's charger, which stops charging."""
        car = self.car(vin)
        car.charger_connected = False
        car.charging = False
        car.full_since = None
        return car

    def start_charging(self, vin: str) -> Car:
        """Start charging a plugged-in car (a full car stops again at once)."""
        car = self.car(vin)
        if not car.charger_connected:
            raise SimulatorError(409, f"car {vin} is not plugged in")
        car.charging = True
        car.full_since = None
        car.advance(self.clock.now())
        return car

    def stop_charging(self, vin: str) -> Car:
        """Stop charging; the charger stays plugged in."""
        car = self.car(vin)
        car.charging = False
        car.full_since = None
        return car

    def update_car(self, vin: str, **fields: object) -> Car:
        """Change any of percentage, state, charger_connected, charging, charging_type, units, overrides."""
        car = self.car(vin)
        reader = FieldReader(fields, f"car {vin}")
        percentage = reader.number("percentage", car.percentage, minimum=0, maximum=100)
        connected = reader.boolean("charger_connected", car.charger_connected)
        charging = reader.boolean("charging", car.charging and connected)
        charging_type = reader.string("charging_type", car.charging_type)
        units = reader.choice("units", UNITS, car.units)
        state = reader.optional_string("state", car.state_override)
        overrides = reader.mapping("overrides", car.overrides)
        reader.finish()
        if charging and not connected:
            raise SimulatorError(409, f"car {vin} cannot charge while unplugged")
        car.percentage = percentage
        car.charger_connected = connected
        car.charging = charging
        car.charging_type = charging_type
        car.units = units
        car.state_override = state
        car.overrides = copy.deepcopy(overrides)
        # Set by hand: a demo's full charge does not start over on its own.
        car.full_since = None
        car.advance(self.clock.now())
        return car

    def add_car(self, email: str, car: Mapping[str, object]) -> Car:
        """Add a car (given as in a scenario file) to an account."""
        account = self.account(email)
        spec = parse_car(car)
        for _, other in self._all_cars():
            if spec.vin == other.vin:
                raise SimulatorError(409, f"a car with vin {spec.vin!r} already exists")
            if spec.vehicle_id == other.spec.vehicle_id:
                raise SimulatorError(
                    409, f"a car with vehicle_id {spec.vehicle_id!r} already exists"
                )
        new_car = Car(spec, self.clock.now(), self.demo_speed)
        account.cars.append(new_car)
        return new_car

    def remove_car(self, vin: str, email: str | None = None) -> None:
        """Remove a car from one account, or from every account that lists it."""
        _, car = self._find_car(vin)
        accounts = self.accounts if email is None else [self.account(email)]
        listed = [account for account in accounts if car in account.cars]
        if not listed:
            raise SimulatorError(404, f"account {email!r} has no car with vin {vin!r}")
        for account in listed:
            account.cars.remove(car)

    def share_car(self, vin: str, email: str) -> Car:
        """Serve a car of one account to another too, as for a secondary driver."""
        _, car = self._find_car(vin)
        account = self.account(email)
        if any(other.vin == vin for other in account.cars):
            raise SimulatorError(409, f"account {email!r} already has a car with vin {vin!r}")
        account.cars.append(car)
        return car

    def _all_cars(self) -> list[tuple[Account, Car]]:
        """Return every car with its account."""
        return [(account, car) for account in self.accounts for car in account.cars]

    # Control: accounts and tokens.

    def set_password(self, email: str, password: str) -> None:
        """Change an account's BMW password; tokens already issued stay valid until they expire."""
        if not password:
            raise SimulatorError(400, "the password must not be empty")
        self.account(email).password = password

    def expire_tokens(self) -> int:
        """Expire every token issued so far; return how many were still valid."""
        now = self.clock.now()
        valid = sum(now < token.expires_at for token in self._tokens.values())
        self._tokens = {
            key: replace(token, expires_at=min(now, token.expires_at))
            for key, token in self._tokens.items()
        }
        return valid

    # Control: faults and counters.

    def inject_fault(self, endpoint: str, **fault: object) -> None:
        """Queue a fault for the next count requests to an endpoint ("token" or "vehicles")."""
        if endpoint not in ENDPOINTS:
            raise ScenarioError(
                f"fault.endpoint: expected {' or '.join(ENDPOINTS)}, got {endpoint!r}"
            )
        parsed, count = parse_fault(fault)
        self._faults[endpoint].extend([parsed] * count)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        for queue in self._faults.values():
            queue.clear()

    @property
    def faults(self) -> dict[str, list[Fault]]:
        """Return the queued faults per endpoint, next first."""
        return {endpoint: list(queue) for endpoint, queue in self._faults.items()}

    def take_fault(self, endpoint: str) -> Fault | None:
        """Return the next fault for an endpoint, if any, removing it from the queue."""
        queue = self._faults[endpoint]
        return queue.popleft() if queue else None

    def count_request(self, endpoint: str) -> None:
        """Count a request that reached an endpoint."""
        self._requests[endpoint] += 1

    def count_answer(self, endpoint: str, outcome: str) -> None:
        """Count how an endpoint answered: a status code, or "dropped"."""
        self._statuses[endpoint][outcome] += 1

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of requests per endpoint."""
        return {endpoint: self._requests[endpoint] for endpoint in ENDPOINTS}

    @property
    def status_counts(self) -> dict[str, dict[str, int]]:
        """Return, per endpoint, the number of answers per status (or "dropped")."""
        return {endpoint: dict(sorted(self._statuses[endpoint].items())) for endpoint in ENDPOINTS}

    def as_json(self) -> dict[str, object]:
        """Return everything, for the control API."""
        now = self.clock.now()
        for _, car in self._all_cars():
            car.advance(now)
        return {
            "clock": now.isoformat(),
            "clock_offset_seconds": self.clock.offset_seconds,
            "token_lifetime": self.token_lifetime,
            "accounts": [account.as_json() for account in self.accounts],
            "tokens": [
                {
                    "email": token.email,
                    "expires_at": token.expires_at.isoformat(),
                    "expired": now >= token.expires_at,
                }
                for token in self._tokens.values()
            ],
            "faults": {
                endpoint: [fault.as_json() for fault in queue]
                for endpoint, queue in self.faults.items()
            },
            "counters": {**self.counts, "by_status": self.status_counts},
        }
