"""The coordinator: token lifecycle, polling, and mapping the client's errors to Home Assistant's."""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
import random
from typing import override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.update_coordinator import TimestampDataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    CHARGING_STATES,
    CHARGING_TYPES,
    ConnectionFailedError,
    InvalidCredentialsError,
    OrangePowerClient,
    OrangePowerError,
    RateLimitedError,
    ServerError,
    ServiceGoneError,
    Token,
    TokenRejectedError,
    Vehicle,
)
from .charging import ChargingInsight
from .const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    CONF_TOKEN,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DOMAIN,
    TOKEN_RENEW_MARGIN,
)

_LOGGER = logging.getLogger(__name__)

type OrangePowerConfigEntry = ConfigEntry[OrangePowerCoordinator]

# States in which a car is plugged in, so its values change and polling speeds up.
ACTIVE_STATES = frozenset({"CHARGING", "PLUGGED_IN", "WAITING_FOR_CHARGING"})

# Without a Retry-After, a rate-limited poll waits twice as long each time, up to this.
MAX_BACKOFF = timedelta(hours=1)
# A Retry-After of 0 or in the past would make the next poll immediate: wait at least this.
MIN_RETRY_AFTER = timedelta(minutes=1)
# Rate limited for this long without a good poll in between: tell the user in a repair.
RATE_LIMIT_REPAIR_AFTER = timedelta(hours=1)
# While the service says the API is gone, ask no more than this often whether it is back.
GONE_POLL_INTERVAL = timedelta(hours=1)


def is_active(vehicle: Vehicle) -> bool:
    """Return whether the car is charging or plugged in."""
    return vehicle.charging.charger_connected is True or vehicle.charging.state in ACTIVE_STATES


