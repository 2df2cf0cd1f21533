"""The coordinator: token lifecycle, polling, which cars this entry shows, and error mapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
import logging
import random
from typing import Any, TypedDict, override

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, Platform
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.storage import Store
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
    VehicleList,
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
# A car missing from good polls keeps its device until it has been missing this long and this often,
# so that one empty or partial answer does not remove every car.
MISSING_GRACE = timedelta(hours=1)
MISSING_GRACE_POLLS = 3
# The repairs this integration raises for an entry, as f"{key}_{entry_id}".
ISSUE_KEYS = ("rate_limited", "service_gone")
STORAGE_VERSION = 1


class DeviceFields(TypedDict, total=False):
    """What a car's device shows of it."""

    name: str | None
    manufacturer: str | None
    model: str | None


def storage_key(entry_id: str) -> str:
    """Return the key of the entry's store, which keeps what must survive a restart."""
    return f"{DOMAIN}.{entry_id}"


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
        # The cars whose entities this entry shows; a car another entry shows is left to it.
        self.shown: set[str] = set()
        self._left_to_others: set[str] = set()
        # When each missing car was first missing (stored), and from how many good polls since.
        self._missing: dict[str, str] = {}
        self._missing_polls: dict[str, int] = {}
        # Each shown car's brand, model and year as last known, for its device.
        self._described: dict[str, Vehicle] = {}
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry.entry_id)
        )
        self._warned_skipped = False
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
    async def _async_setup(self) -> None:
        """Load what survives a restart: when each missing car went missing."""
        stored = await self._store.async_load() or {}
        self._missing = {
            vin: since for vin, since in stored.get("missing", {}).items() if isinstance(since, str)
        }

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
                translation_key=error_key(err),
                translation_placeholders={"status": str(err.status)},
            ) from err
        self._recovered()
        data = {vehicle.vin: vehicle for vehicle in vehicles}
        self.charging.observe(data, dt_util.utcnow())
        self._warn_skipped(vehicles)
        self._warn_unknown_values(vehicles)
        self._show_listed_cars(data)
        self._track_missing_cars(data)
        self._update_devices(data)
        # A car missing from this answer counts as it was last seen: a glitch does not slow polling.
        last_seen = {**(self.data or {}), **data}
        self.update_interval = self._interval(
            active=any(is_active(last_seen[vin]) for vin in self.shown & last_seen.keys()),
            entry=self.config_entry,
        )
        return data

    @override
    async def async_shutdown(self) -> None:
        """Write the store now, so that a reload reads it and a removal leaves nothing behind."""
        await super().async_shutdown()
        await self._store.async_save({"missing": self._missing})

    async def _fetch_vehicles(self) -> VehicleList:
        """Make the vehicles call; on a refused token renew once and retry once."""
        token = await self._valid_token()
        try:
            return await self._count_vehicle_call(token)
        except TokenRejectedError:
            _LOGGER.debug("The access token was refused; renewing it and retrying once")
        return await self._count_vehicle_call(await self._valid_token(refused=token))

    async def _count_vehicle_call(self, token: Token) -> VehicleList:
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
        for key in ISSUE_KEYS:
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

    def _warn_skipped(self, vehicles: VehicleList) -> None:
        """Warn once about list items without a VIN, and again only after a clean poll."""
        if vehicles.skipped and not self._warned_skipped:
            _LOGGER.warning(
                "The service listed %d item(s) without a VIN; they are skipped, the other cars "
                "are shown",
                vehicles.skipped,
            )
        self._warned_skipped = vehicles.skipped > 0

    def _show_listed_cars(self, data: dict[str, Vehicle]) -> None:
        """Show each listed car that no other entry shows; take over one another entry let go."""
        for vin in sorted(data.keys() - self.shown):
            owner = self._other_owner(vin)
            if owner is not None and _shows(self.hass, owner, vin):
                if vin not in self._left_to_others:
                    self._left_to_others.add(vin)
                    _LOGGER.info(
                        "The %s is shown by the entry %s; this entry skips it",
                        device_fields(data[vin])["name"],
                        owner.title,
                    )
                continue
            if owner is not None:
                self._take_over(vin, owner.entry_id)
            self._left_to_others.discard(vin)
            self.shown.add(vin)

    def _other_owner(self, vin: str) -> ConfigEntry | None:
        """Return the other entry that shows this car or owns its entities, if any."""
        for other in self.hass.config_entries.async_entries(DOMAIN):
            coordinator = getattr(other, "runtime_data", None)
            if (
                other.entry_id != self.config_entry.entry_id
                and isinstance(coordinator, OrangePowerCoordinator)
                and vin in coordinator.shown
                and other.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
            ):
                return other
        registry = er.async_get(self.hass)
        entity_id = registry.async_get_entity_id(Platform.SENSOR, DOMAIN, f"{vin}_battery")
        entity = registry.async_get(entity_id) if entity_id else None
        if entity is None or entity.config_entry_id in (None, self.config_entry.entry_id):
            return None
        return self.hass.config_entries.async_get_entry(entity.config_entry_id or "")

    def _take_over(self, vin: str, owner_id: str) -> None:
        """Move a car's entities from the entry that let it go to this one, and drop its device."""
        registry = er.async_get(self.hass)
        for entity in er.async_entries_for_config_entry(registry, owner_id):
            if entity.platform == DOMAIN and entity.unique_id.startswith(f"{vin}_"):
                registry.async_update_entity(
                    entity.entity_id,
                    config_entry_id=self.config_entry.entry_id,
                    device_id=None,
                    disabled_by=_disabled_after_takeover(entity.disabled_by),
                )
        devices = dr.async_get(self.hass)
        if device := devices.async_get_device_by_identifier((DOMAIN, vin), owner_id):
            _LOGGER.info("The %s is now shown by this entry", device.name)
            devices.async_remove_device(device.id)

    def _track_missing_cars(self, data: dict[str, Vehicle]) -> None:
        """Let go at once of a car another entry lists; remove a car missing for long enough."""
        now = dt_util.utcnow()
        before = dict(self._missing)
        absent = (self.shown | self._device_vins()) - data.keys()
        self._missing = {vin: self._missing[vin] for vin in absent & self._missing.keys()}
        self._missing_polls = {vin: self._missing_polls.get(vin, 0) for vin in absent}
        for vin in sorted(absent):
            # An answer without any car is a glitch, not the car moving to another account.
            if data and self._listed_elsewhere(vin):
                # The other entry takes the car over at its next poll.
                self.forget(vin)
                continue
            since = dt_util.parse_datetime(self._missing.setdefault(vin, now.isoformat())) or now
            self._missing_polls[vin] += 1
            if now - since >= MISSING_GRACE and self._missing_polls[vin] >= MISSING_GRACE_POLLS:
                self._remove_device(vin)
                self.forget(vin)
        if self._missing != before:
            self._store.async_delay_save(lambda: {"missing": self._missing}, 1)

    def _listed_elsewhere(self, vin: str) -> bool:
        """Return whether another loaded entry's last poll worked and listed this car."""
        for other in self.hass.config_entries.async_loaded_entries(DOMAIN):
            coordinator = getattr(other, "runtime_data", None)
            if (
                other.entry_id != self.config_entry.entry_id
                and isinstance(coordinator, OrangePowerCoordinator)
                and coordinator.last_update_success
                and vin in (coordinator.data or {})
            ):
                return True
        return False

    def _device_vins(self) -> set[str]:
        """Return the VINs of this entry's car devices."""
        registry = dr.async_get(self.hass)
        return {
            value
            for device in dr.async_entries_for_config_entry(registry, self.config_entry.entry_id)
            for domain, value in device.identifiers
            if domain == DOMAIN
        }

    def _remove_device(self, vin: str) -> None:
        """Remove this entry's device of a car, and with it the car's entities."""
        registry = dr.async_get(self.hass)
        if device := registry.async_get_device_by_identifier(
            (DOMAIN, vin), self.config_entry.entry_id
        ):
            _LOGGER.info("The %s left the account; removing its device", device.name)
            registry.async_remove_device(device.id)

    def forget(self, vin: str) -> None:
        """Stop showing a car; its entities go at the next update of the listeners."""
        self.shown.discard(vin)
        self._missing.pop(vin, None)
        self._missing_polls.pop(vin, None)
        self._described.pop(vin, None)

    def _update_devices(self, data: dict[str, Vehicle]) -> None:
        """Bring each shown car's device up to date when its brand, model or year changed."""
        registry = dr.async_get(self.hass)
        for vin in self.shown & data.keys():
            vehicle, known = data[vin], self._described.get(vin)
            if known is not None:
                # A field the service left out this time is unknown, not a change.
                vehicle = replace(
                    vehicle,
                    brand=vehicle.brand or known.brand,
                    model=vehicle.model or known.model,
                    year=vehicle.year or known.year,
                )
            self._described[vin] = vehicle
            if known is None and None in (vehicle.brand, vehicle.model, vehicle.year):
                # First seen since start-up with a field left out: nothing to compare it with.
                continue
            fields = device_fields(vehicle)
            device = registry.async_get_device_by_identifier(
                (DOMAIN, vin), self.config_entry.entry_id
            )
            if device is not None and any(
                getattr(device, key) != value for key, value in fields.items()
            ):
                registry.async_update_device(device.id, **fields)


