"""Every way the service or the network can fail, on both endpoints, and what the user sees.

The README's troubleshooting table is this matrix in words: keep the two in step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
import json
import logging
from pathlib import Path
from typing import Any
from unittest.mock import patch

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.orangepower_bmw.const import CONF_TOKEN, DOMAIN
from simulator import Simulator, create_app
from tests.conftest import EMAIL, PASSWORD
from tests.helpers import IX_BATTERY as BATTERY, advance

EN_JSON = Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations" / "en.json"
ENGLISH = json.loads(EN_JSON.read_text())
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Fault:
    """A fault, the message it shows, the minutes until polling tries again, and what it says of that."""

    fault: dict[str, Any]
    message_key: str
    retry_minutes: int = 5
    # Words of the English message that say when polling tries again (once broken: the 403's
    # message said "at the next interval" while its wait doubles).
    promise: str = ""
    # The repair raised at once, until the next good poll.
    repair: str | None = None


FAULTS: dict[str, Fault] = {
    **{
        str(status): Fault({"status": status}, "invalid_response")
        for status in (400, 404, 405, 406)
    },
    **{
        str(status): Fault({"status": status}, "server_error", promise="at the next poll")
        for status in (500, 502, 503, 504)
    },
    "401": Fault({"status": 401}, "invalid_auth"),
    "403": Fault({"status": 403}, "forbidden", retry_minutes=10, promise="twice as long each time"),
    "410": Fault(
        {"status": 410},
        "service_gone",
        retry_minutes=60,
        promise="once an hour",
        repair="service_gone",
    ),
    "429": Fault(
        {"status": 429}, "rate_limited", retry_minutes=10, promise="twice as long each time"
    ),
    "429 Retry-After seconds": Fault(
        {"status": 429, "retry_after": "1200"},
        "rate_limited",
        retry_minutes=20,
        promise="as long as it asks",
    ),
    "429 Retry-After date": Fault(
        # 30 minutes after the failing poll, which is 5 minutes after START.
        {"status": 429, "retry_after": format_datetime(START + timedelta(minutes=35), usegmt=True)},
        "rate_limited",
        retry_minutes=30,
        promise="as long as it asks",
    ),
    "timeout": Fault({"delay": 2}, "cannot_connect"),
    "connection refused": Fault({}, "cannot_connect"),
    "dropped before the answer": Fault({"drop": "before"}, "cannot_connect"),
    "dropped mid-body": Fault({"drop": "mid_body"}, "cannot_connect"),
    "200 HTML": Fault({"body": "html"}, "invalid_response"),
    "malformed JSON": Fault({"body": "malformed"}, "invalid_response"),
    "wrong shape": Fault({"body": "wrong_shape"}, "invalid_response"),
    "empty body": Fault({"body": "empty"}, "invalid_response"),
    "10 MB body": Fault({"body": "huge"}, "invalid_response"),
}


class StoppableServer:
    """The simulator on a fixed loopback port, which can stop listening and start again."""

    def __init__(self, simulator: Simulator) -> None:
        self.runner = web.AppRunner(create_app(simulator))
        self.site: web.TCPSite | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen (again) on the same port."""
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await self.site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening: connections are refused."""
        assert self.site is not None
        await self.site.stop()


@pytest.fixture
async def server(simulator: Simulator, socket_enabled: None) -> AsyncIterator[StoppableServer]:
    """Serve the simulator where the test can make the port refuse connections."""
    server = StoppableServer(simulator)
    await server.runner.setup()
    await server.start()
    yield server
    await server.runner.cleanup()


@pytest.fixture
def simulator_url(server: StoppableServer) -> str:
    """Point the config entry at the stoppable server."""
    return f"http://127.0.0.1:{server.port}"


def our_lines(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Return the records of this integration a user sees at the default level (INFO and up)."""
    ours = "custom_components.orangepower_bmw"
    return [r for r in records if r.name.startswith(ours) and r.levelno >= logging.INFO]


async def poll_that_times_out(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Start the next poll, let its request reach the server, then move past the client's timeout.

    The frozen clock also holds the event loop's timers, so the timeout fires only when the
    test moves time on, which it cannot do while it waits for the poll to finish.
    """
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    for _ in range(50):
        await asyncio.sleep(0)
    freezer.tick(timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.freeze_time(START)
@pytest.mark.parametrize("endpoint", ["token", "vehicles"])
@pytest.mark.parametrize("name", list(FAULTS))
async def test_fault(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: Simulator,
    server: StoppableServer,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
    endpoint: str,
    name: str,
) -> None:
    fault = FAULTS[name]
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    kept = {key: value for key, value in init_integration.data.items() if key != CONF_TOKEN}
    options = dict(init_integration.options)
    if endpoint == "token":
        # The login happens only when the token is refused, so refuse it first.
        simulator.expire_tokens()
    if name == "connection refused":
        await server.stop()
    else:
        simulator.inject_fault(endpoint, **fault.fault)

    if name == "timeout":
        await poll_that_times_out(hass, freezer)
    else:
        await advance(hass, freezer, timedelta(minutes=5))

    if name == "401" and endpoint == "token":
        # Bad credentials: the only fault that asks the user for anything.
        assert hass.states.get(BATTERY).state == STATE_UNAVAILABLE
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    elif name == "401":
        # A refused token is renewed and the call made again: nothing to see.
        assert hass.states.get(BATTERY).state == "64"
        assert simulator.counts["token"] == 2
    else:
        assert hass.states.get(BATTERY).state == STATE_UNAVAILABLE
        assert init_integration.state is ConfigEntryState.LOADED
        assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [issue.translation_key for issue in issue_registry.issues.values()] == (
            [fault.repair] if fault.repair else []
        )
        assert init_integration.runtime_data.last_exception.translation_key == fault.message_key
        assert fault.promise in ENGLISH["exceptions"][fault.message_key]["message"]
        failed_lines = our_lines(caplog.records)
        assert len(failed_lines) == 1, [record.getMessage() for record in failed_lines]
        if name == "connection refused":
            await server.start()
        calls = simulator.counts["vehicles"]
        await advance(hass, freezer, timedelta(minutes=fault.retry_minutes - 1))
        assert simulator.counts["vehicles"] == calls, "polled before the wait was over"
        await advance(hass, freezer, timedelta(minutes=1))
        assert hass.states.get(BATTERY).state == "64"
        assert not issue_registry.issues
        back_lines = our_lines(caplog.records)[1:]
        assert [record.getMessage() for record in back_lines] == [
            "Fetching orangepower_bmw data recovered"
        ]

    assert not [record for record in our_lines(caplog.records) if record.exc_info]
    for secret in (PASSWORD, EMAIL, *simulator._tokens):  # credentials and every token issued
        assert secret.lower() not in caplog.text.lower()  # as written, with any traceback
    assert {key: value for key, value in init_integration.data.items() if key != CONF_TOKEN} == kept
    assert init_integration.options == options


@pytest.fixture(autouse=True)
def quick_and_steady() -> Any:
    """Give up on a request after half a second (a quick timeout fault); wait with no jitter."""
    with (
        patch("custom_components.orangepower_bmw.coordinator.REQUEST_TIMEOUT", 0.5),
        patch("custom_components.orangepower_bmw.coordinator.random.uniform", return_value=1.0),
    ):
        yield
