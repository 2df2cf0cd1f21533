"""Start-up of a real Home Assistant process with the integration loaded.

A temporary config directory (prepared by scripts/bootstrap_dev.py, as scripts/develop and the
end-to-end tests do) loads the integration through a symlink to the working tree. A first start
onboards an owner and adds the simulator's demo account (two cars) through the config-flow API;
then Home Assistant is restarted a few times and each start is timed: from starting the process to
the first of the integration's states and to the last car's battery level, the process's CPU
seconds by then, Home Assistant's own "initialized in", and the integration's setup time as Home
Assistant reports it (websocket integration/setup_info).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
import os
from pathlib import Path
import re
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from benchmarks.common import median, record
from custom_components.orangepower_bmw.const import DOMAIN
from scripts.bootstrap_dev import (
    BootstrapError,
    HomeAssistantApi,
    prepare_config,
    stop_process,
    wait_for_cars,
    wait_until_up,
)
from simulator import Simulator, run_simulator

ROUNDS = 3
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
POLL_SECONDS = 0.05
OWNER = "benchmark"
OWNER_PASSWORD = "benchmark-password"
TOKEN_NAME = "orangepower-benchmark"
INITIALIZED = re.compile(r"Home Assistant initialized in ([0-9.]+)s")
# No default_config: only what the onboarding, config-flow and websocket APIs need. Home Assistant
# loads its default integrations (frontend, person, ...) whatever this file says.
CONFIGURATION = """\
homeassistant:
  name: Orange Power BMW (benchmark)
  unit_system: metric
  time_zone: Europe/London
  country: GB
  currency: GBP
  language: en
  latitude: 51.5014
  longitude: -0.1419
  elevation: 10

api:
config:
onboarding:
websocket_api:

logger:
  default: warning
  logs:
    homeassistant.bootstrap: info
    homeassistant.setup: info
    haffmpeg: critical
    homeassistant.components.camera.img_util: critical
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_hass(config_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_")}
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "homeassistant", "--config", str(config_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


async def wait_for_log(
    log: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes]
) -> re.Match[str]:
    """Wait until Home Assistant logs a line matching the pattern; return the match."""
    async with asyncio.timeout(START_TIMEOUT):
        while not (found := pattern.search(read_log(log))):
            if not alive(process):
                pytest.fail(f"Home Assistant exited while starting:\n{tail(log)}")
            await asyncio.sleep(POLL_SECONDS)
    return found


def read_log(log: Path) -> str:
    return read_file(log)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(read_log(log).splitlines()[-lines:])


async def our_states(api: HomeAssistantApi, entity_ids: set[str]) -> list[dict[str, Any]] | None:
    """Return the integration's states; none while Home Assistant does not answer yet.

    None: the token was refused.
    """
    try:
        states: list[dict[str, Any]] = await api.get("/api/states")
    except aiohttp.ClientError, TimeoutError:
        return []
    except BootstrapError as err:
        return None if "HTTP 401" in str(err) else []
    return [state for state in states if state["entity_id"] in entity_ids]


async def wait_for_token_saved(config_dir: Path, client_name: str) -> None:
    """Wait until Home Assistant has saved the long-lived token, which it does after a delay."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if client_name in read_file(config_dir / ".storage" / "auth"):
                return
            await asyncio.sleep(POLL_SECONDS)


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def has_value(state: dict[str, Any]) -> bool:
    return state["state"] not in ("unavailable", "unknown")


@dataclass(frozen=True)
class Installation:
    """A Home Assistant set up with the integration, and what to look for when it starts."""

    config_dir: Path
    url: str
    token: str
    entity_ids: set[str]
    batteries: set[str]


async def timed_start(
    session: aiohttp.ClientSession, installation: Installation, log: Path
) -> dict[str, float]:
    """Start Home Assistant and time it until every car's battery level is in its states."""
    started = time.time()
    process = start_hass(installation.config_dir, log)
    api = HomeAssistantApi(session, installation.url, installation.token)
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                if not alive(process):
                    pytest.fail(f"Home Assistant exited while starting:\n{tail(log)}")
                states = await our_states(api, installation.entity_ids)
                if states is None:
                    if INITIALIZED.search(read_log(log)):
                        pytest.fail(f"Home Assistant refused the owner's token:\n{tail(log)}")
                    states = []
                valued = {state["entity_id"] for state in states if has_value(state)}
                if installation.batteries <= valued:
                    seen = time.time()
                    cpu = cpu_seconds(process.pid)
                    break
                await asyncio.sleep(POLL_SECONDS)
        written = [datetime.fromisoformat(state["last_updated"]).timestamp() for state in states]
        initialized = await wait_for_log(log, INITIALIZED, process)
        timings = await api.ws("integration/setup_info")
    finally:
        stop_process(process, STOP_TIMEOUT)
    reported = {item["domain"]: item["seconds"] for item in timings}
    return {
        "first_state_s": min(written) - started,
        "all_batteries_s": max(written) - started,
        "seen_s": seen - started,
        "cpu_s": cpu,
        "initialized_s": float(initialized.group(1)),
        "setup_info_s": reported[DOMAIN],
        "setup_info_all_s": sum(reported.values()),
        "integrations": len(reported),
    }


async def test_startup(tmp_path: Path, socket_enabled: None) -> None:
    pytest.importorskip("hass_frontend", reason="Home Assistant cannot start without its frontend")
    config_dir = tmp_path / "config"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prepare_config(config_dir, port=port, copy_configuration=False)
    (config_dir / "configuration.yaml").write_text(CONFIGURATION, encoding="utf-8")
    simulator = Simulator()
    async with run_simulator(simulator) as simulator_url, aiohttp.ClientSession() as session:
        first_log = tmp_path / "hass-0.log"
        first = start_hass(config_dir, first_log)
        try:
            await wait_until_up(session, url, START_TIMEOUT, alive=lambda: alive(first))
            api = HomeAssistantApi(session, url)
            await api.onboard(OWNER, OWNER_PASSWORD, "Benchmark")
            await api.add_integration(simulator_url)
            batteries = set(await wait_for_cars(api, START_TIMEOUT))
            token = await api.ws("auth/long_lived_access_token", client_name=TOKEN_NAME, lifespan=1)
            registry = await api.ws("config/entity_registry/list")
            # Stop only once it has started and saved the token, so the next starts find both.
            await wait_for_log(first_log, INITIALIZED, first)
            await wait_for_token_saved(config_dir, TOKEN_NAME)
        except BootstrapError as err:
            pytest.fail(f"setting up Home Assistant failed: {err}\n{tail(first_log)}")
        finally:
            stop_process(first, STOP_TIMEOUT)
        entity_ids = {
            entry["entity_id"]
            for entry in registry
            if entry["platform"] == DOMAIN and entry["disabled_by"] is None
        }
        installation = Installation(config_dir, url, token, entity_ids, batteries)
        before = simulator.counts
        rounds = [
            await timed_start(session, installation, tmp_path / f"hass-{index}.log")
            for index in range(1, ROUNDS + 1)
        ]
        after = simulator.counts
    figures: dict[str, Any] = {
        key: median([each[key] for each in rounds]) for key in rounds[0] if key != "integrations"
    }
    figures["rounds"] = rounds
    figures["cars"] = len(batteries)
    figures["entities"] = len(entity_ids)
    figures["integrations"] = rounds[0]["integrations"]
    figures["logins"] = after["token"] - before["token"]
    figures["vehicles_calls"] = after["vehicles"] - before["vehicles"]
    record("startup", "demo", figures)
    print(f"\nstart-up: {figures}")