class OrangePowerCoordinator(TimestampDataUpdateCoordinator[dict[str, Vehicle]]):
    """Polls the account's cars with one call per poll; data is the cars keyed by VIN."""

    config_entry: OrangePowerConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: OrangePowerConfigEntry, client: OrangePowerClient
    ) -> None:
        """Start from the token stored in the entry, so a restart needs no login."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=self._interval(active=False, entry=entry),
        )
        self.client = client
        self._token = Token.from_dict(entry.data.get(CONF_TOKEN) or {})
        self._unknown_values_seen: set[str] = set()
        self._backoff: timedelta | None = None
        self._limited_since: datetime | None = None
        self.login_calls = 0
        self.vehicle_calls = 0
        self.charging = ChargingInsight(hass, entry.entry_id)

    @staticmethod
    def _interval(*, active: bool, entry: ConfigEntry) -> timedelta:
        """Return the polling interval the user chose for an active or an idle account."""
        if active:
            return timedelta(
                minutes=entry.options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL)
            )
        return timedelta(minutes=entry.options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL))

    @override
    async def _async_update_data(self) -> dict[str, Vehicle]:
        """Fetch the cars, renewing the token when it is due or was refused."""
        try:
            vehicles = await self._fetch_vehicles()
        except InvalidCredentialsError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except OrangePowerError as err:
            raise UpdateFailed(
                retry_after=self._wait_after(err),
                translation_domain=DOMAIN,
                translation_key=_error_key(err),
                translation_placeholders={"status": str(err.status)},
            ) from err
        self._recovered()
        data = {vehicle.vin: vehicle for vehicle in vehicles}
        self.charging.observe(data, dt_util.utcnow())
        self._warn_unknown_values(vehicles)
        if self.data is None or data.keys() != self.data.keys():
            self._remove_stale_devices(data)
        self.update_interval = self._interval(
            active=any(is_active(vehicle) for vehicle in vehicles), entry=self.config_entry
        )
        return data

    async def _fetch_vehicles(self) -> list[Vehicle]:
        """Make the vehicles call; on a refused token renew once and retry once."""
        token = await self._valid_token()
        try:
            return await self._count_vehicle_call(token)
        except TokenRejectedError:
            _LOGGER.debug("The access token was refused; renewing it and retrying once")
        return await self._count_vehicle_call(await self._valid_token(refused=token))

    async def _count_vehicle_call(self, token: Token) -> list[Vehicle]:
        """Make one vehicles call, counted for diagnostics."""
        self.vehicle_calls += 1
        entry = self.config_entry
        return await self.client.get_vehicles(
            token, entry.data[CONF_EMAIL], entry.data[CONF_PASSWORD]
        )

    async def _valid_token(self, refused: Token | None = None) -> Token:
        """Return a token with more than the margin left (not the refused one), logging in if needed.

        Home Assistant runs this coordinator's refreshes one at a time, so however many
        refreshes are asked for at once, one login renews the token for all of them.
        """
        token = self._token
        if (
            token is not None
            and token is not refused
            and not token.expires_within(TOKEN_RENEW_MARGIN, dt_util.utcnow())
        ):
            return token
        self._token = await self._login()
        return self._token

    async def _login(self) -> Token:
        """Log in and keep the new token in the entry, without reloading it."""
        entry = self.config_entry
        self.login_calls += 1
        token = await self.client.login(
            entry.data[CONF_EMAIL], entry.data[CONF_PASSWORD], entry.data[CONF_ACCOUNT_EMAIL]
        )
        self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_TOKEN: token.as_dict()}
        )
        return token

    def _wait_after(self, err: OrangePowerError) -> float | None:
        """Return how long to wait before the next poll after a failed one; None: as usual."""
        if isinstance(err, ServiceGoneError):
            self._raise_issue("service_gone")
            return GONE_POLL_INTERVAL.total_seconds()
        # A 403 is how quota errors often arrive, so it is treated as rate limiting.
        if not isinstance(err, RateLimitedError) and err.status != 403:
            return None
        now = dt_util.utcnow()
        self._limited_since = self._limited_since or now
        if now - self._limited_since >= RATE_LIMIT_REPAIR_AFTER:
            self._raise_issue("rate_limited")
        if isinstance(err, RateLimitedError) and err.retry_after is not None:
            return max(err.retry_after, MIN_RETRY_AFTER.total_seconds())
        interval = self.update_interval or MAX_BACKOFF
        self._backoff = min((self._backoff or interval) * 2, MAX_BACKOFF)
        # Jitter (not security-relevant) keeps many installations from retrying in step.
        return self._backoff.total_seconds() * random.uniform(0.8, 1.0)  # noqa: S311

    def _recovered(self) -> None:
        """Forget the backoff and withdraw the repairs after a good poll."""
        self._backoff = None
        self._limited_since = None
        for key in ("rate_limited", "service_gone"):
            ir.async_delete_issue(self.hass, DOMAIN, f"{key}_{self.config_entry.entry_id}")

    def _raise_issue(self, key: str) -> None:
        """Show a repair for this account; raising it again changes nothing."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{key}_{self.config_entry.entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
        )

    def _warn_unknown_values(self, vehicles: list[Vehicle]) -> None:
        """Warn once per charging state or type this integration does not know yet."""
        for vehicle in vehicles:
            for value, known in (
                (vehicle.charging.state, CHARGING_STATES),
                (vehicle.charging.type, CHARGING_TYPES),
            ):
                if (
                    value is not None
                    and value not in known
                    and value not in self._unknown_values_seen
                ):
                    self._unknown_values_seen.add(value)
                    _LOGGER.warning(
                        "The service reported %r, a value this integration does not know yet; "
                        "it is shown as unknown. Please report it",
                        value,
                    )

    def _remove_stale_devices(self, data: dict[str, Vehicle]) -> None:
        """Remove the devices of cars that are no longer on the account."""
        registry = dr.async_get(self.hass)
        entry_id = self.config_entry.entry_id
        for device in dr.async_entries_for_config_entry(registry, entry_id):
            vins = {value for domain, value in device.identifiers if domain == DOMAIN}
            if vins and not vins & data.keys():
                _LOGGER.info("A car left the account; removing its device %s", device.name)
                registry.async_remove_device(device.id)


def _error_key(err: OrangePowerError) -> str:
    """Return the translation key of the message for a failed poll."""
    match err:
        case RateLimitedError():
            return "rate_limited"
        case ConnectionFailedError():
            return "cannot_connect"
        case ServerError():
            return "server_error"
        case ServiceGoneError():
            return "service_gone"
        case TokenRejectedError():
            return "token_rejected"
        case _ if err.status == 403:
            return "forbidden"
        case _:
            return "invalid_response"
