"""Client for the Orange Power Connect cloud API (BMW endpoints), and the errors it raises.

Knows nothing about Home Assistant: it takes an aiohttp session, a base URL and the account's
credentials, keeps the access token (logging in when there is none or it is due, renewing it once
when the service refuses it) and returns the frozen models of `models.py`. It never logs a password,
a token, an identifier or a request body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import html
import json
import logging
import re
import time
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp

from .models import (
    Token,
    UnexpectedShapeError,
    VehicleList,
    parse_retry_after,
    parse_token,
    parse_vehicles,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.connect.orangepower.co.uk"
# Seconds before a request to the service is given up.
REQUEST_TIMEOUT = 30.0
TOKEN_PATH = "/api/bmw/oauth-token"
VEHICLES_PATH = "/api/get-user-devices"
# A token with less than this left is renewed before the request rather than risked.
TOKEN_RENEW_MARGIN = timedelta(minutes=5)

# A body larger than this is not a vehicle list; refuse it rather than hold it in memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Of an error answer only the start is read: enough for an excerpt, and the status still counts.
MAX_ERROR_BODY_BYTES = 64 * 1024
EXCERPT_LENGTH = 200
# A JSON value whose key names a token or an identifier, even cut off: an answer may hold a token
# or a car's VIN and ids the client cannot recognise, and a log must not show them.
SECRET_VALUE = re.compile(
    r'("(?:[^"]*token[^"]*|_?id|device_id|user_id|vin|e-?mail|password)"\s*:\s*)'
    r'(?:"(?:[^"\\]|\\.)*"?|-?\d+)',
    re.IGNORECASE,
)
# A word that looks like an identifier (a VIN, a database id, a token, even an old one): letters
# and digits mixed, ten or more, with "-" and "_" as in base64url. The service may echo one
# anywhere, in text or HTML.
IDENTIFIER = re.compile(
    r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[a-z])[\w-]{10,}(?![\w-])", re.IGNORECASE | re.ASCII
)

type Clock = Callable[[], datetime]
# Called before each request with how many requests the call still needs, this one included (a
# login is no use without the list it is for); it counts the request, or raises BudgetSpentError.
type RequestHook = Callable[[int], None]
type TokenCallback = Callable[[Token], None]


class OrangePowerError(Exception):
    """Base error of the Orange Power Connect client."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Keep the HTTP status, when there was one."""
        super().__init__(message)
        self.status = status


class InvalidCredentialsError(OrangePowerError):
    """The token endpoint refused the BMW credentials (401)."""


class TokenRejectedError(OrangePowerError):
    """The vehicles endpoint refused the access token, even a fresh one (401)."""


class RateLimitedError(OrangePowerError):
    """The service asked the client to slow down (429)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        """Keep the delay the service asked for, in seconds, or None when it gave none."""
        super().__init__(message, status=status)
        self.retry_after = retry_after


class QuotaExceededError(RateLimitedError):
    """The service refused access (403), which is how a used-up quota usually arrives."""


class ServiceGoneError(OrangePowerError):
    """The service says the API was removed (410)."""


class ServerError(OrangePowerError):
    """The service failed (5xx); worth trying again later."""


class ConnectionFailedError(OrangePowerError):
    """The service could not be reached, the connection dropped, or it timed out."""


class UnexpectedResponseError(OrangePowerError):
    """The service answered with a status, a body or a shape this client does not understand."""


class BudgetSpentError(OrangePowerError):
    """The daily request limit allows no more requests today; nothing was sent."""


def error_key(err: OrangePowerError) -> str:
    """Return the translation key of what the user is told: a form's error and a failed poll's."""
    match err:
        case InvalidCredentialsError():
            return "invalid_auth"
        case TokenRejectedError():
            return "token_rejected"
        case QuotaExceededError():
            return "forbidden"
        case RateLimitedError():
            return "rate_limited"
        case ConnectionFailedError():
            return "cannot_connect"
        case ServerError():
            return "server_error"
        case ServiceGoneError():
            return "service_gone"
        case BudgetSpentError():
            return "daily_limit_reached"
        case _:
            return "invalid_response"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The MyBMW account and the Orange Power Connect account its tokens are kept under."""

    email: str
    password: str = field(repr=False)
    account_email: str

    @property
    def secrets(self) -> tuple[str, ...]:
        """Return what no log may show."""
        return (self.email, self.password, self.account_email)


