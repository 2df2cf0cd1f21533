"""Client for the Orange Power Connect cloud API (BMW endpoints).

Knows nothing about Home Assistant: it takes an aiohttp session and a base URL, returns frozen typed
models and raises the small error hierarchy below. It never logs a password, a token or a request body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import html
import json
import logging
import math
import re
import time
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.connect.orangepower.co.uk"
# Seconds before a request to the service is given up.
REQUEST_TIMEOUT = 30.0
TOKEN_PATH = "/api/bmw/oauth-token"
VEHICLES_PATH = "/api/get-user-devices"

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

# A body larger than this is not a vehicle list; refuse it rather than hold it in memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Of an error answer only the start is read: enough for an excerpt, and the status still counts.
MAX_ERROR_BODY_BYTES = 64 * 1024
# A token lifetime or a Retry-After beyond this is not believed (it also keeps datetimes in range).
MAX_TOKEN_LIFETIME = timedelta(days=1)
MAX_RETRY_AFTER = timedelta(days=1)
EXCERPT_LENGTH = 200
# A JSON value whose key names a token or an identifier, even cut off: an answer may hold a token
# or a car's VIN and ids the client cannot recognise, and a log must not show them.
SECRET_VALUE = re.compile(
    r'("(?:[^"]*token[^"]*|_?id|device_id|user_id|vin|e-?mail|password)"\s*:\s*)'
    r'(?:"(?:[^"\\]|\\.)*"?|-?\d+)',
    re.IGNORECASE,
)
# A word that looks like an identifier (a VIN, a database id, a token): letters and digits mixed,
# ten or more. The service may echo one anywhere, in text or HTML.
IDENTIFIER = re.compile(r"\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{10,}\b", re.IGNORECASE)

type Clock = Callable[[], datetime]


class OrangePowerError(Exception):
    """Base error of the Orange Power Connect client."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Keep the HTTP status, when there was one."""
        super().__init__(message)
        self.status = status


class InvalidCredentialsError(OrangePowerError):
    """The token endpoint refused the BMW credentials (401)."""


class TokenRejectedError(OrangePowerError):
    """The vehicles endpoint refused the access token: expired or revoked (401)."""


class RateLimitedError(OrangePowerError):
    """The service asked us to slow down (429)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int | None = None,
    ) -> None:
        """Keep the delay the service asked for, in seconds, or None when it gave none."""
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServiceGoneError(OrangePowerError):
    """The service says the API was removed (410)."""


class ServerError(OrangePowerError):
    """The service failed (5xx); worth trying again later."""


class ConnectionFailedError(OrangePowerError):
    """The service could not be reached, the connection dropped, or it timed out."""


class UnexpectedResponseError(OrangePowerError):
    """The service answered with a status, a body or a shape this client does not understand."""


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

    def as_dict(self) -> dict[str, Any]:
        """Return the token as JSON-ready data, for storage."""
        return {"access_token": self.access_token, "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token | None:
        """Return a token from stored data, or None when the data is not a usable token."""
        try:
            expires_at = datetime.fromisoformat(data["expires_at"])
            access_token = data["access_token"]
        except KeyError, TypeError, ValueError:
            return None
        if not isinstance(access_token, str) or not access_token or expires_at.tzinfo is None:
            return None
        return cls(access_token=access_token, expires_at=expires_at)


@dataclass(frozen=True, slots=True)
class ChargingStatus:
    """The charging state of a car; any part the service left out is None."""

    percentage: int | None
    state: str | None
    type: str | None
    charger_connected: bool | None


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One car of the account; any optional part the service left out is None."""

    vin: str
    vehicle_id: str | None
    user_id: str | None
    brand: str | None
    model: str | None
    year: int | None
    charging: ChargingStatus
    electric_range: float | None
    electric_range_unit: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the car as JSON-ready data, for storage."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Vehicle | None:
        """Return a car from stored data, or None when the data is not a car as as_dict wrote it."""
        charging = _stored_fields(
            ChargingStatus, data.get("charging") if isinstance(data, dict) else None
        )
        car = _stored_fields(cls, {**data, "charging": None}) if charging is not None else None
        if charging is None or car is None or not car["vin"]:
            return None
        return cls(**{**car, "charging": ChargingStatus(**charging)})


# The types as_dict writes, by the annotation of the field (None stands for a nested object).
_STORED_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
    "bool | None": (bool, type(None)),
    "ChargingStatus": (type(None),),
}


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


class VehicleList(list[Vehicle]):
    """The cars of one answer, and how many of its items were skipped for having no VIN."""

    skipped: int = 0


