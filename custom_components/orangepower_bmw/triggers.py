"""Refresh triggers: a change of an entity the user chose (a wallbox's plug, say) asks for a poll.

The car reports to BMW a little after the wallbox sees the plug, so a triggered refresh that shows no
car's plug or charging state change is followed by one more, a few minutes later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from .models import Vehicle

if TYPE_CHECKING:
    from .coordinator import OrangePowerCoordinator

# The car reports to BMW a little after the wallbox sees the plug: ask half a minute later.
TRIGGER_DELAY = timedelta(seconds=30)
# A triggered refresh that showed nothing new is followed by one more, this much later.
FOLLOW_UP_DELAY = timedelta(minutes=3)
NOT_A_STATE = frozenset({STATE_UNAVAILABLE, STATE_UNKNOWN})

# Each car's plug and charging state, by VIN.
type ChargeStates = dict[str, tuple[bool | None, str | None]]


def charge_states(data: Mapping[str, Vehicle] | None) -> ChargeStates:
    """Return each car's plug and charging state, to tell whether a refresh showed a change."""
    return {
        vin: (vehicle.charging.charger_connected, vehicle.charging.state)
        for vin, vehicle in (data or {}).items()
    }


def shows_no_change(before: ChargeStates | None, data: Mapping[str, Vehicle] | None) -> bool:
    """Return whether an asked-for refresh with a follow-up showed no car's plug or state change.

    Cars report to BMW late: such a refresh is followed by one more.
    """
    return before is not None and charge_states(data) == before


def is_real_change(event: Event[EventStateChangedData]) -> bool:
    """Return whether an entity's state really changed: not its attributes, not (un)availability."""
    old, new = event.data["old_state"], event.data["new_state"]
    return (
        old is not None
        and new is not None
        and old.state != new.state
        and old.state not in NOT_A_STATE
        and new.state not in NOT_A_STATE
    )


@callback
def async_track_refresh_entities(
    hass: HomeAssistant, coordinator: OrangePowerCoordinator, entity_ids: Iterable[str]
) -> CALLBACK_TYPE:
    """Poll soon after any of the entities changes state (they need not exist yet)."""

    @callback
    def state_changed(event: Event[EventStateChangedData]) -> None:
        if is_real_change(event):
            coordinator.async_ask(TRIGGER_DELAY, follow_up=True)

    return async_track_state_change_event(hass, list(entity_ids), state_changed)