class OrangePowerClient:
    """Talks to one Orange Power Connect server for one account, through the caller's session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: Token | None = None,
        on_token: TokenCallback | None = None,
        before_request: RequestHook | None = None,
        timeout: float = REQUEST_TIMEOUT,
        clock: Clock | None = None,
    ) -> None:
        """Start from a token kept from before, if any; hand each new token to `on_token`."""
        self._session = session
        self._credentials = credentials
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._on_token = on_token
        self._before_request = before_request
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock or (lambda: datetime.now(UTC))
        # Requests made by this client (since the entry loaded), for diagnostics.
        self.logins = 0
        self.vehicle_calls = 0

    def token_due(self, now: datetime) -> bool:
        """Return whether the next request must log in first."""
        return self._token is None or self._token.expires_within(TOKEN_RENEW_MARGIN, now)

    async def get_vehicles(self) -> VehicleList:
        """Return the account's BMW cars (an empty list when it has none).

        Logs in first when there is no token or it is due; a token the service refuses is renewed
        and the call made once more.
        """
        token = self._token
        if token is None or self.token_due(self._clock()):
            token = await self.login()
        try:
            return await self._vehicles(token)
        except TokenRejectedError:
            _LOGGER.debug("The access token was refused; renewing it and retrying once")
        return await self._vehicles(await self.login())

    async def check(self) -> Token:
        """Log in afresh and list the cars once, as the forms check an account; return the token."""
        token = await self.login()
        await self._vehicles(token)
        return token

    async def login(self) -> Token:
        """Get a new access token for the BMW account, stored under the Orange Power account."""
        credentials = self._credentials
        self._count(2)
        self.logins += 1
        body = {
            "email": credentials.email,
            "password": credentials.password,
            "payload": {"email": credentials.account_email},
        }
        status, headers, raw = await self._post(TOKEN_PATH, body, None, credentials.secrets)
        if status == 401:
            raise InvalidCredentialsError("The service refused the BMW credentials", status=status)
        self._raise_for_status(status, headers)
        # A token answer that is not JSON may still hold a token: none of it is logged.
        token = _parsed(parse_token, _decode_json(raw, status, None), self._clock())
        self._token = token
        if self._on_token is not None:
            self._on_token(token)
        return token

    async def _vehicles(self, token: Token) -> VehicleList:
        """Make one vehicles call with this token."""
        credentials = self._credentials
        self._count(1)
        self.vehicle_calls += 1
        secrets = (*credentials.secrets, token.access_token)
        status, headers, raw = await self._post(
            VEHICLES_PATH,
            {"email": credentials.email, "password": credentials.password},
            {"Authorization": f"Bearer {token.access_token}"},
            secrets,
        )
        if status == 401:
            raise TokenRejectedError("The service refused the access token", status=status)
        self._raise_for_status(status, headers)
        return _parsed(parse_vehicles, _decode_json(raw, status, secrets))

    def _count(self, needed: int) -> None:
        """Let the hook count the request about to be made, or refuse it."""
        if self._before_request is not None:
            self._before_request(needed)

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
        if status == 403:
            raise QuotaExceededError("The service refused access", status=status)
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


def _parsed[T](parse: Callable[..., T], *args: Any) -> T:
    """Return what the parser makes of an answer; a shape it does not know is an unexpected one."""
    try:
        return parse(*args)
    except UnexpectedShapeError as err:
        raise UnexpectedResponseError(str(err), status=200) from err
