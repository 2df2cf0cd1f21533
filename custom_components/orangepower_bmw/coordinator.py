"""The coordinator: fetch the cars through the client, map the outcome, hand the data on.

    triggers.py ── ask ──┐                ┌──> cars.py      which cars the entry shows; devices
    manual update ───────┤                ├──> charging.py  rate, end, stall from the levels
                         v                │
    schedule.py <── events ── coordinator ┼──> entities     sensor.py, binary_sensor.py, number.py
        │ (when, why)       │      ^      └──> notices.py   repairs, warnings
        └──── one timer ────┘      │
                          api.py (client: token, errors; budget.py counts each request)
                                   │
                          store.py keeps the schedule, cars, missing cars and sessions

The schedule decides when the next request goes out; the coordinator sets one timer from its
answer (Home Assistant's own interval is not used) and feeds it what each request brought.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
import logging
import random
from typing import Any, override

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_time_change
from homeassistant.helpers.update_coordinator import TimestampDataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    REQUEST_TIMEOUT,
    BudgetSpentError,
    Credentials,
    InvalidCredentialsError,
    OrangePowerClient,
    OrangePowerError,
    error_key,
)
from .budget import RequestBudget
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
)
from .models import Token, Vehicle
from .notices import Notices
from .schedule import MIN_ASKED_GAP, MIN_MANUAL_GAP, Schedule, wait_key
from .store import EntryStore, Stored, token_for_entry, token_from_entry
from .triggers import FOLLOW_UP_DELAY, ChargeStates, charge_states, shows_no_change

_LOGGER = logging.getLogger(__name__)

type OrangePowerConfigEntry = ConfigEntry[OrangePowerCoordinator]


class OrangePowerCoordinator(TimestampDataUpdateCoordinator[dict[str, Vehicle]]):
    """Polls the account's cars with one request per poll; data is the cars keyed by VIN."""

    config_entry: OrangePowerConfigEntry

    def __init__(self, hass: HomeAssistant, entry: OrangePowerConfigEntry) -> None:
        """Start from the token kept in the entry, so a restart needs no login."""
        # No interval of Home Assistant's: the schedule sets the one timer.
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN, update_interval=None)
        options = entry.options
        self.schedule = Schedule(
            idle=timedelta(minutes=options.get(CONF_IDLE_INTERVAL, DEFAULT_IDLE_INTERVAL)),
            active=timedelta(minutes=options.get(CONF_ACTIVE_INTERVAL, DEFAULT_ACTIVE_INTERVAL)),
            budget=RequestBudget(
                limit=options.get(CONF_DAILY_REQUEST_LIMIT, DEFAULT_DAILY_REQUEST_LIMIT),
                day=dt_util.now().date(),
            ),
            polling_off=entry.pref_disable_polling,
        )
        token = token_from_entry(entry.data.get(CONF_TOKEN))
        self.schedule.token_expires = token.expires_at if token else None
        self.client = OrangePowerClient(
            async_get_clientsession(hass),
            Credentials(
                entry.data[CONF_EMAIL], entry.data[CONF_PASSWORD], entry.data[CONF_ACCOUNT_EMAIL]
            ),
            entry.data[CONF_URL],
            token=token,
            on_token=self._keep_token,
            before_request=self.count_request,
            timeout=REQUEST_TIMEOUT,
        )
        self.store = EntryStore(hass, entry.entry_id)
        self.cars = EntryCars(hass, entry)
        self.charging = ChargingInsight()
        self.notices = Notices(hass, entry)
        # When the cars' values were last fetched: they may be older than the last update.
        self.polled_at: datetime | None = None
        self._first = True
        self._timer: CALLBACK_TYPE | None = None
        # The cars' plug and charging states when a follow-up was asked for, to tell a change.
        self._asked_states: ChargeStates | None = None

    @property
    def budget(self) -> RequestBudget:
        """Return today's count of requests against the daily limit."""
        return self.schedule.budget

    @property
    def next_update(self) -> datetime | None:
        """Return when the next request is planned, whatever decided it; None: none is."""
        planned = self.schedule.next_request()
        return planned[0] if planned else None

    @property
    def next_update_reason(self) -> str | None:
        """Return what decided the time of the next request."""
        planned = self.schedule.next_request()
        return planned[1].value if planned else None

    @override
    async def _async_setup(self) -> None:
        """Load what survives a restart: the schedule, the cars' last values, missing cars."""
        stored = await self.store.async_load()
        self.schedule.restore(stored.schedule, dt_util.utcnow())
        self.cars.restore(stored.missing, stored.last_seen)
        self.charging = ChargingInsight(stored.charging)
        if stored.cars:
            self.data, self.polled_at = stored.cars, stored.polled_at
            self.cars.show_listed(self.data)
        self.schedule.need, self.schedule.charge_end = self.charging.need(
            self.cars.last_seen, self.cars.shown
        )
        if self.schedule.ask is not None and self.schedule.ask.follow_up:
            # Asked for before the reload: its follow-up compares with the cars as they were.
            self._asked_states = charge_states(self.data)
        self.notices.rate_limited(self.schedule.limited_since)
        self.config_entry.async_on_unload(
            async_track_time_change(self.hass, self._new_day, hour=0, minute=0, second=0)
        )

    @override
    async def _async_update_data(self) -> dict[str, Vehicle]:
        """Fetch the cars; the first update after a load may make no request (a wait, a limit)."""
        now = dt_util.utcnow()
        if self.schedule.refused:
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth")
        first, self._first = self._first, False
        if first and (wait := self.schedule.held(now)) is not None:
            # A restart or reload during a wait the service asked for: still no request.
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=wait_key(wait.error),
                translation_placeholders={"status": str(wait.status)},
            )
        if first and self.data is not None and self.schedule.paced(now):
            # A restart or reload before the daily limit's next slot: the stored values will do.
            return self.data
        answered = self.schedule.started(now)
        before = self._asked_states if answered and answered.follow_up else None
        if answered:
            self._asked_states = None
        try:
            data = await self._fetch(now)
        except UpdateFailed:
            # A refresh that failed showed nothing new either, unless the service asked to wait.
            if self.schedule.wait is None and shows_no_change(before, self.data):
                self.async_ask(FOLLOW_UP_DELAY)
            raise
        if shows_no_change(before, data):
            self.async_ask(FOLLOW_UP_DELAY)
        return data

    async def _fetch(self, now: datetime) -> dict[str, Vehicle]:
        """Make the request and take in what it brought."""
        try:
            vehicles = await self.client.get_vehicles()
        except BudgetSpentError:
            self.schedule.spent(now)
            self.notices.limit_reached(self.budget)
            self.save()
            return self.data or {}
        except InvalidCredentialsError as err:
            self.schedule.refuse()
            self.cars.waiting_for_user = True
            self._asked_states = None
            self.save()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except OrangePowerError as err:
            # Jitter (not security-relevant) keeps many installations from retrying in step.
            self.schedule.failed(now, err, random.uniform(0.8, 1.0))  # noqa: S311
            self.notices.rate_limited(self.schedule.limited_since)
            if self.schedule.wait is not None and self.schedule.wait.error == "service_gone":
                self.notices.service_gone()
            self.save()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=error_key(err),
                translation_placeholders={"status": str(err.status)},
            ) from err
        data = {vehicle.vin: vehicle for vehicle in vehicles}
        self.notices.answered(vehicles, self.charging)
        self.notices.recovered()
        self.cars.take_in(data)
        self.charging.observe(data, now)
        self.polled_at = now
        # A car missing from answers counts as last seen while it is shown: a glitch slows nothing.
        need, end = self.charging.need(self.cars.last_seen, self.cars.shown)
        self.schedule.polled(now, need, end)
        self.save()
        return data

    @callback
    def async_ask(
        self, delay: timedelta, *, follow_up: bool = False, gap: timedelta = MIN_ASKED_GAP
    ) -> None:
        """Ask for a refresh after the delay (a trigger, a follow-up, a manual update).

        At most once per `gap`, no sooner than a limit's pace or a wait; never with refused
        credentials. With follow_up, one that shows no change is followed by one more.
        """
        if follow_up and self._asked_states is None and not self.schedule.refused:
            self._asked_states = charge_states(self.data)
        if self.schedule.asked(dt_util.utcnow(), delay, follow_up=follow_up, gap=gap):
            self.save()
            self._set_timer()
            self.async_update_listeners()

    @callback
    def async_targets_changed(self) -> None:
        """Plan again for a charge whose estimated end moved with its car's target."""
        need, end = self.charging.need(self.cars.last_seen, self.cars.shown)
        if self.schedule.retarget(dt_util.utcnow(), need, end):
            self._set_timer()
        self.async_update_listeners()

    @override
    async def async_request_refresh(self) -> None:
        """Refresh on request (homeassistant.update_entity), as the schedule allows."""
        self.async_ask(timedelta(), gap=MIN_MANUAL_GAP)

    @override
    @callback
    def _async_refresh_finished(self) -> None:
        """Set the timer for the next request after every refresh, whatever started it."""
        super()._async_refresh_finished()
        self._set_timer()
        if not self.last_update_success:
            # Home Assistant tells the listeners of the first failure only; the account's count
            # and next update change with every one.
            self.async_update_listeners()

    @callback
    def _set_timer(self) -> None:
        """Set the one timer to the next request the schedule plans."""
        if self._timer is not None:
            self._timer()
            self._timer = None
        if (planned := self.schedule.next_request()) is not None:
            self._timer = async_track_point_in_utc_time(self.hass, self._due, planned[0])

    async def _due(self, _: datetime) -> None:
        """Make the request the timer was set for."""
        self._timer = None
        await self.async_refresh()

    def count_request(self, needed: int) -> None:
        """Count a request about to be made, or raise BudgetSpentError when the limit forbids it."""
        self.budget.spend(dt_util.utcnow(), needed)
        self.save()

    @callback
    def _keep_token(self, token: Token) -> None:
        """Keep a new token in the entry, without reloading it, and pace the limit by it."""
        self.schedule.token_expires = token.expires_at
        entry = self.config_entry
        self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_TOKEN: token_for_entry(token)}
        )

    @callback
    def _new_day(self, now: datetime) -> None:
        """Start the day's count at local midnight, so today's requests read 0."""
        if self.budget.roll(now):
            self.save()
            self.async_update_listeners()

    def save(self) -> None:
        """Store what must survive a restart, a few seconds later (and at unload)."""
        self.store.async_delay_save(self._stored)

    def _stored(self) -> dict[str, Any]:
        """Return what is stored for the entry."""
        schedule, cars, charging = self.schedule.as_dict(), self.cars, self.charging.cars
        return Stored(
            schedule, self.data, self.polled_at, cars.missing, cars.last_seen, charging
        ).as_data()

    @override
    async def async_shutdown(self) -> None:
        """Cancel the timers and write the store now, so a reload reads what this one saw."""
        if self._timer is not None:
            self._timer()
            self._timer = None
        self.notices.cancel()
        await super().async_shutdown()
        await self.store.async_save(self._stored())


