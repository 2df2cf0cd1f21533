"""Refresh triggers: a change of an entity the user chose (a wallbox's plug, say) asks for a poll."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from .coordinator import OrangePowerCoordinator

# The car reports to BMW a little after the wallbox sees the plug: ask half a minute later.
TRIGGER_DELAY = timedelta(seconds=30)
NOT_A_STATE = frozenset({STATE_UNAVAILABLE, STATE_UNKNOWN})


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
            coordinator.async_refresh_soon(TRIGGER_DELAY, follow_up=True)

    return async_track_state_change_event(hass, list(entity_ids), state_changed)
