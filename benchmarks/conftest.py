"""Fixtures of the benchmarks: Home Assistant as it runs in production, not as tests run it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
import logging
import os

import pytest

from benchmarks.common import record

# Imported here so that the project's package, not one under the test plugin's testing_config, is cached.
import custom_components.orangepower_bmw  # noqa: F401


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note when the run started and how busy the machine was."""
    record("run", "started", datetime.now(UTC).isoformat(timespec="seconds"))
    record("run", "load_average_at_start", os.getloadavg())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Note when the run ended, how busy the machine was, and whether every benchmark passed."""
    record("run", "finished", datetime.now(UTC).isoformat(timespec="seconds"))
    record("run", "load_average_at_end", os.getloadavg())
    record("run", "exit_status", int(exitstatus))


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Replace the test plugin's fixture: asyncio's debug mode slows every callback down."""
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture(autouse=True)
def quiet_logging() -> Iterator[None]:
    """Log warnings and errors only, as Home Assistant does by default, so logging is not timed."""
    root, loader = logging.getLogger(), logging.getLogger("homeassistant.loader")
    levels = root.level, loader.level
    root.setLevel(logging.WARNING)
    # Its warning that a custom integration is loaded, once per benchmark, is only noise here.
    loader.setLevel(logging.ERROR)
    yield
    root.setLevel(levels[0])
    loader.setLevel(levels[1])