class EntryRequests:
    """An entry's count of today's requests, for the requests its reauth and reconfigure forms make.

    Loaded, the entry's coordinator holds the count; otherwise its store does.
    """

    def __init__(self, budget: RequestBudget, save: Callable[[], Awaitable[None]]) -> None:
        """Count against this budget, and keep it with `save`."""
        self.budget = budget
        self._save = save

    @classmethod
    async def async_load(cls, hass: HomeAssistant, entry: ConfigEntry) -> EntryRequests:
        """Return the count of a config entry, loaded or not."""
        coordinator = getattr(entry, "runtime_data", None)
        if entry.state is ConfigEntryState.LOADED and isinstance(
            coordinator, OrangePowerCoordinator
        ):

            async def shown() -> None:
                coordinator.save()
                coordinator.async_update_listeners()

            return cls(coordinator.budget, shown)
        store = EntryStore(hass, entry.entry_id)
        stored = await store.async_load()
        budget = stored.schedule.get("budget")
        requests = RequestBudget.from_dict(
            entry.options.get(CONF_DAILY_REQUEST_LIMIT, DEFAULT_DAILY_REQUEST_LIMIT),
            budget if isinstance(budget, dict) else {},
            dt_util.utcnow(),
        )

        async def saved() -> None:
            schedule = {**stored.schedule, "budget": requests.as_dict()}
            await store.async_save(replace(stored, schedule=schedule).as_data())

        return cls(requests, saved)

    def count(self, needed: int) -> None:
        """Count a request about to be made; raise BudgetSpentError when the limit forbids it."""
        self.budget.spend(dt_util.utcnow(), needed)

    async def async_save(self) -> None:
        """Keep the count, and show it."""
        await self._save()
