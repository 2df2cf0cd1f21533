"""Set up a development Home Assistant over its own HTTP API: owner account, then this integration.

Shared by scripts/develop and the end-to-end tests (tests/e2e). As a script:

    python scripts/bootstrap_dev.py --ha-url http://127.0.0.1:8123 \
        --simulator-url http://127.0.0.1:3000 --credentials config/dev-credentials.json

The first run onboards an owner account through the onboarding API and adds Orange Power BMW through
the config-flow API, pointed at the simulator; later runs log in, add the integration only when it is
missing, and point it at the simulator again when its address changed. Every request has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "orangepower_bmw"
INTEGRATION_SOURCE = ROOT / "custom_components" / DOMAIN
BLUEPRINT_SOURCE = ROOT / "blueprints" / "automation" / DOMAIN
CONFIGURATION_YAML = ROOT / "config" / "configuration.yaml"

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
# The demo polls every minute while a car charges (the default is 5), so its charge moves visibly.
DEMO_ACTIVE_INTERVAL = 1
# The Cars dashboard scripts/develop adds on its first run, and makes the default one.
DASHBOARD_URL = "dashboard-cars"
DASHBOARD_TITLE = "Cars"


class BootstrapError(Exception):
    """Home Assistant did not answer as expected."""


def say(message: str) -> None:
    """Print a line for the developer running scripts/develop."""
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


def prepare_config(config_dir: Path, *, port: int, copy_configuration: bool) -> None:
    """Make a config directory that loads the integration from the working tree, not a copy.

    The integration is a symlink (relative when the directory is inside the repository, so the
    checkout can move), and so is each file of the cheap-tariff blueprint's folder, in a real
    folder under blueprints/; an empty automations.yaml is made for the automations the UI saves.
    Home Assistant 2026.10 keeps its HTTP settings in .storage/http (an http:
    section in YAML is imported once as an unconfirmed trial that reverts after five minutes), so
    the address, 127.0.0.1 and the port, is written there before each start. Onboarding's
    core-config step is marked done up front: configuration.yaml already sets the location and
    units.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    if copy_configuration:
        shutil.copyfile(CONFIGURATION_YAML, config_dir / "configuration.yaml")
    _link(config_dir / "custom_components" / DOMAIN, INTEGRATION_SOURCE)
    _link_blueprints(config_dir / "blueprints" / "automation" / DOMAIN)
    automations = config_dir / "automations.yaml"
    if not automations.exists():
        automations.write_text("[]\n", encoding="utf-8")
    storage = config_dir / ".storage"
    storage.mkdir(exist_ok=True)
    # Only these two private files, in Home Assistant 2026.10's formats (a later version migrates
    # them); everything else goes through public APIs. The address must hold from the very first
    # start: the public http/config/configure command needs a running, onboarded Home Assistant
    # and applies only after a restart, so until then it would listen on every interface, port 8123.
    _write_store(storage, "http", 2, 2, _http_settings(port))
    if not (storage / "onboarding").exists():
        # Finishing this step through /api/onboarding/core_config would also start the onboarding
        # integrations (met, radio_browser, ...), which install packages and reach the internet.
        _write_store(storage, "onboarding", 4, 1, {"done": ["core_config"]})


def _link_blueprints(folder: Path) -> None:
    """Link each of the project's blueprint files into a real folder of the config directory.

    Home Assistant lists blueprints with Path.glob("**/*.yaml"), which since Python 3.13 does not
    descend into a symlinked folder: a linked folder would show no blueprint, a linked file does.
    A folder linked by an earlier version of this script is replaced.
    """
    if folder.is_symlink():
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(BLUEPRINT_SOURCE.glob("*.yaml")):
        _link(folder / source.name, source)


