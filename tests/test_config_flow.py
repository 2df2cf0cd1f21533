"""The config flow: adding an account, every error, re-authentication, reconfiguring, options."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
import socket
from typing import Any
from unittest.mock import MagicMock, patch

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.orangepower_bmw.api import DEFAULT_BASE_URL
from custom_components.orangepower_bmw.const import (
    CONF_ACCOUNT_EMAIL,
    CONF_ACTIVE_INTERVAL,
    CONF_DAILY_REQUEST_LIMIT,
    CONF_IDLE_INTERVAL,
    CONF_REFRESH_ENTITIES,
    CONF_TOKEN,
    DOMAIN,
)
from custom_components.orangepower_bmw.models import Token
from custom_components.orangepower_bmw.validation import account_title
from simulator import Simulator, run_simulator
from tests.conftest import EMAIL, PASSWORD
from tests.helpers import REQUESTS_TODAY, set_up

NEW_PASSWORD = "new-demo-password"
TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations"
NO_CALLS = {"token": 0, "vehicles": 0}


# Helpers


def user_input(url: str, /, **changes: Any) -> dict[str, Any]:
    """Return what a user types into the add-account form for the demo account."""
    return {
        CONF_EMAIL: EMAIL,
        CONF_PASSWORD: PASSWORD,
        CONF_ACCOUNT_EMAIL: EMAIL,
        CONF_URL: url,
        **changes,
    }


def suggested_values(result: ConfigFlowResult) -> dict[str, Any]:
    """Return the values the form shows pre-filled."""
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if isinstance(key.description, dict) and "suggested_value" in key.description
    }


def closed_port_url() -> str:
    """Return an http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def start_user_flow(hass: HomeAssistant) -> ConfigFlowResult:
    """Open the add-account form."""
    return await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})


async def submit(
    hass: HomeAssistant, result: ConfigFlowResult, data: dict[str, Any]
) -> ConfigFlowResult:
    """Submit a form and let whatever it starts (entry setup, reload) finish."""
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    await hass.async_block_till_done()
    return result


def assert_form_again(
    hass: HomeAssistant, result: ConfigFlowResult, step_id: str, errors: dict[str, str]
) -> None:
    """Assert the form is shown again with these errors and no entry was stored."""
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert result["errors"] == errors
    assert hass.config_entries.async_entries(DOMAIN) == []


def assert_keeps_what_was_typed(result: ConfigFlowResult, typed: dict[str, Any]) -> None:
    """Assert the re-shown form keeps what the user typed; the password unless it was refused."""
    shown = suggested_values(result)
    refused = set(result["errors"].values()) & {
        "invalid_auth",
        "invalid_auth_account",
        "empty_password",
    }
    assert shown.get(CONF_PASSWORD) == (None if refused else typed[CONF_PASSWORD])
    assert shown[CONF_EMAIL] == typed[CONF_EMAIL]
    assert shown[CONF_URL] == typed[CONF_URL]


def assert_new_token(entry: MockConfigEntry, old_access_token: str | None) -> None:
    """Assert the entry holds a fresh token of about eight hours, different from the old one."""
    token = entry.data[CONF_TOKEN]
    assert token["access_token"] != old_access_token
    assert set(token) == {"access_token", "expires_at"}
    expires_at = datetime.fromisoformat(token["expires_at"])
    assert timedelta(hours=7) < expires_at - datetime.now(UTC) <= timedelta(hours=8)


