"""The coordinator: token lifecycle, polling and its schedule, the daily limit, error mapping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import logging
import random
from typing import Any, override

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import (
    issue_registry as ir,
)
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_time_change
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
    redact_identifiers,
)
from .budget import NEW_DAY_MARGIN, BudgetSpentError, RequestBudget, aware, next_midnight
from .cars import EntryCars
from .charging import ChargingInsight
from .const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
    CONF_TOKEN,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_DAILY_REQUEST_LIMIT,
    DEFAULT_IDLE_INTERVAL,
    DOMAIN,
    TOKEN_RENEW_MARGIN,
)

_LOGGER = logging.getLogger(__name__)

type OrangePowerConfigEntry = ConfigEntry[OrangePowerCoordinator]

# A refresh asked for (a trigger, a manual update) comes no sooner than this after the last one.
MIN_ASKED_GAP = timedelta(minutes=1)
# Without a known lifetime, a token is expected to last this long (the service's usual 8 hours).
EXPECTED_TOKEN_LIFETIME = timedelta(hours=8)

# Without a Retry-After, a rate-limited poll waits twice as long each time, up to this.
MAX_BACKOFF = timedelta(hours=1)
# A Retry-After of 0 or in the past would make the next poll immediate: wait at least this.
MIN_RETRY_AFTER = timedelta(minutes=1)
# Rate limited for this long without a good poll in between: tell the user in a repair.
RATE_LIMIT_REPAIR_AFTER = timedelta(hours=1)
# While the service says the API is gone, ask no more than this often whether it is back.
GONE_POLL_INTERVAL = timedelta(hours=1)
# A refresh asked for by a trigger that showed nothing new is followed by one more, this much later.
FOLLOW_UP_DELAY = timedelta(minutes=3)
# A request made this shortly before an asked-for refresh answers it (the end of a wait, a slot).
JUST_REQUESTED = timedelta(seconds=10)
# The repairs this integration raises for an entry, as f"{key}_{entry_id}".
ISSUE_KEYS = ("rate_limited", "service_gone")
STORAGE_VERSION = 1


def storage_key(entry_id: str) -> str:
    """Return the key of the entry's store, which keeps what must survive a restart."""
    return f"{DOMAIN}.{entry_id}"


def is_charging(vehicle: Vehicle) -> bool:
    """Return whether the car is charging: the only time its values change by the minute."""
    return vehicle.charging.state == "CHARGING"


