"""Fixtures of the end-to-end tests: the simulator and a real Home Assistant, each a process.

One Home Assistant per test module, in a temporary config directory prepared by the same code as
scripts/develop (scripts/bootstrap_dev.py). The processes are always stopped in teardown; a failing
test shows the tail of Home Assistant's log, and the module's later tests, which build on the failed
one, are skipped in modules marked incremental.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
import json
import os
from pathlib import Path
import re
import subprocess
import sys
import time
from typing import IO, Any

import aiohttp
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

from custom_components.orangepower_bmw.const import DOMAIN
from scripts.bootstrap_dev import HomeAssistantApi, prepare_config, stop_process, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
OWNER_USERNAME = "owner"
OWNER_PASSWORD = "owner-password"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LOG_TAIL_LINES = 80
LISTENING = re.compile(r"listening on (http://\S+)")
LOG_LINE = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]+) \([^)]*\) \[(?P<logger>[^\]]+)\] (?P<message>.*)$", re.MULTILINE
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace the unit tests' autouse fixture: these tests start no in-process Home Assistant."""


def child_env() -> dict[str, str]:
    """Return the environment for a child process, without coverage's subprocess measurement.

    Home Assistant loads the integration through a temporary symlink, which coverage could not map
    back to the source; the simulator has its own tests.
    """
    return {
        key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_PROCESS_")
    }


