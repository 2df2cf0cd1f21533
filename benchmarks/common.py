"""Helpers shared by the benchmarks: scenarios, a simulator in its own thread, results, statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
import json
import os
from pathlib import Path
import statistics
import threading
from typing import Any

from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_IDLE_INTERVAL,
    DEFAULT_ACTIVE_INTERVAL,
    DEFAULT_IDLE_INTERVAL,
    DOMAIN,
)
from simulator import Scenario, Simulator, parse_scenario, run_simulator

RESULTS_ENV = "ORANGEPOWER_BENCHMARK_RESULTS"
PASSWORD = "bench-password"


def car(index: int, **fields: Any) -> dict[str, Any]:
    """Return a scenario car with a unique 17-character VIN, parked and unplugged unless told."""
    return {
        "vin": f"WBABENCH{index:09d}",
        "model": "i4 eDrive40",
        "year": 2024,
        "percentage": 40,
        **fields,
    }


def scenario(*accounts: tuple[str, list[dict[str, Any]]]) -> Scenario:
    """Return a scenario of accounts given as (email, cars), all with the same password."""
    return parse_scenario(
        {
            "accounts": [
                {"email": email, "password": PASSWORD, "cars": cars} for email, cars in accounts
            ]
        }
    )


def config_entry(url: str, email: str, **options: Any) -> MockConfigEntry:
    """Return a config entry for an account of the simulator: the default intervals, or these options."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=email,
        unique_id=email,
        data={
            CONF_EMAIL: email,
            CONF_PASSWORD: PASSWORD,
            CONF_ACCOUNT_EMAIL: email,
            CONF_URL: url,
        },
        options={
            CONF_ACTIVE_INTERVAL: DEFAULT_ACTIVE_INTERVAL,
            CONF_IDLE_INTERVAL: DEFAULT_IDLE_INTERVAL,
            **options,
        },
    )


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the entry and set it up, failing loudly when it does not load."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@contextmanager
def threaded_simulator(simulator: Simulator) -> Iterator[str]:
    """Serve the simulator from its own thread and event loop; yield its URL.

    Its work then stays out of the thread_time() of Home Assistant's event loop thread, so a
    poll's CPU time is the integration's and Home Assistant's alone.
    """
    started = threading.Event()
    url: list[str] = []
    stop: list[asyncio.Event] = []
    loop: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        loop.append(asyncio.get_running_loop())
        async with run_simulator(simulator) as served:
            url.append(served)
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="benchmark-simulator")
    thread.start()
    try:
        if not started.wait(30) or not url:
            msg = "the simulator thread did not start"
            raise RuntimeError(msg)
        yield url[0]
    finally:
        if loop:
            loop[0].call_soon_threadsafe(stop[0].set)
        thread.join(30)


def median(values: Sequence[float]) -> float:
    """Return the median."""
    return statistics.median(values)


def record(section: str, key: str, value: Any) -> None:
    """Keep one figure in the results file scripts/benchmark reports from (when it set one)."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    results_path = Path(path)
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except FileNotFoundError, ValueError:
        results = {}
    results.setdefault(section, {})[key] = value
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
