"""A household as the polling tests drive it: Home Assistant, its clock, the service, an entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.budget import RequestBudget
from custom_components.orangepower_bmw.const import CONF_DAILY_REQUEST_LIMIT
from custom_components.orangepower_bmw.coordinator import OrangePowerCoordinator
from simulator import Simulator
from tests.helpers import IX_BATTERY, NEXT_UPDATE, advance, minutes, requests, set_up


@dataclass
class Home:
    """Home Assistant, its clock, the service and the account's entry, as the tests drive them."""

    hass: HomeAssistant
    freezer: FrozenDateTimeFactory
    simulator: Simulator
    entry: MockConfigEntry

    @property
    def coordinator(self) -> OrangePowerCoordinator:
        """Return the loaded entry's coordinator."""
        return self.entry.runtime_data

    @property
    def budget(self) -> RequestBudget:
        """Return the entry's daily request budget."""
        return self.coordinator.budget

    @property
    def calls(self) -> int:
        """Return how many vehicles calls the service received."""
        return self.simulator.counts["vehicles"]

    @property
    def requests(self) -> int:
        """Return every request the service received."""
        return requests(self.simulator)

    def state(self, entity_id: str) -> str:
        """Return an entity's state (which must exist)."""
        return self.hass.states.get(entity_id).state

    def next_update(self) -> datetime | None:
        """Return the time the account's next update sensor shows."""
        return dt_util.parse_datetime(self.state(NEXT_UPDATE))

    async def set_up(self, limit: int | None = None, **options: Any) -> None:
        """Set the entry up with these options (and daily limit) on top of the fixture's."""
        if limit is not None:
            options[CONF_DAILY_REQUEST_LIMIT] = limit
        await set_up(self.hass, self.entry, **options)

    async def set_up_at(
        self, now: str, limit: int, spent: int | None = None, **options: Any
    ) -> None:
        """Set the entry up at this time under a daily limit, the day's count then at spent."""
        self.freezer.move_to(now)
        await self.set_up(limit, **options)
        if spent is not None:
            self.budget.count = spent

    async def reload(self, entry: MockConfigEntry | None = None) -> None:
        """Reload an entry (this one unless told), as an options change or a restart does."""
        await self.hass.config_entries.async_reload((entry or self.entry).entry_id)
        await self.hass.async_block_till_done()

    async def advance(self, **delta: float) -> None:
        """Move the clock on by timedelta(**delta) and let every refresh due run."""
        await advance(self.hass, self.freezer, timedelta(**delta))

    async def minutes(self, count: int) -> int:
        """Move the clock on minute by minute; return how many vehicles calls were made."""
        before = self.calls
        await minutes(self.hass, self.freezer, count)
        return self.calls - before

    async def minutes_to_next_poll(self) -> int:
        """Return after how many minutes the next vehicles call comes (two hours at most)."""
        for minute in range(1, 121):
            if await self.minutes(1):
                return minute
        raise AssertionError("no poll within two hours")

    async def set_number(self, entity_id: str, value: float) -> None:
        """Set a car's setting (a charge target, a capacity) as the user does."""
        await self.hass.services.async_call(
            "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
        )
        await self.hass.async_block_till_done()

    async def update_entity(self) -> None:
        """Ask for an update of the iX's battery (needs Home Assistant's core integration)."""
        await self.hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": IX_BATTERY}, blocking=True
        )