def _link(link: Path, source: Path) -> None:
    """Make a symlink to a folder or file of the working tree (relative when the link is inside it)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    inside = link.parent.resolve().is_relative_to(ROOT)
    target = Path(os.path.relpath(source, link.parent.resolve())) if inside else source
    if link.is_symlink() and link.readlink() == target:
        return
    if link.exists() and not link.is_symlink():
        msg = f"{link} exists and is not a symlink to the working tree; move it away"
        raise BootstrapError(msg)
    link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=source.is_dir())


def _http_settings(port: int) -> dict[str, Any]:
    """Return the HTTP settings: Home Assistant's defaults, listening on 127.0.0.1 only."""
    return {
        "stable": {
            "server_host": ["127.0.0.1"],
            "server_port": port,
            "cors_allowed_origins": ["https://cast.home-assistant.io"],
            "login_attempts_threshold": -1,
            "ip_ban_enabled": True,
            "ssl_profile": "modern",
            "use_x_frame_options": True,
            "created_at": "2026-01-01T00:00:00+00:00",
            "error": None,
            "error_message": None,
        },
        "pending": None,
        "yaml_migration_done": True,
    }


def _write_store(storage: Path, key: str, version: int, minor_version: int, data: Any) -> None:
    """Write a file of Home Assistant's .storage, readable by its owner only."""
    path = storage / key
    path.write_text(
        json.dumps({"version": version, "minor_version": minor_version, "key": key, "data": data}),
        encoding="utf-8",
    )
    path.chmod(0o600)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """Stop a process with SIGTERM, and SIGKILL when it takes longer than the timeout."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@dataclass
class HomeAssistantApi:
    """Home Assistant's REST and websocket APIs, as the owner account (once it has a token)."""

    session: aiohttp.ClientSession
    url: str
    token: str | None = None

    @property
    def client_id(self) -> str:
        """Return the OAuth client id the frontend would use: Home Assistant's own address."""
        return f"{self.url}/"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        auth: bool = True,
    ) -> Any:
        """Make a request and return its JSON body; raise BootstrapError on another status."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        async with self.session.request(
            method,
            f"{self.url}{path}",
            json=json_body,
            data=form,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
        ) as response:
            text = await response.text()
            if response.status not in expect:
                msg = f"{method} {path}: HTTP {response.status}: {text[:300]}"
                raise BootstrapError(msg)
            if response.content_type == "application/json" and text:
                return json.loads(text)
            return text

    async def get(self, path: str) -> Any:
        """GET a path as the owner."""
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None) -> Any:
        """POST JSON to a path as the owner."""
        return await self.request("POST", path, json_body=body if body is not None else {})

    async def ws(self, command: str, **fields: Any) -> Any:
        """Send one websocket command and return its result."""
        async with self.session.ws_connect(
            f"{self.url}/api/websocket", timeout=aiohttp.ClientWSTimeout(ws_close=10)
        ) as socket:
            await asyncio.wait_for(socket.receive_json(), 10)  # auth_required
            await socket.send_json({"type": "auth", "access_token": self.token})
            reply = await asyncio.wait_for(socket.receive_json(), 10)
            if reply.get("type") != "auth_ok":
                msg = f"websocket authentication failed: {reply}"
                raise BootstrapError(msg)
            await socket.send_json({"id": 1, "type": command, **fields})
            reply = await asyncio.wait_for(socket.receive_json(), 30)
        if not reply.get("success"):
            msg = f"websocket {command}: {reply.get('error')}"
            raise BootstrapError(msg)
        return reply["result"]

    async def _token_from_code(self, code: str) -> None:
        """Exchange an authorization code for an access token."""
        tokens = await self.request(
            "POST",
            "/auth/token",
            form={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
            auth=False,
        )
        self.token = tokens["access_token"]

    async def onboarding_steps(self) -> dict[str, bool]:
        """Return onboarding's steps and whether each is done; empty once onboarding is over."""
        steps = await self.request("GET", "/api/onboarding", expect=(200, 404), auth=False)
        if not isinstance(steps, list):
            return {}
        return {step["step"]: step["done"] for step in steps}

    async def onboard(self, username: str, password: str, name: str) -> None:
        """Create the owner account, log in as it and finish the remaining onboarding steps."""
        created = await self.request(
            "POST",
            "/api/onboarding/users",
            json_body={
                "name": name,
                "username": username,
                "password": password,
                "client_id": self.client_id,
                "language": "en",
            },
            auth=False,
        )
        await self._token_from_code(created["auth_code"])
        await self.finish_onboarding()

    async def finish_onboarding(self) -> None:
        """Finish the onboarding steps after the owner account; the core-config one is done."""
        steps = await self.onboarding_steps()
        if steps.get("core_config") is False:
            await self.post("/api/onboarding/core_config")
        if steps.get("analytics") is False:
            await self.post("/api/onboarding/analytics")
        if steps.get("integration") is False:
            await self.post(
                "/api/onboarding/integration",
                {"client_id": self.client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
            )

    async def login(self, username: str, password: str) -> None:
        """Log in through the login flow, as the frontend does."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            json_body={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
            auth=False,
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json_body={"username": username, "password": password, "client_id": self.client_id},
            auth=False,
        )
        if result.get("type") != "create_entry":
            msg = f"could not log in as {username}: {result.get('errors')}"
            raise BootstrapError(msg)
        await self._token_from_code(result["result"])

    async def entries(self) -> list[dict[str, Any]]:
        """Return this integration's config entries."""
        entries: list[dict[str, Any]] = await self.get(
            f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return entries

    async def start_flow(self, **fields: Any) -> dict[str, Any]:
        """Start a config flow of this integration (a reconfigure one with entry_id)."""
        flow: dict[str, Any] = await self.post(
            "/api/config/config_entries/flow", {"handler": DOMAIN, **fields}
        )
        return flow

    async def submit_flow(self, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Submit a config flow's form."""
        result: dict[str, Any] = await self.post(f"/api/config/config_entries/flow/{flow_id}", data)
        return result

    async def add_integration(
        self, simulator_url: str, account: dict[str, str] | None = None
    ) -> str:
        """Add an account (the demo's unless told) through the config flow; return the entry id."""
        account = account or {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        flow = await self.start_flow()
        result = await self.submit_flow(flow["flow_id"], {**account, "url": simulator_url})
        if result.get("type") != "create_entry":
            msg = f"adding the integration failed: {result.get('errors') or result}"
            raise BootstrapError(msg)
        entry_id: str = result["result"]["entry_id"]
        return entry_id

    async def point_at(self, entry_id: str, simulator_url: str) -> bool:
        """Point the entry at this simulator address when it has another; return whether it did.

        Through the Reconfigure form, as a user would: it is sent back with what it suggests (the
        Orange Power Connect account e-mail, when the entry has its own) and the new address. Its
        password left out keeps the stored one; the MyBMW e-mail is no field of it.
        """
        flow = await self.start_flow(entry_id=entry_id)
        suggested = {
            field["name"]: (field.get("description") or {}).get("suggested_value")
            for field in flow.get("data_schema", [])
        }
        if suggested.get("url") == simulator_url:
            await self.request("DELETE", f"/api/config/config_entries/flow/{flow['flow_id']}")
            return False
        form = {name: value for name, value in suggested.items() if value}
        result = await self.submit_flow(flow["flow_id"], {**form, "url": simulator_url})
        if result.get("reason") != "reconfigure_successful":
            msg = f"pointing the integration at {simulator_url} failed: {result}"
            raise BootstrapError(msg)
        return True

    async def set_demo_options(self, entry_id: str) -> None:
        """Poll every minute while a car charges, through the options flow as a user would."""
        flow = await self.post("/api/config/config_entries/options/flow", {"handler": entry_id})
        result = await self.post(
            f"/api/config/config_entries/options/flow/{flow['flow_id']}",
            {
                "active_interval": DEMO_ACTIVE_INTERVAL,
                "idle_interval": 15,
                "refresh_entities": [],
                "daily_request_limit": 0,
            },
        )
        if result.get("type") != "create_entry":
            msg = f"setting the demo's options failed: {result.get('errors') or result}"
            raise BootstrapError(msg)

    async def cars(self) -> list[tuple[str, dict[str, str]]]:
        """Return each car's name and its entity ids by key (battery, charger, ...), by name."""
        devices = {device["id"]: device for device in await self.ws("config/device_registry/list")}
        found: dict[str, dict[str, str]] = {}
        for entity in await self.ws("config/entity_registry/list"):
            device = devices.get(entity["device_id"] or "")
            if entity["platform"] != DOMAIN or device is None:
                continue
            for domain, identifier in device["identifiers"]:
                if domain == DOMAIN and entity["unique_id"].startswith(f"{identifier}_"):
                    key = entity["unique_id"].removeprefix(f"{identifier}_")
                    found.setdefault(device["id"], {})[key] = entity["entity_id"]
        # By device, as two cars of a model share a name; the account's device is no car.
        return sorted(
            (devices[device_id]["name_by_user"] or devices[device_id]["name"], keys)
            for device_id, keys in found.items()
            if "battery" in keys
        )

    async def add_dashboard(self, *, added_before: bool = False) -> str:
        """Add the Cars dashboard for the cars found and make it the default, once.

        Through Home Assistant's own dashboard and frontend APIs, as the UI does. Return "added",
        "kept" when it is there (the developer may have changed it: it is left as it is) or
        "deleted" when it was added before and the developer has deleted it since.
        """
        dashboards = await self.ws("lovelace/dashboards/list")
        if any(dashboard["url_path"] == DASHBOARD_URL for dashboard in dashboards):
            return "kept"
        if added_before:
            return "deleted"
        await self.ws(
            "lovelace/dashboards/create",
            url_path=DASHBOARD_URL,
            title=DASHBOARD_TITLE,
            icon="mdi:car-electric",
            mode="storage",
            show_in_sidebar=True,
            require_admin=False,
        )
        await self.ws(
            "lovelace/config/save", url_path=DASHBOARD_URL, config=dashboard(await self.cars())
        )
        core = await self.ws("frontend/get_system_data", key="core")
        await self.ws(
            "frontend/set_system_data",
            key="core",
            value={**(core.get("value") or {}), "default_panel": DASHBOARD_URL},
        )
        return "added"

    async def states(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Return the state machine's states whose entity id starts with the prefix."""
        states: list[dict[str, Any]] = await self.get("/api/states")
        return {
            state["entity_id"]: state for state in states if state["entity_id"].startswith(prefix)
        }


def car_section(name: str, entity: dict[str, str]) -> dict[str, Any]:
    """Return a dashboard section for one car: its state, its charging and its history."""
    whole_row = {"columns": 12}
    only_entity_name = {"type": "entity"}
    return {
        "type": "grid",
        "cards": [
            {"type": "heading", "heading": name, "icon": "mdi:car-electric"},
            {
                "type": "tile",
                "entity": entity["battery"],
                "name": only_entity_name,
                "features": [{"type": "bar-gauge"}],
                "features_position": "bottom",
                "grid_options": whole_row,
            },
            *(
                {"type": "tile", "entity": entity[key], "name": only_entity_name}
                for key in ("charger", "electric_range", "charging_rate", "charge_end")
            ),
            {
                "type": "tile",
                "entity": entity["charge_target"],
                "name": only_entity_name,
                "features": [{"type": "numeric-input", "style": "buttons"}],
                "features_position": "inline",
                "grid_options": whole_row,
            },
            {
                "type": "history-graph",
                "title": "Last 24 hours",
                "hours_to_show": 24,
                "entities": [entity["battery"], entity["electric_range"]],
                "grid_options": whole_row,
            },
            {
                "type": "statistics-graph",
                "title": "Last 7 days",
                "days_to_show": 7,
                "period": "hour",
                "chart_type": "line",
                "stat_types": ["mean", "min", "max"],
                "entities": [entity["battery"], entity["electric_range"]],
                "grid_options": whole_row,
            },
        ],
    }


def dashboard(cars: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Return the Cars dashboard: a section per car, side by side."""
    return {
        "title": DASHBOARD_TITLE,
        "views": [
            {
                "title": DASHBOARD_TITLE,
                "path": "cars",
                "icon": "mdi:car-electric",
                "type": "sections",
                "max_columns": max(2, len(cars)),
                "sections": [car_section(name, entity) for name, entity in cars],
            }
        ],
    }


async def wait_until_up(
    session: aiohttp.ClientSession,
    url: str,
    seconds: float,
    *,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Wait until Home Assistant answers HTTP, failing early when its process has ended."""
    try:
        async with asyncio.timeout(seconds):
            while not await _answers(session, url):
                if alive is not None and not alive():
                    msg = "Home Assistant exited while starting; see its log"
                    raise BootstrapError(msg)
                await asyncio.sleep(0.5)
    except TimeoutError:
        msg = f"Home Assistant did not answer at {url} within {seconds:.0f} s"
        raise BootstrapError(msg) from None


async def _answers(session: aiohttp.ClientSession, url: str) -> bool:
    """Return whether Home Assistant's HTTP server answers (before or after onboarding)."""
    try:
        async with session.get(
            f"{url}/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            return response.status in (200, 404)
    except aiohttp.ClientError:
        return False


async def wait_for_cars(api: HomeAssistantApi, seconds: float) -> dict[str, dict[str, Any]]:
    """Wait until every car's battery sensor has a value; return the battery states."""
    batteries: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(seconds):
            while True:
                batteries = {
                    entity_id: state
                    for entity_id, state in (await api.states("sensor.")).items()
                    if entity_id.endswith("_battery")
                    and state["attributes"].get("device_class") == "battery"
                }
                if batteries and all(
                    state["state"] not in ("unknown", "unavailable") for state in batteries.values()
                ):
                    return batteries
                await asyncio.sleep(0.5)
    except TimeoutError:
        msg = f"the cars' values did not arrive within {seconds:.0f} s: {batteries}"
        raise BootstrapError(msg) from None


def _pid_alive(pid: int | None) -> Callable[[], bool] | None:
    """Return a check that the process is still running."""
    if pid is None:
        return None

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    return alive


def _load_credentials(path: Path) -> dict[str, Any]:
    """Return what an earlier run stored, or nothing."""
    try:
        stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError, ValueError:
        return {}
    return stored


async def _long_lived_token(api: HomeAssistantApi, stored: str | None) -> str:
    """Return the stored long-lived token while it still works, else a new one."""
    if stored:
        probe = HomeAssistantApi(api.session, api.url, stored)
        with contextlib.suppress(BootstrapError):
            await probe.get("/api/")
            return stored
    token: str = await api.ws(
        "auth/long_lived_access_token",
        client_name=f"scripts/develop {time.strftime('%Y-%m-%d %H:%M:%S')}",
        lifespan=3650,
    )
    return token


async def simulator_accounts(session: aiohttp.ClientSession, url: str) -> list[dict[str, str]]:
    """Return the simulator's accounts as the add-account form takes them, from its control API."""
    async with session.get(f"{url}/_simulator/state", timeout=REQUEST_TIMEOUT) as response:
        if response.status != 200:
            msg = f"the simulator at {url} answered {response.status}"
            raise BootstrapError(msg)
        state = await response.json()
    return [
        {key: account[key] for key in ("email", "password", "account_email")}
        for account in state["accounts"]
    ]


async def bootstrap(
    args: argparse.Namespace, stored: dict[str, Any]
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Onboard when needed, make sure the integration is there; return a token and the batteries."""
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, args.ha_url, args.timeout, alive=_pid_alive(args.hass_pid))
        api = HomeAssistantApi(session, args.ha_url)
        steps = await api.onboarding_steps()
        if steps.get("user") is False:
            say("bootstrap: creating the owner account (onboarding)")
            await api.onboard(args.username, args.password, "Developer")
        else:
            try:
                await api.login(args.username, args.password)
            except BootstrapError as err:
                msg = (
                    f"{err}. The owner account was made on the first run: use the same "
                    "DEV_USERNAME and DEV_PASSWORD, or remove config/.storage to start afresh"
                )
                raise BootstrapError(msg) from None
            if steps:
                await api.finish_onboarding()
        entries = await api.entries()
        if not entries:
            # Every account of the simulator's scenario: the demo's, or those of --scenario.
            for account in await simulator_accounts(session, args.simulator_url):
                say(
                    f"bootstrap: adding Orange Power BMW for {account['email']} at {args.simulator_url}"
                )
                await api.set_demo_options(await api.add_integration(args.simulator_url, account))
        for entry in entries:
            if await api.point_at(entry["entry_id"], args.simulator_url):
                say(f"bootstrap: pointed {entry['title']} at {args.simulator_url}")
        token = await _long_lived_token(api, stored.get("access_token"))
        batteries = await wait_for_cars(api, args.timeout)
        match await api.add_dashboard(added_before=bool(stored.get("dashboard_added"))):
            case "added":
                say(f"bootstrap: added the {DASHBOARD_TITLE} dashboard and made it the default")
            case "deleted":
                say(
                    f"bootstrap: the {DASHBOARD_TITLE} dashboard was deleted and is not made again "
                    f"(remove dashboard_added from {args.credentials} to have it back)"
                )
            case _:
                say(f"bootstrap: kept the {DASHBOARD_TITLE} dashboard as it is")
        return token, batteries


def _store_credentials(path: Path, args: argparse.Namespace, token: str) -> None:
    """Keep the owner's credentials and token for the developer, readable by them only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    credentials = {
        "url": args.ha_url,
        "username": args.username,
        "password": args.password,
        "access_token": token,
        # The Cars dashboard was made once; a developer who deletes it does not get it back.
        "dashboard_added": True,
    }
    path.write_text(json.dumps(credentials, indent=2), encoding="utf-8")


def _print_access(args: argparse.Namespace, batteries: dict[str, dict[str, Any]]) -> None:
    """Print where to log in, with what, and the cars' charge levels."""
    say("")
    say(f"Home Assistant   {args.ha_url}/{DASHBOARD_URL}  (the {DASHBOARD_TITLE} dashboard)")
    say(f"  user name      {args.username}")
    say(f"  password       {args.password}")
    say(f"  access token   in {args.credentials} (REST API: Authorization: Bearer <token>)")
    say(f"  the cars       {args.ha_url}/config/integrations/integration/{DOMAIN}")
    say(f"Simulator        {args.simulator_url}  (control API under /_simulator/)")
    for entity_id, state in sorted(batteries.items()):
        unit = state["attributes"].get("unit_of_measurement", "")
        say(f"  {entity_id}: {state['state']} {unit}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ha-url", default="http://127.0.0.1:8123")
    parser.add_argument("--simulator-url", default="http://127.0.0.1:3000")
    parser.add_argument("--credentials", default=str(ROOT / "config" / "dev-credentials.json"))
    parser.add_argument("--username", default="dev")
    parser.add_argument("--password", default="dev-password")
    parser.add_argument("--hass-pid", type=int, help="fail early when this process ends")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for start")
    parser.add_argument(
        "--prepare-config", metavar="DIR", help="only prepare this config directory, then exit"
    )
    parser.add_argument(
        "--port", type=int, default=8123, help="Home Assistant's port, with --prepare-config"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bootstrap; exit 1 with a one-line message when it fails."""
    args = parse_args(argv)
    try:
        if args.prepare_config:
            prepare_config(Path(args.prepare_config), port=args.port, copy_configuration=False)
            return 0
        credentials = Path(args.credentials)
        token, batteries = asyncio.run(bootstrap(args, _load_credentials(credentials)))
        _store_credentials(credentials, args, token)
        _print_access(args, batteries)
    except (BootstrapError, aiohttp.ClientError, TimeoutError) as err:
        sys.stderr.write(f"bootstrap: {err or type(err).__name__}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