@pytest.fixture
def patched_client() -> Iterator[MagicMock]:
    """Replace the client in the config flow with one that accepts any login, and skip setup."""
    token = Token(
        access_token="access",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    with (
        patch(
            "custom_components.orangepower_bmw.config_flow.OrangePowerClient", autospec=True
        ) as client_class,
        patch("custom_components.orangepower_bmw.async_setup_entry", return_value=True),
    ):
        client_class.return_value.check.return_value = token
        yield client_class


# User step


async def test_user_form_fields(hass: HomeAssistant) -> None:
    result = await start_user_flow(hass)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    fields = {str(key): key for key in result["data_schema"].schema}
    assert list(fields) == [CONF_EMAIL, CONF_PASSWORD, CONF_ACCOUNT_EMAIL, CONF_URL]
    assert fields[CONF_URL].default() == DEFAULT_BASE_URL
    assert suggested_values(result) == {}


async def test_user_creates_entry_and_setup_reuses_token(
    hass: HomeAssistant, simulator: Simulator, simulator_url: str
) -> None:
    result = await start_user_flow(hass)
    result = await submit(
        hass,
        result,
        {
            CONF_EMAIL: "  Demo@Example.com ",
            CONF_PASSWORD: PASSWORD,
            CONF_ACCOUNT_EMAIL: "",
            CONF_URL: f"{simulator_url}/",
        },
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Home Assistant logs entry titles, so the e-mail is masked there.
    assert result["title"] == "D***@Example.com"
    entry = result["result"]
    assert entry.unique_id == EMAIL
    assert {key: value for key, value in entry.data.items() if key != CONF_TOKEN} == {
        CONF_EMAIL: "Demo@Example.com",
        CONF_PASSWORD: PASSWORD,
        CONF_ACCOUNT_EMAIL: "Demo@Example.com",
        CONF_URL: simulator_url,
    }
    assert_new_token(entry, None)
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.bmw_i3s_94_rex_battery") is not None
    # One login for the check; setup reused its token and only listed the cars.
    assert simulator.counts == {"token": 1, "vehicles": 2}


@pytest.mark.parametrize(
    ("fault", "changes", "errors"),
    [
        # What the service answers: the error on top of the form, one row per message (which
        # status or body gives which error: test_api; the same on both endpoints: test_fault_matrix).
        (("token", {"status": 429, "retry_after": "30"}), {}, {"base": "rate_limited"}),
        (("vehicles", {"status": 503}), {}, {"base": "server_error"}),
        (("token", {"status": 410}), {}, {"base": "service_gone"}),
        (("vehicles", {"status": 403}), {}, {"base": "forbidden"}),
        (("token", {"status": 404}), {}, {"base": "invalid_response"}),
        (("vehicles", {"status": 401}), {}, {"base": "token_rejected"}),
        (None, {CONF_PASSWORD: "wrong-password"}, {"base": "invalid_auth"}),
        # A closed port (found when the test runs) stands for an address where nothing listens.
        (None, {CONF_URL: closed_port_url}, {"base": "cannot_connect"}),
        # What the form refuses before asking the service: the error on the field.
        (None, {CONF_URL: "ftp://127.0.0.1/"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_URL: "https://user:secret@example.com"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_URL: "https://user@example.com"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_URL: "https://example.com?region=eu"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_URL: "https://example.com/#top"}, {CONF_URL: "invalid_url"}),
        # Plain http to a public address: the form says to use https.
        (None, {CONF_URL: "http://example.com"}, {CONF_URL: "url_needs_https"}),
        (None, {CONF_URL: "http://8.8.8.8"}, {CONF_URL: "url_needs_https"}),
        (None, {CONF_URL: "http://100.128.0.1"}, {CONF_URL: "url_needs_https"}),
        # An empty query or fragment, on an address otherwise accepted.
        *(
            (None, {CONF_URL: f"http://127.0.0.1:3000{suffix}"}, {CONF_URL: "invalid_url"})
            for suffix in ("?", "/?", "#", "/#")
        ),
        # No scheme: the form says to start the address with https://.
        (None, {CONF_URL: "www.connect.orangepower.co.uk"}, {CONF_URL: "url_needs_scheme"}),
        (None, {CONF_URL: "connect.orangepower.co.uk:443"}, {CONF_URL: "url_needs_scheme"}),
        (None, {CONF_URL: "https://"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_URL: "http://[::1"}, {CONF_URL: "invalid_url"}),
        (None, {CONF_EMAIL: "demo.example.com"}, {CONF_EMAIL: "invalid_email"}),
        (None, {CONF_EMAIL: "demo@example"}, {CONF_EMAIL: "invalid_email"}),
        (None, {CONF_ACCOUNT_EMAIL: "op@@example.com"}, {CONF_ACCOUNT_EMAIL: "invalid_email"}),
        (None, {CONF_PASSWORD: "   "}, {CONF_PASSWORD: "empty_password"}),
        (
            None,
            {CONF_EMAIL: "nobody", CONF_PASSWORD: "", CONF_URL: "ftp://example.com"},
            {CONF_EMAIL: "invalid_email", CONF_PASSWORD: "empty_password", CONF_URL: "invalid_url"},
        ),
    ],
)
async def test_user_error_then_fixed(
    hass: HomeAssistant,
    simulator: Simulator,
    simulator_url: str,
    socket_enabled: None,
    fault: tuple[str, dict[str, Any]] | None,
    changes: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """The form again, with the error and what was typed; retyping what was wrong adds the account.

    A mistake the form sees itself costs no request. Once broken: every error emptied the
    password, so fixing the flagged field alone was met with "Not all required fields are
    filled in".
    """
    if fault is not None:
        simulator.inject_fault(fault[0], **fault[1])
    changes = {key: value() if callable(value) else value for key, value in changes.items()}
    typed = user_input(simulator_url, **changes)
    if CONF_EMAIL in changes:
        # Left empty, the account e-mail is the MyBMW one: only the field typed in is flagged.
        typed.pop(CONF_ACCOUNT_EMAIL)
    result = await submit(hass, await start_user_flow(hass), typed)

    assert_form_again(hass, result, "user", errors)
    assert_keeps_what_was_typed(result, typed)
    if "base" not in errors:
        assert simulator.counts == NO_CALLS

    right = user_input(simulator_url)
    result = await submit(
        hass, result, {**suggested_values(result), **{key: right[key] for key in changes}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data[CONF_PASSWORD] == PASSWORD
    assert result["result"].data[CONF_URL] == simulator_url


# Once broken: a form closed after an error kept the account "already being configured" until
# Home Assistant restarted.
async def test_a_form_left_open_does_not_block_the_account(
    hass: HomeAssistant, simulator: Simulator, simulator_url: str
) -> None:
    await submit(
        hass, await start_user_flow(hass), user_input(simulator_url, password="wrong-password")
    )

    result = await submit(hass, await start_user_flow(hass), user_input(simulator_url))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Home Assistant ends the one left open, for the account it was adding is added.
    assert hass.config_entries.flow.async_progress() == []


async def test_user_unexpected_error_is_logged(
    hass: HomeAssistant, simulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    typed = user_input(simulator_url)
    with patch(
        "custom_components.orangepower_bmw.config_flow.OrangePowerClient.login",
        side_effect=Exception("something broke"),
    ):
        result = await submit(hass, await start_user_flow(hass), typed)

    assert_form_again(hass, result, "user", {"base": "unknown"})
    assert_keeps_what_was_typed(result, typed)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "Unexpected error while checking the account"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "something broke"
    assert "Traceback" in caplog.text

    result = await submit(hass, result, typed)
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("email", "taken", "title"),
    [
        ("demo@example.com", [], "d***@example.com"),
        # A second account that would look the same shows as many letters as it takes to differ.
        ("dan@example.com", ["d***@example.com"], "da***@example.com"),
        ("dana@example.com", ["d***@example.com", "da***@example.com"], "dan***@example.com"),
        # Never the whole local part: then a number.
        ("d@example.com", ["d***@example.com"], "d***@example.com (2)"),
        ("do@example.com", ["d***@example.com", "d***@example.com (2)"], "d***@example.com (3)"),
        # Another domain differs already.
        ("demo@example.org", ["d***@example.com"], "d***@example.org"),
    ],
)
def test_the_title_masks_the_e_mail_and_differs_from_the_others(
    email: str, taken: list[str], title: str
) -> None:
    assert account_title(email, taken) == title


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
        "http://192.168.1.5",
        "http://10.0.0.2:8080",
        "http://localhost",
        "http://my-server.local",
        "http://orangepower.home.arpa",
        "http://simulator",
        "http://100.101.102.103:3000",
        "https://example.com/orangepower",
    ],
)
async def test_user_accepts_local_http_and_any_https(
    hass: HomeAssistant, patched_client: MagicMock, url: str
) -> None:
    result = await submit(hass, await start_user_flow(hass), user_input(url))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data[CONF_URL] == url
    assert patched_client.call_args.args[2] == url


async def test_user_already_configured(
    hass: HomeAssistant, simulator: Simulator, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)

    result = await submit(
        hass,
        await start_user_flow(hass),
        user_input(mock_config_entry.data[CONF_URL], email="  DEMO@Example.COM "),
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert hass.config_entries.async_entries(DOMAIN) == [mock_config_entry]
    assert simulator.counts == NO_CALLS


# Re-authentication and reconfiguring

# The step and the fields of each form; the MyBMW e-mail is the account itself, named in the
# text of both, not a field to change.
FORMS = {
    "reauth": ("reauth_confirm", [CONF_PASSWORD]),
    "reconfigure": ("reconfigure", [CONF_PASSWORD, CONF_ACCOUNT_EMAIL, CONF_URL]),
}


async def open_form(hass: HomeAssistant, entry: MockConfigEntry, flow: str) -> ConfigFlowResult:
    """Open the reauth or reconfigure form of the demo entry; assert it names the account."""
    if flow == "reauth":
        result = await entry.start_reauth_flow(hass)
    else:
        result = await entry.start_reconfigure_flow(hass)
    step_id, fields = FORMS[flow]
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert result["errors"] == {}
    # Both name the account; Home Assistant adds the entry's title to the reauth form's.
    reauth_title = {"name": entry.title} if flow == "reauth" else {}
    assert result["description_placeholders"] == {"email": EMAIL, **reauth_title}
    assert [str(key) for key in result["data_schema"].schema] == fields
    # Reconfigure shows the stored settings but the password; the account e-mail, the same as
    # the MyBMW one, shows empty, as it was typed.
    assert suggested_values(result) == (
        {CONF_ACCOUNT_EMAIL: "", CONF_URL: entry.data[CONF_URL]} if flow == "reconfigure" else {}
    )
    return result


async def assert_saved_and_reloaded(
    hass: HomeAssistant,
    simulator: Simulator,
    entry: MockConfigEntry,
    result: ConfigFlowResult,
    typed: dict[str, Any],
    saved: dict[str, Any],
) -> None:
    """Submit the reauth or reconfigure form; assert it saved this with a fresh token and reloaded."""
    old_data, old_coordinator = dict(entry.data), entry.runtime_data
    flow = "reauth" if result["step_id"] == "reauth_confirm" else "reconfigure"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], typed)
    calls_after_check = simulator.counts
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == f"{flow}_successful"
    # Our own message ("Signed in again..."), not Home Assistant's generic one.
    assert result.get("translation_domain") is None
    assert {key: value for key, value in entry.data.items() if key != CONF_TOKEN} == {
        **{key: value for key, value in old_data.items() if key != CONF_TOKEN},
        **saved,
    }
    assert_new_token(entry, old_data[CONF_TOKEN]["access_token"])
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not old_coordinator
    # The reload used the token from the check instead of logging in again.
    assert simulator.counts == {
        "token": calls_after_check["token"],
        "vehicles": calls_after_check["vehicles"] + 1,
    }
    # The form's sign-in counted against the entry, as every request does.
    assert int(hass.states.get(REQUESTS_TODAY).state) == sum(simulator.counts.values())


@pytest.mark.parametrize(
    ("flow", "changes", "fault", "errors"),
    [
        # The old password, refused since the change.
        ("reauth", {CONF_PASSWORD: PASSWORD}, None, {"base": "invalid_auth"}),
        ("reauth", {CONF_PASSWORD: "   "}, None, {CONF_PASSWORD: "empty_password"}),
        ("reauth", {CONF_PASSWORD: NEW_PASSWORD}, {"status": 503}, {"base": "server_error"}),
        ("reconfigure", {CONF_URL: "http://example.com"}, None, {CONF_URL: "url_needs_https"}),
        ("reconfigure", {CONF_URL: "example.com"}, None, {CONF_URL: "url_needs_scheme"}),
        ("reconfigure", {CONF_ACCOUNT_EMAIL: "fleet"}, None, {CONF_ACCOUNT_EMAIL: "invalid_email"}),
        ("reconfigure", {CONF_PASSWORD: "   "}, None, {CONF_PASSWORD: "empty_password"}),
        ("reconfigure", {CONF_PASSWORD: "wrong-password"}, None, {"base": "invalid_auth"}),
        # With an account e-mail of its own, the refusal names that field too.
        (
            "reconfigure",
            {CONF_ACCOUNT_EMAIL: "fleet@example.com", CONF_PASSWORD: NEW_PASSWORD},
            None,
            {"base": "invalid_auth_account"},
        ),
    ],
)
async def test_an_error_then_the_new_password(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    flow: str,
    changes: dict[str, Any],
    fault: dict[str, Any] | None,
    errors: dict[str, str],
) -> None:
    """The form again with the error, nothing saved; the new password saved, checked, reloaded."""
    simulator.set_password(EMAIL, NEW_PASSWORD)
    if fault is not None:
        simulator.inject_fault("token", **fault)
    old_data = dict(init_integration.data)
    result = await open_form(hass, init_integration, flow)
    prefilled = suggested_values(result)
    typed = {**prefilled, **changes}

    result = await submit(hass, result, typed)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == FORMS[flow][0]
    assert result["errors"] == errors
    # Reconfigure keeps what was typed but a refused password; reauth asks only the password.
    if flow == "reconfigure":
        assert suggested_values(result) == {
            key: value for key, value in typed.items() if key != CONF_PASSWORD
        }
    assert init_integration.data == old_data

    await assert_saved_and_reloaded(
        hass,
        simulator,
        init_integration,
        result,
        {**prefilled, CONF_PASSWORD: NEW_PASSWORD},
        {CONF_PASSWORD: NEW_PASSWORD},
    )


# The reauth form names the account in every language (test_packaging: each language has the
# English placeholders).


def test_reauth_description_shows_email() -> None:
    translations = json.loads((TRANSLATIONS / "en.json").read_text(encoding="utf-8"))

    assert "{email}" in translations["config"]["step"]["reauth_confirm"]["description"]


async def test_reauth_shows_an_error_about_a_stored_setting_on_the_form(
    hass: HomeAssistant, simulator: Simulator, init_integration: MockConfigEntry
) -> None:
    # A stored address that today's rules refuse cannot be fixed in the password-only form.
    hass.config_entries.async_update_entry(
        init_integration, data={**init_integration.data, CONF_URL: "http://example.com"}
    )
    result = await init_integration.start_reauth_flow(hass)

    result = await submit(hass, result, {CONF_PASSWORD: PASSWORD})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "url_needs_https"}


@pytest.mark.parametrize("change", ["account_email", "url"])
async def test_reconfigure_saves_a_new_account_or_address_and_keeps_the_password(
    hass: HomeAssistant,
    simulator: Simulator,
    init_integration: MockConfigEntry,
    change: str,
) -> None:
    """A new Orange Power account or address: checked, saved, and the entry reloaded."""
    if change == "account_email":
        simulator.account(EMAIL).account_email = "fleet@example.com"
    async with run_simulator(simulator) as other_url:
        typed, saved = {
            "account_email": ({CONF_ACCOUNT_EMAIL: "fleet@example.com"},) * 2,
            "url": ({CONF_URL: f"{other_url}/", CONF_PASSWORD: ""}, {CONF_URL: other_url}),
        }[change]
        result = await open_form(hass, init_integration, "reconfigure")
        await assert_saved_and_reloaded(
            hass, simulator, init_integration, result, {**suggested_values(result), **typed}, saved
        )


# Once broken: a reconfigure submitted unchanged signed in again, two of the day's requests.
async def test_reconfigure_unchanged_signs_in_no_more_reloads_and_keeps_the_title(
    hass: HomeAssistant, simulator: Simulator, init_integration: MockConfigEntry
) -> None:
    data, coordinator, made = (
        dict(init_integration.data),
        init_integration.runtime_data,
        simulator.counts,
    )
    result = await open_form(hass, init_integration, "reconfigure")

    # The form as shown: the password left empty keeps the stored one.
    result = await submit(hass, result, suggested_values(result))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert result.get("translation_domain") is None
    assert init_integration.title == "d***@example.com"
    # No sign-in: only the poll any reload without a limit makes.
    assert simulator.counts == {**made, "vehicles": made["vehicles"] + 1}
    assert init_integration.data == data
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data is not coordinator


# Once broken: reauth and reconfigure logged in and listed the cars without counting it; with a
# limit of 10 spent, three reconfigures and a reauth sent 8 more requests.


async def fill_in(hass: HomeAssistant, entry: MockConfigEntry, flow: str) -> ConfigFlowResult:
    """Fill in the reauth or reconfigure form with the new password and submit it."""
    result = await open_form(hass, entry, flow)
    return await submit(hass, result, {**suggested_values(result), CONF_PASSWORD: NEW_PASSWORD})


@pytest.mark.parametrize("flow", ["reauth", "reconfigure"])
async def test_after_a_password_refused_at_setup_either_form_brings_the_cars_back(
    hass: HomeAssistant, simulator: Simulator, mock_config_entry: MockConfigEntry, flow: str
) -> None:
    """Home Assistant asks for the new password on its own; the form's sign-in counts too."""
    simulator.set_password(EMAIL, NEW_PASSWORD)
    await set_up(hass, mock_config_entry, daily_request_limit=48)
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    [progress] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert progress["context"]["source"] == SOURCE_REAUTH
    assert progress["step_id"] == "reauth_confirm"

    result = await fill_in(hass, mock_config_entry, flow)

    assert result["type"] is FlowResultType.ABORT
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.data[CONF_PASSWORD] == NEW_PASSWORD
    assert hass.states.get("sensor.bmw_i3s_94_rex_battery") is not None
    assert int(hass.states.get(REQUESTS_TODAY).state) == sum(simulator.counts.values())


@pytest.mark.parametrize("flow", ["reauth", "reconfigure"])
async def test_a_spent_limit_refuses_the_forms_request(
    hass: HomeAssistant,
    simulator: Simulator,
    mock_config_entry: MockConfigEntry,
    flow: str,
) -> None:
    await set_up(hass, mock_config_entry, daily_request_limit=10)
    mock_config_entry.runtime_data.budget.count = 9  # one left: not enough for a login and a list
    made = simulator.counts

    result = await fill_in(hass, mock_config_entry, flow)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "daily_limit_reached"}
    assert simulator.counts == made