def charge_states(data: dict[str, Vehicle] | None) -> dict[str, tuple[bool | None, str | None]]:
    """Return each car's plug and charging state, to tell whether a refresh showed a change."""
    return {
        vin: (vehicle.charging.charger_connected, vehicle.charging.state)
        for vin, vehicle in (data or {}).items()
    }


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
            update_interval=self._interval(charging=False, entry=entry),
        )
        self.client = client
        self._token = Token.from_dict(entry.data.get(CONF_TOKEN) or {})
        self.cars = EntryCars(hass, entry)
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry.entry_id)
        )
        self.budget = RequestBudget(
            limit=entry.options.get(CONF_DAILY_REQUEST_LIMIT, DEFAULT_DAILY_REQUEST_LIMIT),
            day=dt_util.now().date(),
        )
        # When the cars' values were last fetched: they may be older than the last update.
        self.polled_at: datetime | None = None
        # The next request the schedule plans, whatever decided it.
        self.next_update: datetime | None = None
        # Whether the next update is the first after loading the store, and the cars came from it.
        self._first_after_load = False
        self._from_store = False
        self._planned_wait: float | None = None
        self._first_wait: float | None = None
        # When the schedule polls next (None: polling is off); an asked-for refresh may come first.
        self._next_poll_at: datetime | None = None
        # Until when the service asked this integration to wait (Retry-After, backoff, 410), and
        # the error's translation key and status, which a reload in the meantime shows again.
        self._waiting_until: datetime | None = None
        self._waiting_error: tuple[str, int | None] = ("rate_limited", None)
        # A refresh asked for before a reload, and whether it wanted a follow-up.
        self._stored_ask: tuple[datetime, bool] | None = None
        self._repair_timer: CALLBACK_TYPE | None = None
        self._soon: CALLBACK_TYPE | None = None
        self._soon_at: datetime | None = None
        self._follow_up = False
        # The cars' plug and charging states when a follow-up was asked for, to tell a change.
        self._states_asked: dict[str, tuple[bool | None, str | None]] | None = None
        self._last_asked: datetime | None = None
        self._warned_skipped = False
        # The service refused the stored credentials: nothing is sent until the user signs in
        # again (the reauth or reconfigure flow reloads the entry) or the entry reloads.
        self.credentials_refused = False
        self._unknown_values_seen: set[str] = set()
        self._backoff: timedelta | None = None
        self._limited_since: datetime | None = None
        self.login_calls = 0
        self.vehicle_calls = 0
        self.charging = ChargingInsight(hass, entry.entry_id)

    @staticmethod
    def _interval(*, charging: bool, entry: ConfigEntry) -> timedelta:
        """Return the polling interval the user chose for while a car charges or none does."""
        if charging:
            return timedelta(
                minutes=entry.options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL)
            )
        return timedelta(minutes=entry.options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL))

    @override
    async def _async_setup(self) -> None:
        """Load what survives a restart: the day's requests, the cars' last values, missing cars."""
        stored = await self._store.async_load()
        self._load(stored if isinstance(stored, dict) else {}, dt_util.utcnow())
        self._first_after_load = True
        if self._limited_since is not None:
            self._schedule_repair()
        self.config_entry.async_on_unload(
            async_track_time_change(self.hass, self._new_day, hour=0, minute=0, second=0)
        )

    def _load(self, stored: dict[str, Any], now: datetime) -> None:
        """Take in what was stored; a part that is missing or not of its shape is left out."""
        missing, requests, cars = stored.get("missing"), stored.get("requests"), stored.get("cars")
        if isinstance(missing, dict):
            self.cars.missing = {vin: since for vin, since in missing.items() if aware(since)}
        self.budget = RequestBudget.from_dict(
            self.budget.limit, requests if isinstance(requests, dict) else {}, now
        )
        vehicles = [Vehicle.from_dict(car) for car in cars] if isinstance(cars, list) else []
        if vehicles and None not in vehicles:
            self.data = {car.vin: car for car in vehicles if car is not None}
            self.polled_at = aware(stored.get("polled_at"))
            self._from_store = True
            self.cars.show_listed(self.data)
        waiting = stored.get("waiting")
        if isinstance(waiting, dict) and (until := aware(waiting.get("until"))) and until > now:
            error, status = waiting.get("error"), waiting.get("status")
            self._waiting_until = until
            self._waiting_error = (
                wait_error_key(error),
                status if isinstance(status, int) else None,
            )
        self._limited_since = aware(stored.get("limited_since"))
        backoff = stored.get("backoff_seconds")
        if isinstance(backoff, int | float) and 0 < backoff <= MAX_BACKOFF.total_seconds():
            self._backoff = timedelta(seconds=backoff)
        asked = stored.get("asked")
        if isinstance(asked, dict) and (at := aware(asked.get("at"))):
            self._stored_ask = (at, asked.get("follow_up") is True)

    @override
    async def async_config_entry_first_refresh(self) -> None:
        """Poll for the first time; a wait the service asked for is no reason to retry set-up.

        Rate limited, out of quota or told the API is gone, the entry sets up without fresh data
        (its entities unavailable) and asks again no sooner than the service said.
        """
        try:
            await super().async_config_entry_first_refresh()
        except ConfigEntryNotReady:
            if self._first_wait is None:
                raise
            # Home Assistant honours retry_after only after set-up; this is what it would set.
            self._retry_after = self._first_wait
            self._async_refresh_finished()

    @override
    async def _async_update_data(self) -> dict[str, Vehicle]:
        """Fetch the cars, renewing the token when it is due or was refused."""
        if self.credentials_refused:
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth")
        now = dt_util.utcnow()
        first, self._first_after_load = self._first_after_load, False
        held_until = self._waiting_until if first else None
        from_store, self._from_store = self._from_store and first, False
        self._first_wait = self._planned_wait = self._waiting_until = None
        if held_until is not None and now < held_until:
            # A restart or reload during a wait the service asked for: still no request.
            self._plan(now)
            self._hold(held_until, now)
            self._ask_again()
            key, status = self._waiting_error
            raise UpdateFailed(
                retry_after=self._planned_wait,
                translation_domain=DOMAIN,
                translation_key=wait_error_key(key),
                translation_placeholders={"status": str(status)},
            )
        if from_store and self.data is not None and now < (slot := self._slot()):
            # A restart or reload before the daily limit's next slot: the stored values will do.
            self._plan(now)
            # Home Assistant schedules the next poll from this, once the entities listen.
            self._retry_after = self._planned_wait = (slot - now).total_seconds()
            self._ask_again()
            return self.data
        self._stored_ask = None
        try:
            vehicles = await self._fetch_vehicles()
        except BudgetSpentError:
            self._warn_budget_spent(now)
            self._plan(now)
            return self.data or {}
        except InvalidCredentialsError as err:
            self._refused()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except OrangePowerError as err:
            self._plan(now)
            wait = self._wait_after(err)
            if wait is not None:
                # A wait the service asked for only ever lengthens the next poll.
                wait = max(wait, (self.update_interval or timedelta()).total_seconds())
                self._waiting_error = (error_key(err), err.status)
                self._hold(now + timedelta(seconds=wait), now)
            self._save()
            raise UpdateFailed(
                retry_after=wait,
                translation_domain=DOMAIN,
                translation_key=error_key(err),
                translation_placeholders={"status": str(err.status)},
            ) from err
        self._recovered()
        data = {vehicle.vin: vehicle for vehicle in vehicles}
        self.charging.observe(data, dt_util.utcnow())
        self._warn_skipped(vehicles)
        self._warn_unknown_values(vehicles)
        self.cars.show_listed(data)
        self.cars.track_missing(data)
        self.cars.update_devices(data)
        self.polled_at = now
        self._plan(now, data)
        self._save()
        return data

    def _refused(self) -> None:
        """Send nothing more with the refused credentials: drop every refresh asked for."""
        self.credentials_refused = True
        if self._soon is not None:
            self._soon()
        self._soon = self._soon_at = self._stored_ask = None
        self._follow_up = False
        self._states_asked = None
        self._save()

    def _hold(self, until: datetime, now: datetime) -> None:
        """Make no request before this time, asked-for refreshes included."""
        self._waiting_until = until
        self._first_wait = self._planned_wait = (until - now).total_seconds()
        if self._soon is not None and self._soon_at is not None and self._soon_at < until:
            # Asked for before the wait began: it waits too.
            self._soon()
            self._soon_at = until
            self._soon = async_track_point_in_utc_time(self.hass, self._refresh_soon_due, until)

    def _ask_again(self) -> None:
        """Ask again for the refresh that was waiting when the entry was unloaded."""
        if self._stored_ask is not None:
            at, follow_up = self._stored_ask
            self._stored_ask = None
            self.async_refresh_soon(max(at - dt_util.utcnow(), timedelta()), follow_up=follow_up)

    def _slot(self) -> datetime:
        """Return the earliest time the daily limit's pace allows the next request."""
        now = dt_util.utcnow()
        slot = self.budget.next_slot(now, self._renewals_left(now))
        return datetime.min.replace(tzinfo=dt_util.UTC) if slot is None else slot

    def _plan(self, now: datetime, data: dict[str, Vehicle] | None = None) -> None:
        """Set the interval to the next poll: the user's, stretched to make the limit last."""
        # A car missing from this answer counts as it was last seen: a glitch does not slow polling.
        cars = {**(self.data or {}), **(data or {})}
        interval = self._interval(
            charging=any(is_charging(cars[vin]) for vin in self.cars.shown & cars.keys()),
            entry=self.config_entry,
        )
        reserve = self._renewals_left(now)
        gap = self.budget.gap(now, reserve)
        if gap is not None and self.budget.polls_left(now, reserve) == 0:
            # Nothing left today: the new day's first poll comes just after midnight.
            gap = next_midnight(now) + NEW_DAY_MARGIN - now
            interval = gap
        self.update_interval = interval if gap is None else max(interval, gap)

    def _renewals_left(self, now: datetime) -> int:
        """Return how many logins the rest of the day needs if polling goes on until midnight."""
        midnight = next_midnight(now)
        token = self._token
        expires = token.expires_at - TOKEN_RENEW_MARGIN if token else now
        if expires >= midnight:
            return 0
        return 1 + int((midnight - max(expires, now)) / EXPECTED_TOKEN_LIFETIME)

    def _spend(self) -> None:
        """Count a request about to be made; raise BudgetSpentError when the daily limit forbids it."""
        self.budget.spend(dt_util.utcnow())
        self._save()

    async def async_requests_made(self) -> None:
        """Save and show the count after requests made outside the schedule (the forms)."""
        self._save()
        self.async_update_listeners()

    def _save(self) -> None:
        """Store what must survive a restart, a few seconds later (and at shutdown)."""
        self._store.async_delay_save(self._stored, 10)

    def _stored(self) -> dict[str, Any]:
        """Return what is stored for the entry."""
        key, status = self._waiting_error
        return {
            "requests": self.budget.as_dict(),
            "cars": [car.as_dict() for car in (self.data or {}).values()],
            "polled_at": self.polled_at.isoformat() if self.polled_at else None,
            "missing": self.cars.missing,
            "waiting": {"until": self._waiting_until.isoformat(), "error": key, "status": status}
            if self._waiting_until
            else None,
            "limited_since": self._limited_since.isoformat() if self._limited_since else None,
            "backoff_seconds": self._backoff.total_seconds() if self._backoff else None,
            "asked": {"at": self._soon_at.isoformat(), "follow_up": self._follow_up}
            if self._soon_at
            else None,
        }

    def _warn_budget_spent(self, now: datetime) -> None:
        """Warn once a day that the daily limit stopped the requests until midnight."""
        today = dt_util.as_local(now).date()
        if self.budget.warned_on != today:
            self.budget.warned_on = today
            self._save()
            _LOGGER.warning(
                "The daily limit of %d requests is reached; the cars keep their last values "
                "until midnight",
                self.budget.limit,
            )

    @callback
    def _new_day(self, now: datetime) -> None:
        """Start the day's count at local midnight, so today's requests read 0."""
        if self.budget.roll(now):
            self._save()
            self.async_update_listeners()

    @override
    @callback
    def _async_refresh_finished(self) -> None:
        """Note when the next request is planned, for the next-update sensor."""
        super()._async_refresh_finished()
        wait = self._planned_wait
        if wait is None and self.update_interval is not None:
            wait = self.update_interval.total_seconds()
        self._next_poll_at = (
            None
            if self.config_entry.pref_disable_polling or self.credentials_refused
            else dt_util.utcnow() + timedelta(seconds=wait or 0)
        )
        self._set_next_update()
        if not self.last_update_success:
            # Home Assistant tells the listeners of the first failure only; the account's count
            # and next update change with every one.
            self.async_update_listeners()

    def _set_next_update(self) -> None:
        """Set the next request planned: the next poll, or an asked-for refresh before it."""
        self.next_update = min(
            (when for when in (self._next_poll_at, self._soon_at) if when is not None), default=None
        )

    @callback
    def async_refresh_soon(self, delay: timedelta, *, follow_up: bool = False) -> None:
        """Poll after the delay: at most once a minute, no sooner than a limit's pace or a wait.

        Requests close together make one poll. With follow_up, a poll that shows no car's plug or
        charging state change is followed by one more after FOLLOW_UP_DELAY (cars report late).
        """
        if self.credentials_refused:
            return
        now = dt_util.utcnow()
        when = max(now + delay, self._slot())
        if self._waiting_until is not None:
            # Nor before the wait the service asked for is over, however much a trigger flaps.
            when = max(when, self._waiting_until)
        if self._last_asked is not None:
            when = max(when, self._last_asked + MIN_ASKED_GAP)
        if follow_up and self._states_asked is None:
            self._states_asked = charge_states(self.data)
        self._follow_up = self._follow_up or follow_up
        if self._soon_at is not None and self._soon_at <= when:
            return
        if self._soon is not None:
            self._soon()
        self._soon_at = when
        self._soon = async_track_point_in_utc_time(self.hass, self._refresh_soon_due, when)
        self._set_next_update()
        self.async_update_listeners()

    async def _refresh_soon_due(self, now: datetime) -> None:
        """Make the poll asked for, unless one was just made, and the follow-up if nothing changed."""
        # Never within a wait: one that began after it was asked for moved it (see _hold).
        self._soon = self._soon_at = None
        follow_up, self._follow_up = self._follow_up, False
        before, self._states_asked = self._states_asked, None
        last = self.budget.last_request
        if last is None or now - last >= JUST_REQUESTED:
            self._last_asked = now
            await self.async_refresh()
        else:
            self._set_next_update()
            self.async_update_listeners()
        # A refresh that failed showed nothing new either, unless the service asked to wait.
        if (
            follow_up
            and self._waiting_until is None
            and not self.credentials_refused
            and charge_states(self.data) == before
        ):
            self.async_refresh_soon(FOLLOW_UP_DELAY)

    @property
    def shown(self) -> set[str]:
        """Return the VINs of the cars this entry shows."""
        return self.cars.shown

    def forget(self, vin: str) -> None:
        """Stop showing a car; its entities go at the next update of the listeners."""
        self.cars.forget(vin)

    @override
    async def async_request_refresh(self) -> None:
        """Refresh on request (homeassistant.update_entity).

        Under a limit, at the next slot; while the service asked to wait, once the wait is over;
        never with credentials the service refused.
        """
        if self.credentials_refused:
            return
        if self.budget.limit or self._waiting_until is not None:
            self.async_refresh_soon(timedelta())
            return
        await super().async_request_refresh()

    @override
    async def async_shutdown(self) -> None:
        """Cancel an asked-for refresh, and write the store now.

        Written now, the store is what a reload reads, and a removal leaves nothing behind.
        """
        stored = self._stored()
        for cancel in (self._soon, self._repair_timer):
            if cancel is not None:
                cancel()
        self._soon = self._soon_at = self._repair_timer = None
        await super().async_shutdown()
        await self._store.async_save(stored)

    async def _fetch_vehicles(self) -> VehicleList:
        """Make the vehicles call; on a refused token renew once and retry once."""
        now = dt_util.utcnow()
        # Not a login without the vehicles call it is for.
        if not self.budget.allows(now, 1 + (self._token_due(now, self._token))):
            raise BudgetSpentError
        token = await self._valid_token()
        try:
            return await self._count_vehicle_call(token)
        except TokenRejectedError:
            _LOGGER.debug("The access token was refused; renewing it and retrying once")
        return await self._count_vehicle_call(await self._valid_token(refused=token))

    async def _count_vehicle_call(self, token: Token) -> VehicleList:
        """Make one vehicles call, counted for diagnostics and the daily limit."""
        self._spend()
        self.vehicle_calls += 1
        entry = self.config_entry
        return await self.client.get_vehicles(
            token, entry.data[CONF_EMAIL], entry.data[CONF_PASSWORD]
        )

    @staticmethod
    def _token_due(now: datetime, token: Token | None) -> bool:
        """Return whether the token must be renewed before it is used now."""
        return token is None or token.expires_within(TOKEN_RENEW_MARGIN, now)

    async def _valid_token(self, refused: Token | None = None) -> Token:
        """Return a token with more than the margin left (not the refused one), logging in if needed.

        Home Assistant runs this coordinator's refreshes one at a time, so however many
        refreshes are asked for at once, one login renews the token for all of them.
        """
        token = self._token
        if (
            token is not None
            and token is not refused
            and not self._token_due(dt_util.utcnow(), token)
        ):
            return token
        self._token = await self._login()
        return self._token

    async def _login(self) -> Token:
        """Log in and keep the new token in the entry, without reloading it."""
        entry = self.config_entry
        self._spend()
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
        self._limited_since = self._limited_since or dt_util.utcnow()
        self._schedule_repair()
        if isinstance(err, RateLimitedError) and err.retry_after is not None:
            return max(err.retry_after, MIN_RETRY_AFTER.total_seconds())
        interval = self.update_interval or MAX_BACKOFF
        self._backoff = min((self._backoff or interval) * 2, MAX_BACKOFF)
        # Jitter (not security-relevant) keeps many installations from retrying in step.
        return self._backoff.total_seconds() * random.uniform(0.8, 1.0)  # noqa: S311

    def _schedule_repair(self) -> None:
        """Raise the rate-limit repair once the limiting has lasted an hour, poll or no poll."""
        if self._repair_timer is not None or self._limited_since is None:
            return
        due = self._limited_since + RATE_LIMIT_REPAIR_AFTER
        if due <= dt_util.utcnow():
            self._raise_issue("rate_limited")
            return

        @callback
        def still_limited(_: datetime) -> None:
            self._repair_timer = None
            if self._limited_since is not None:
                self._raise_issue("rate_limited")

        self._repair_timer = async_track_point_in_utc_time(self.hass, still_limited, due)

    def _recovered(self) -> None:
        """Forget the backoff and withdraw the repairs after a good poll."""
        self._backoff = None
        self._limited_since = None
        if self._repair_timer is not None:
            self._repair_timer()
            self._repair_timer = None
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
                        redact_identifiers(value),
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