class OrangePowerClient:
    """Talks to one Orange Power Connect server through a session owned by the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = REQUEST_TIMEOUT,
        clock: Clock | None = None,
        redact: Iterable[str] = (),
    ) -> None:
        """Use the caller's session; every request gives up after `timeout` seconds.

        `redact`: more text the client's log never shows, such as the Orange Power account e-mail,
        which the service may echo in an answer to any request.
        """
        self._redact = tuple(redact)
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock or (lambda: datetime.now(UTC))

    async def login(self, email: str, password: str, account_email: str) -> Token:
        """Get a new access token for the BMW account, stored under the Orange Power account."""
        body = {"email": email, "password": password, "payload": {"email": account_email}}
        secrets = (email, password, account_email, *self._redact)
        status, headers, raw = await self._post(TOKEN_PATH, body, None, secrets)
        if status == 401:
            raise InvalidCredentialsError("The service refused the BMW credentials", status=status)
        self._raise_for_status(status, headers)
        # A token answer that is not JSON may still hold a token: none of it is logged.
        return parse_token(_decode_json(raw, status, None), self._clock())

    async def get_vehicles(self, token: Token, email: str, password: str) -> VehicleList:
        """Return the account's BMW cars (an empty list when it has none)."""
        secrets = (email, password, token.access_token, *self._redact)
        status, headers, raw = await self._post(
            VEHICLES_PATH,
            {"email": email, "password": password},
            {"Authorization": f"Bearer {token.access_token}"},
            secrets,
        )
        if status == 401:
            raise TokenRejectedError("The service refused the access token", status=status)
        self._raise_for_status(status, headers)
        return parse_vehicles(_decode_json(raw, status, secrets))

    async def _post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None,
        secrets: Iterable[str],
    ) -> tuple[int, Mapping[str, str], bytes]:
        """POST JSON and return the status, headers and body; transport problems become errors."""
        started = time.monotonic()
        try:
            async with self._session.post(
                self._base_url + path,
                json=body,
                headers={"Accept": "application/json", **(headers or {})},
                timeout=self._timeout,
                # A redirect would send the credentials on to wherever it points.
                allow_redirects=False,
            ) as response:
                raw = await _read_body(response)
                status, elapsed = response.status, time.monotonic() - started
                if 200 <= status <= 299:
                    _LOGGER.debug("POST %s: %s in %.2f s", path, status, elapsed)
                else:
                    # The start of the answer says why, with the request's secrets taken out.
                    _LOGGER.debug(
                        "POST %s: %s in %.2f s: %s", path, status, elapsed, _excerpt(raw, secrets)
                    )
                return status, response.headers, raw
        except TimeoutError as err:
            raise ConnectionFailedError(
                f"No answer from the service within {self._timeout.total} s"
            ) from err
        except aiohttp.ClientError as err:
            # aiohttp's messages can hold the URL but never the body or headers we sent.
            message = _redact(f"{type(err).__name__}: {err}", secrets)
            raise ConnectionFailedError(f"Could not reach the service ({message})") from err

    def _raise_for_status(self, status: int, headers: Mapping[str, str]) -> None:
        """Raise the error that a non-success status stands for."""
        if 200 <= status <= 299:
            return
        if status == 429:
            retry_after = parse_retry_after(headers.get("Retry-After"), self._clock())
            raise RateLimitedError(
                "The service is rate limiting requests", retry_after=retry_after, status=status
            )
        if status == 410:
            raise ServiceGoneError("The service says this API was removed", status=status)
        if 500 <= status <= 599:
            raise ServerError(f"The service failed with status {status}", status=status)
        raise UnexpectedResponseError(f"The service answered with status {status}", status=status)


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """Read a success body up to MAX_BODY_BYTES (refusing more), an error body's start only."""
    success = 200 <= response.status <= 299
    limit = MAX_BODY_BYTES if success else MAX_ERROR_BODY_BYTES
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if success:
                raise UnexpectedResponseError(
                    f"The response is larger than {MAX_BODY_BYTES} bytes", status=response.status
                )
            break
    return b"".join(chunks)[:limit]


def _decode_json(raw: bytes, status: int, secrets: Iterable[str] | None) -> Any:
    """Decode a JSON body, or raise UnexpectedResponseError (logging its start, unless no secrets)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        if secrets is not None:
            _LOGGER.debug("The answer is not JSON; it began: %s", _excerpt(raw, secrets))
        raise UnexpectedResponseError(
            "The service answered with something that is not JSON", status=status
        ) from err


def _redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in the text, as written or escaped as a server may echo it."""
    # An empty secret would match everywhere.
    for secret in filter(None, secrets):
        escaped = json.dumps(secret)[1:-1]
        for form in {
            secret,
            escaped,
            escaped.replace("/", "\\/"),
            json.dumps(secret, ensure_ascii=False)[1:-1],
            html.escape(secret),
            quote(secret, safe=""),
            quote_plus(secret),
        }:
            text = re.sub(re.escape(form), "**REDACTED**", text, flags=re.IGNORECASE)
    return text


def _excerpt(raw: bytes, secrets: Iterable[str]) -> str:
    """Return the start of a body on one line, without the request's secrets, tokens or ids."""
    text = SECRET_VALUE.sub(r'\1"**REDACTED**"', raw.decode("utf-8", "replace"))
    return " ".join(redact_identifiers(_redact(text, secrets)).split())[:EXCERPT_LENGTH]


def redact_identifiers(text: str) -> str:
    """Return the text with every word that looks like an identifier (a VIN, an id) replaced."""
    return IDENTIFIER.sub("**ID**", text)


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
        raise UnexpectedResponseError("The token response is not a JSON object", status=200)
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise UnexpectedResponseError("The token response has no access token", status=200)
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
            raise UnexpectedResponseError("The response is not a vehicle list", status=200)
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
        vehicle_id=_text_or_number(item.get("id")),
        user_id=_text_or_number(item.get("user_id")),
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