def device_fields(vehicle: Vehicle) -> DeviceFields:
    """Return the name, manufacturer and model a car's device shows."""
    model = vehicle.model
    if model is not None and vehicle.year is not None:
        model = f"{model} ({vehicle.year})"
    return {
        "name": " ".join(part for part in (vehicle.brand or "BMW", vehicle.model) if part),
        "manufacturer": vehicle.brand,
        "model": model,
    }


def _disabled_after_takeover(
    disabled_by: er.RegistryEntryDisabler | None,
) -> er.RegistryEntryDisabler | None:
    """Return how a car's entity is disabled once it moves to another entry and a new device.

    Disabled with its old entry: enabled with the new one. Disabled with its old device, which
    goes: disabled by the user, who disabled that device.
    """
    if disabled_by is er.RegistryEntryDisabler.CONFIG_ENTRY:
        return None
    if disabled_by is er.RegistryEntryDisabler.DEVICE:
        return er.RegistryEntryDisabler.USER
    return disabled_by


def _shows(hass: HomeAssistant, entry: ConfigEntry, vin: str) -> bool:
    """Return whether another entry shows the car, or is (re)loading and will."""
    coordinator = getattr(entry, "runtime_data", None)
    if entry.state is ConfigEntryState.SETUP_RETRY:
        # It failed to start (the service was down); it shows its cars when the service answers.
        return True
    if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS):
        return isinstance(coordinator, OrangePowerCoordinator) and (
            vin in coordinator.shown or coordinator.data is None
        )
    if (
        entry.state is ConfigEntryState.NOT_LOADED
        and not entry.disabled_by
        and hass.state is not CoreState.running
    ):
        # Home Assistant is starting and has not come to that entry yet.
        return True
    # A reload holds the lock between unloading and setting up again.
    return entry.setup_lock.locked()


def error_key(err: OrangePowerError) -> str:
    """Return the translation key of an error, for a form's error and a failed poll alike."""
    match err:
        case InvalidCredentialsError():
            return "invalid_auth"
        case TokenRejectedError():
            return "token_rejected"
        case RateLimitedError():
            return "rate_limited"
        case ConnectionFailedError():
            return "cannot_connect"
        case ServerError():
            return "server_error"
        case ServiceGoneError():
            return "service_gone"
        case _ if err.status == 403:
            return "forbidden"
        case _:
            return "invalid_response"