# Options

DEFAULT_OPTIONS: dict[str, Any] = {
    CONF_ACTIVE_INTERVAL: 5,
    CONF_IDLE_INTERVAL: 15,
    CONF_REFRESH_ENTITIES: [],
    CONF_DAILY_REQUEST_LIMIT: 0,
}


async def open_options(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    """Open the options form of an entry."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    # The dialog says which account it is for.
    assert result["description_placeholders"] == {"account": entry.title}
    return result


async def save_options(
    hass: HomeAssistant,
    result: ConfigFlowResult,
    active_interval: float,
    idle_interval: float,
    **more: Any,
) -> ConfigFlowResult:
    """Submit the options form and let the reload finish."""
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_ACTIVE_INTERVAL: active_interval, CONF_IDLE_INTERVAL: idle_interval, **more},
    )
    await hass.async_block_till_done()
    return result


@pytest.mark.parametrize(
    "options",
    [
        {},
        {CONF_ACTIVE_INTERVAL: 2, CONF_IDLE_INTERVAL: 90},
        {
            CONF_ACTIVE_INTERVAL: 2,
            CONF_IDLE_INTERVAL: 60,
            CONF_REFRESH_ENTITIES: ["binary_sensor.wallbox_plug"],
            CONF_DAILY_REQUEST_LIMIT: 48,
        },
    ],
)
async def test_options_form_shows_the_current_options_or_the_defaults(
    hass: HomeAssistant, entry_data: dict[str, Any], options: dict[str, Any]
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, title=EMAIL, unique_id=EMAIL, data=entry_data, options=options
    )
    entry.add_to_hass(hass)

    result = await open_options(hass, entry)

    assert result["errors"] == {}
    assert suggested_values(result) == {**DEFAULT_OPTIONS, **options}


@pytest.mark.parametrize(
    ("active", "idle", "limit"),
    [(10.0, 60.0, 0), (1.0, 5.0, 10), (60.0, 240.0, 48.0), (5, 5, 2000)],
)
async def test_options_saved_as_whole_numbers_and_reloaded(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    active: float,
    idle: float,
    limit: float,
) -> None:
    old_coordinator = init_integration.runtime_data
    result = await save_options(
        hass, await open_options(hass, init_integration), active, idle, daily_request_limit=limit
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {
        **DEFAULT_OPTIONS,
        CONF_ACTIVE_INTERVAL: int(active),
        CONF_IDLE_INTERVAL: int(idle),
        CONF_DAILY_REQUEST_LIMIT: int(limit),
    }
    assert type(init_integration.options[CONF_DAILY_REQUEST_LIMIT]) is int
    assert init_integration.runtime_data.budget.limit == limit
    assert type(init_integration.options[CONF_ACTIVE_INTERVAL]) is int
    assert type(init_integration.options[CONF_IDLE_INTERVAL]) is int
    assert init_integration.state is ConfigEntryState.LOADED
    coordinator = init_integration.runtime_data
    assert coordinator is not old_coordinator
    # The i3s is charging, so the account is polled at the active interval (a limit with room).
    assert coordinator.schedule.interval == timedelta(minutes=active)


@pytest.mark.parametrize(
    "changes",
    [
        *({CONF_ACTIVE_INTERVAL: active} for active in (0, 61, 2.5)),
        *({CONF_IDLE_INTERVAL: idle} for idle in (4, 241, 20.5)),
        *({CONF_DAILY_REQUEST_LIMIT: limit} for limit in (1, 9, 2001, 12.5)),
        {CONF_ACTIVE_INTERVAL: 0, CONF_IDLE_INTERVAL: 241},
    ],
    ids=repr,
)
async def test_options_out_of_range_then_fixed(
    hass: HomeAssistant, init_integration: MockConfigEntry, changes: dict[str, float]
) -> None:
    """Each value out of its range is named; the form keeps what was typed; nothing is saved."""
    old_options = dict(init_integration.options)
    typed = {CONF_ACTIVE_INTERVAL: 5, CONF_IDLE_INTERVAL: 15, **changes}

    result = await save_options(hass, await open_options(hass, init_integration), **typed)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {key: f"{key}_out_of_range" for key in changes}
    assert suggested_values(result) == {**DEFAULT_OPTIONS, **typed}
    assert init_integration.options == old_options

    result = await save_options(hass, result, 3, 30)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {
        **DEFAULT_OPTIONS,
        CONF_ACTIVE_INTERVAL: 3,
        CONF_IDLE_INTERVAL: 30,
    }


async def test_options_refresh_entities_never_the_integrations_own(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    own = "binary_sensor.bmw_i3s_94_rex_charger_connected"
    result = await open_options(hass, init_integration)
    # The picker leaves this integration's entities out, and the form refuses them.
    [picker] = [
        value
        for key, value in result["data_schema"].schema.items()
        if str(key) == CONF_REFRESH_ENTITIES
    ]
    assert own in picker.config["exclude_entities"]
    assert (
        "sensor.orange_power_connect_d_example_com_next_update" in picker.config["exclude_entities"]
    )
    with pytest.raises(InvalidData):
        await save_options(hass, result, 5, 60, refresh_entities=[own])

    # One that appeared after the form opened (a car that joined) is refused on the form.
    late = er.async_get(hass).async_get_or_create("sensor", DOMAIN, "late_car_battery")
    result = await save_options(
        hass, result, 5, 60, refresh_entities=["binary_sensor.wallbox_plug", late.entity_id]
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_REFRESH_ENTITIES: "own_entity"}

    result = await save_options(
        hass, result, 5, 60, refresh_entities=["binary_sensor.wallbox_plug"]
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # An entity that does not exist yet is fine: the wallbox may be set up later.
    assert init_integration.options[CONF_REFRESH_ENTITIES] == ["binary_sensor.wallbox_plug"]