def free_port() -> int:
    """Return a free port on 127.0.0.1, found by a child process (pytest-socket blocks this one)."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
        ],
        capture_output=True,
        check=True,
        env=child_env(),
        text=True,
        timeout=30,
    )
    return int(found.stdout)


def _exact_pins(lines: list[str]) -> set[tuple[str, str]]:
    """Return the (name, version) of each requirement pinned with == among the lines."""
    pins: set[tuple[str, str]] = set()
    for line in lines:
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if requirement.marker is None and len(specifiers) == 1 and specifiers[0].operator == "==":
            pins.add((canonicalize_name(requirement.name), specifiers[0].version))
    return pins


def unpinned_requirements(components: list[str]) -> list[str]:
    """Return the manifest requirements of the loaded integrations that no pin fixes.

    A package only a range asks for (gazetteer-matcher wants home-assistant-intents>=...) is
    installed at its newest version, and Home Assistant then installs the version its manifest pins
    at start. Only requirements_test.txt's own pins and Home Assistant's hold on any day, whatever
    this machine's .venv happens to have installed.
    """
    ours = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements_test.txt").read_text(encoding="utf-8").splitlines()
    ]
    pins = _exact_pins([line for line in ours if line])
    for dist in ("homeassistant", "pytest-homeassistant-custom-component"):
        pins |= _exact_pins(metadata.requires(dist) or [])
    components_dir = Path(
        metadata.distribution("homeassistant").locate_file("homeassistant/components")
    )
    # A loaded platform is listed as "integration.platform": both are integrations.
    domains = sorted({part for component in components for part in component.split(".")})
    manifests = {domain: components_dir / domain / "manifest.json" for domain in domains}
    return [
        f"{domain}: {requirement}"
        for domain, manifest in manifests.items()
        if manifest.is_file()
        for requirement in json.loads(manifest.read_text(encoding="utf-8")).get("requirements", [])
        if not _exact_pins([requirement]) <= pins
    ]


@dataclass
class Stack:
    """The simulator and Home Assistant processes of one test module."""

    config_dir: Path
    ha_port: int
    simulator_url: str = ""
    simulator: subprocess.Popen[bytes] | None = None
    hass: subprocess.Popen[bytes] | None = None
    token: str | None = None
    entry_id: str | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def ha_url(self) -> str:
        """Return Home Assistant's base URL."""
        return f"http://127.0.0.1:{self.ha_port}"

    def _log(self, name: str) -> IO[bytes]:
        log = (self.config_dir / name).open("ab")
        self._logs.append(log)
        return log

    def start_simulator(self) -> None:
        """Start the simulator on a free port and wait for its address."""
        output = self.config_dir / "simulator.out"
        self.simulator = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log("simulator.out"),
            stderr=self._log("simulator.log"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not (match := LISTENING.search(output.read_text(encoding="utf-8"))):
            if self.simulator.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the simulator did not start: {self.tail('simulator.log')}")
            time.sleep(0.05)
        self.simulator_url = match.group(1)

    def start_hass(self) -> None:
        """Start Home Assistant on the config directory; the tests wait for it over HTTP."""
        self.hass = subprocess.Popen(
            [sys.executable, "-m", "homeassistant", "--config", "."],
            cwd=self.config_dir,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log("hass.out"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_hass(self) -> None:
        """Stop Home Assistant the way a user's Ctrl-C or a service manager does."""
        stop_process(self.hass, STOP_TIMEOUT)

    def hass_alive(self) -> bool:
        """Return whether Home Assistant is still running."""
        return self.hass is not None and self.hass.poll() is None

    def stop(self) -> None:
        """Stop both processes and close their logs."""
        stop_process(self.hass, STOP_TIMEOUT)
        stop_process(self.simulator, STOP_TIMEOUT)
        for log in self._logs:
            log.close()

    def tail(self, name: str = "hass.out", lines: int = LOG_TAIL_LINES) -> str:
        """Return the last lines of a log in the config directory."""
        try:
            text = (self.config_dir / name).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"({name} was not written)"
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        """Return Home Assistant's whole output, across restarts (its own log starts afresh)."""
        return (self.config_dir / "hass.out").read_text(encoding="utf-8", errors="replace")


def running_stack(
    tmp_path_factory: pytest.TempPathFactory, change: Callable[[Path], None] | None = None
) -> Iterator[Stack]:
    """Start the simulator and Home Assistant on a new config directory; stop them afterwards.

    The change, when given, is made to the prepared config directory before Home Assistant starts.
    """
    config_dir = tmp_path_factory.mktemp("home-assistant")
    stack = Stack(config_dir=config_dir, ha_port=free_port())
    prepare_config(config_dir, port=stack.ha_port, copy_configuration=True)
    if change is not None:
        change(config_dir)
    atexit.register(stack.stop)
    try:
        stack.start_simulator()
        stack.start_hass()
        yield stack
    finally:
        stack.stop()
        atexit.unregister(stack.stop)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the simulator and Home Assistant for the module; stop them afterwards."""
    yield from running_stack(tmp_path_factory)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """Return an HTTP client session; every request has its own timeout."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(stack: Stack, session: aiohttp.ClientSession) -> HomeAssistantApi:
    """Return Home Assistant's API once it answers, with the owner's token when there is one."""
    await wait_until_up(session, stack.ha_url, START_TIMEOUT, alive=stack.hass_alive)
    return HomeAssistantApi(session, stack.ha_url, stack.token)


@pytest.fixture
async def owner_api(stack: Stack, api: HomeAssistantApi) -> HomeAssistantApi:
    """Return the API as the owner, onboarding Home Assistant first when nobody did yet."""
    if api.token is None:
        if (await api.onboarding_steps()).get("user") is False:
            await api.onboard(OWNER_USERNAME, OWNER_PASSWORD, "Owner")
        else:
            await api.login(OWNER_USERNAME, OWNER_PASSWORD)
        stack.token = api.token
    return api


@dataclass
class Simulator:
    """The simulator's control API."""

    session: aiohttp.ClientSession
    url: str

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API and return its JSON answer."""
        async with self.session.request(
            method, f"{self.url}/_simulator/{path}", json=body, timeout=aiohttp.ClientTimeout(30)
        ) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    async def counters(self) -> dict[str, int]:
        """Return how many token and vehicles calls reached the service so far."""
        counters: dict[str, Any] = await self.call("GET", "counters")
        return {"token": counters["token"], "vehicles": counters["vehicles"]}


@pytest.fixture
def simulator(stack: Stack, session: aiohttp.ClientSession) -> Simulator:
    """Return the simulator's control API."""
    return Simulator(session, stack.simulator_url)


async def use_energy_charged(
    api: HomeAssistantApi, car: str, hourly_totals: list[tuple[datetime, float]]
) -> None:
    """Import a car's Energy charged statistics and add it to the Energy dashboard's devices.

    The metadata is what the recorder's first five-minute compile makes, without waiting for it.
    """
    energy = f"sensor.{car}_energy_charged_estimate"
    await api.ws(
        "recorder/import_statistics",
        metadata={
            "statistic_id": energy,
            "source": "recorder",
            "name": None,
            "has_mean": False,
            "mean_type": 0,
            "has_sum": True,
            "unit_of_measurement": "kWh",
            "unit_class": "energy",
        },
        stats=[
            {"start": start.isoformat(), "state": total, "sum": total}
            for start, total in hourly_totals
        ],
    )
    await api.ws(
        "energy/save_prefs",
        device_consumption=[
            {"stat_consumption": energy, "stat_rate": f"sensor.{car}_charging_power"}
        ],
    )


async def wait_for(
    what: str,
    check: Callable[[], Any],
    *,
    seconds: float = 30,
    nudge: Callable[[], Any] | None = None,
    nudge_every: float = 5,
) -> Any:
    """Wait until the async check returns something truthy, nudging now and then; fail on timeout.

    The nudge (e.g. homeassistant.update_entity) runs first and again every few seconds: a poll
    asked for during the coordinator's ten-second cooldown runs only when the cooldown ends.
    """
    last: Any = None
    next_nudge = 0.0
    try:
        async with asyncio.timeout(seconds):
            while True:
                if nudge is not None and time.monotonic() >= next_nudge:
                    await nudge()
                    next_nudge = time.monotonic() + nudge_every
                if result := await check():
                    return result
                last = result
                await asyncio.sleep(0.25)
    except TimeoutError:
        pytest.fail(f"timed out after {seconds:.0f} s waiting for {what} (last check: {last!r})")


async def state_of(api: HomeAssistantApi, entity_id: str) -> str | None:
    """Return an entity's state, or None when it has none."""
    found = (await api.states(entity_id)).get(entity_id)
    return None if found is None else found["state"]


async def wait_for_states(
    api: HomeAssistantApi,
    what: str,
    expected: Mapping[str, str | None],
    *,
    nudge: Callable[[], Any] | None = None,
) -> None:
    """Wait until each entity shows its expected state (None: it has none), as wait_for does."""

    async def shown() -> bool:
        found = await api.states()
        return all(found.get(key, {}).get("state") == state for key, state in expected.items())

    await wait_for(what, shown, nudge=nudge)


def log_problems(log: str) -> list[str]:
    """Return the log's errors, and its warnings about this integration."""
    return [
        line.group(0)
        for line in LOG_LINE.finditer(log)
        if line["level"] in ("ERROR", "CRITICAL")
        or (
            line["level"] == "WARNING"
            and (DOMAIN in line["logger"] or f"'{DOMAIN}'" in line["message"])
        )
    ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach Home Assistant's log tail to a failure; remember it to skip the steps after it."""
    report = yield
    if report.failed:
        stack = getattr(item, "funcargs", {}).get("stack")
        if isinstance(stack, Stack):
            report.sections.append(
                (f"Home Assistant's log (last {LOG_TAIL_LINES} lines)", stack.tail())
            )
        if call.when in ("setup", "call") and item.get_closest_marker("incremental"):
            assert item.parent is not None
            item.parent.stash.setdefault(FIRST_FAILURE, item.name)
    return report


FIRST_FAILURE = pytest.StashKey[str]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a module's later steps once one failed: they build on what it should have done."""
    if item.parent is not None and (failed := item.parent.stash.get(FIRST_FAILURE, None)):
        pytest.skip(f"{failed} failed, and this step builds on it")
