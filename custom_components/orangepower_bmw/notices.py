"""What the user is told besides the entities: repairs, and warnings in the log once each."""

from __future__ import annotations

from datetime import datetime, timedelta
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .api import redact_identifiers
from .budget import RequestBudget
from .capacity import capacity_of
from .charging import ChargingInsight
from .const import DOMAIN
from .models import CHARGING_STATES, CHARGING_TYPES, Vehicle, VehicleList

_LOGGER = logging.getLogger(__name__)

# Rate limited for this long without a good poll in between: tell the user in a repair.
RATE_LIMIT_REPAIR_AFTER = timedelta(hours=1)
# The repairs this integration raises for an entry, as f"{key}_{entry_id}".
ISSUE_KEYS = ("rate_limited", "service_gone")


class Notices:
    """The repairs and log warnings of one config entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Tell nothing yet."""
        self._hass = hass
        self._entry_id = entry.entry_id
        self._repair_timer: CALLBACK_TYPE | None = None
        self._warned_skipped = False
        self._unknown_values_seen: set[str] = set()

    def rate_limited(self, since: datetime | None) -> None:
        """Raise the rate-limit repair once the limiting has lasted an hour, poll or no poll."""
        if self._repair_timer is not None or since is None:
            return
        due = since + RATE_LIMIT_REPAIR_AFTER
        if due <= dt_util.utcnow():
            self._raise("rate_limited")
            return

        @callback
        def still_limited(_: datetime) -> None:
            self._repair_timer = None
            self._raise("rate_limited")

        self._repair_timer = async_track_point_in_utc_time(self._hass, still_limited, due)

    def service_gone(self) -> None:
        """Tell the user the service says its API is gone."""
        self._raise("service_gone")

    def recovered(self) -> None:
        """Withdraw the repairs after a good poll."""
        self.cancel()
        for key in ISSUE_KEYS:
            ir.async_delete_issue(self._hass, DOMAIN, f"{key}_{self._entry_id}")

    def cancel(self) -> None:
        """Stop waiting to raise the rate-limit repair."""
        if self._repair_timer is not None:
            self._repair_timer()
            self._repair_timer = None

    def answered(self, vehicles: VehicleList, charging: ChargingInsight) -> None:
        """Warn about what an answer held that this integration cannot show."""
        if vehicles.skipped and not self._warned_skipped:
            _LOGGER.warning(
                "The service listed %d item(s) without a VIN; they are skipped, the other cars "
                "are shown",
                vehicles.skipped,
            )
        # Once, and again only after a clean answer.
        self._warned_skipped = vehicles.skipped > 0
        for vehicle in vehicles:
            for value, known in (
                (vehicle.charging.state, CHARGING_STATES),
                (vehicle.charging.type, CHARGING_TYPES),
            ):
                if value is not None and value not in known | self._unknown_values_seen:
                    self._unknown_values_seen.add(value)
                    _LOGGER.warning(
                        "The service reported %r, a value this integration does not know yet; "
                        "it is shown as unknown. Please report it",
                        redact_identifiers(value),
                    )
            self._unknown_model(vehicle, charging)

    def _unknown_model(self, vehicle: Vehicle, charging: ChargingInsight) -> None:
        """Say once which model to report when its capacity is known neither here nor to the user."""
        if capacity_of(vehicle) is not None or charging.car(vehicle.vin).capacity is not None:
            return
        model = redact_identifiers(f"{vehicle.brand or ''} {vehicle.model or ''}".strip())
        if model in self._unknown_values_seen:
            return
        self._unknown_values_seen.add(model)
        _LOGGER.warning(
            "The usable battery capacity of the %s (%s) is not in this integration's table: set it "
            "in the car's Battery capacity setting, and please report the model and its capacity",
            model or "car without a model name",
            vehicle.year or "year unknown",
        )

    @staticmethod
    def limit_reached(budget: RequestBudget) -> None:
        """Warn once a day that the daily limit stopped the requests (the budget keeps the day)."""
        if budget.warned_on == budget.day:
            return
        budget.warned_on = budget.day
        _LOGGER.warning(
            "The daily limit of %d requests is reached; the cars keep their last values "
            "until midnight",
            budget.limit,
        )

    def _raise(self, key: str) -> None:
        """Show a repair for this account; raising it again changes nothing."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            f"{key}_{self._entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
        )


def async_remove_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Withdraw every repair of a removed entry."""
    for key in ISSUE_KEYS:
        ir.async_delete_issue(hass, DOMAIN, f"{key}_{entry_id}")