class EntryRequests:
    """An entry's count of today's requests, for the requests its reauth and reconfigure forms make.

    Loaded, the entry's coordinator holds the count; otherwise its store does.
    """

    def __init__(self, budget: RequestBudget, save: Callable[[], Awaitable[None]]) -> None:
        """Count against this budget, and save it with this."""
        self._budget = budget
        self._save = save

    @classmethod
    async def async_for_entry(cls, hass: HomeAssistant, entry: ConfigEntry) -> EntryRequests:
        """Return the count of a config entry, loaded or not."""
        coordinator = getattr(entry, "runtime_data", None)
        if entry.state is ConfigEntryState.LOADED and isinstance(
            coordinator, OrangePowerCoordinator
        ):
            return cls(coordinator.budget, coordinator.async_requests_made)
        store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, storage_key(entry.entry_id))
        loaded = await store.async_load()
        stored = loaded if isinstance(loaded, dict) else {}
        requests = stored.get("requests")
        budget = RequestBudget.from_dict(
            entry.options.get(CONF_DAILY_REQUEST_LIMIT, DEFAULT_DAILY_REQUEST_LIMIT),
            requests if isinstance(requests, dict) else {},
            dt_util.utcnow(),
        )

        async def save() -> None:
            await store.async_save({**stored, "requests": budget.as_dict()})

        return cls(budget, save)

    def allows(self, requests: int) -> bool:
        """Return whether the limit allows this many more requests now."""
        return self._budget.allows(dt_util.utcnow(), requests)

    def spend(self) -> None:
        """Count a request about to be made; raise BudgetSpentError when the limit forbids it."""
        self._budget.spend(dt_util.utcnow())

    async def async_save(self) -> None:
        """Keep the count, and show it."""
        await self._save()


def wait_error_key(key: object) -> str:
    """Return the translation key of an error that asked for a wait, as stored for a reload."""
    match key:
        case "forbidden":
            return "forbidden"
        case "service_gone":
            return "service_gone"
        case _:
            return "rate_limited"


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
