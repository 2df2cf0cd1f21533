"""The Orange Power Connect client against the simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
import json
import logging
import re
import socket
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.orangepower_bmw.api import (
    ConnectionFailedError,
    Credentials,
    InvalidCredentialsError,
    OrangePowerClient,
    OrangePowerError,
    QuotaExceededError,
    RateLimitedError,
    ServerError,
    ServiceGoneError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from custom_components.orangepower_bmw.models import ChargingStatus, Token, Vehicle
from simulator import Simulator
from tests.conftest import EMAIL, I3S_VIN, IX_VIN, PASSWORD

# The fixed clock every client here reads.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ENDPOINTS = ("token", "vehicles")
API_LOGGER = "custom_components.orangepower_bmw.api"
# The client's debug line of a failed answer, and of an answer that is not JSON.
FAILED_ANSWER = re.compile(
    r"^(?:POST \S+: \d+ in [\d.]+ s|The answer is not JSON; it began): (.*)$"
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return a session owned by the test, as Home Assistant's would be owned by it."""
    async with aiohttp.ClientSession() as session:
        yield session


def client_of(
    session: aiohttp.ClientSession,
    url: str,
    email: str = EMAIL,
    password: str = PASSWORD,
    account_email: str = EMAIL,
    **options: Any,
) -> OrangePowerClient:
    """Return a client of an account at a server, reading the fixed clock."""
    return OrangePowerClient(
        session, Credentials(email, password, account_email), url, clock=lambda: NOW, **options
    )


@pytest.fixture
def client(session: aiohttp.ClientSession, simulator_url: str) -> OrangePowerClient:
    """Return a client of the demo account at the simulator."""
    return client_of(session, simulator_url, timeout=5)


@pytest.fixture
async def token(client: OrangePowerClient) -> Token:
    """Return the client's token of the demo account, issued before any fault is queued."""
    return await client.login()


async def call(client: OrangePowerClient, endpoint: str) -> object:
    """Call one of the two endpoints: log in, or list the cars with the client's token."""
    if endpoint == "token":
        return await client.login()
    return await client.get_vehicles()


def secrets_of(endpoint: str, token: Token) -> tuple[str, ...]:
    """Return the secrets a call to the endpoint sends."""
    if endpoint == "token":
        return (EMAIL, PASSWORD)
    return (EMAIL, PASSWORD, token.access_token)


def echo_body(secrets: tuple[str, ...]) -> str:
    """Return a JSON error body that repeats the request's secrets back, as a careless server might."""
    return json.dumps({"error": "request refused for " + " / ".join(secrets), "code": "E42"})


@pytest.fixture(autouse=True)
def client_log(caplog: pytest.LogCaptureFixture) -> None:
    """Capture the client's debug lines, which show the start of a failed answer."""
    caplog.set_level(logging.DEBUG, logger=API_LOGGER)


def answer_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Return the start of the last failed answer, as the client's debug line shows it, or ""."""
    shown = [
        match.group(1)
        for record in caplog.records
        if record.name == API_LOGGER
        and (match := FAILED_ANSWER.match(record.getMessage())) is not None
    ]
    return shown[-1] if shown else ""


def assert_secret_free(
    err: OrangePowerError, secrets: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    """Assert that neither the error's message nor the client's log holds a secret, in any case."""
    for text in (str(err), caplog.text):
        for secret in secrets:
            assert secret.lower() not in text.lower()


# Login.


async def test_login_returns_the_token_with_expiry_from_the_clock_at_the_response(
    client: OrangePowerClient, simulator: Simulator
) -> None:
    token = await client.login()

    assert token.expires_at == NOW + timedelta(seconds=28800)
    assert token.access_token
    # Nothing uses the refresh token or the scopes, so the token does not keep them.
    assert [field.name for field in fields(Token)] == ["access_token", "expires_at"]
    # The simulator issued this very token, to the demo account.
    assert simulator.check_token(token.access_token).email == EMAIL
    assert simulator.counts == {"token": 1, "vehicles": 0}


async def test_login_sends_the_orange_power_account_as_payload_email(
    session: aiohttp.ClientSession, simulator_url: str, simulator: Simulator
) -> None:
    simulator.account(EMAIL).account_email = "op@example.com"

    token = await client_of(session, simulator_url, account_email="op@example.com").login()

    # Another payload e-mail is refused: test_refused_login_is_invalid_credentials.
    assert simulator.check_token(token.access_token).email == EMAIL


@pytest.mark.parametrize(
    ("email", "password", "account_email", "reason"),
    [
        (EMAIL, "wrong-password", EMAIL, "wrong email or password"),
        ("nobody@example.com", PASSWORD, "nobody@example.com", "wrong email or password"),
        (EMAIL, PASSWORD, "someone-else@example.com", "payload.email"),
    ],
)
async def test_refused_login_is_invalid_credentials(
    session: aiohttp.ClientSession,
    simulator_url: str,
    email: str,
    password: str,
    account_email: str,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(InvalidCredentialsError) as exc_info:
        await client_of(session, simulator_url, email, password, account_email).login()

    err = exc_info.value
    assert err.status == 401
    assert reason in answer_logged(caplog)
    assert_secret_free(err, (email, password, account_email), caplog)


async def test_base_url_with_a_trailing_slash(
    session: aiohttp.ClientSession, simulator_url: str, simulator: Simulator
) -> None:
    vehicles = await client_of(session, simulator_url + "/").get_vehicles()

    assert [vehicle.vin for vehicle in vehicles] == [I3S_VIN, IX_VIN]
    assert simulator.status_counts == {"token": {"200": 1}, "vehicles": {"200": 1}}


# Vehicles.


async def test_get_vehicles_returns_the_two_default_cars(
    client: OrangePowerClient, token: Token, simulator: Simulator
) -> None:
    vehicles = await client.get_vehicles()

    assert vehicles == [
        Vehicle(
            vin=I3S_VIN,
            brand="BMW",
            model="i3s 94 REX",
            year=2018,
            charging=ChargingStatus(
                percentage=45, state="CHARGING", type="CONDUCTIVE", charger_connected=True
            ),
            electric_range=67.0,
            electric_range_unit="KILOMETERS",
        ),
        Vehicle(
            vin=IX_VIN,
            brand="BMW",
            model="iX xDrive50",
            year=2023,
            charging=ChargingStatus(
                percentage=64, state="NOT_CHARGING", type="CONDUCTIVE", charger_connected=False
            ),
            electric_range=240.0,
            electric_range_unit="MILES",
        ),
    ]
    assert isinstance(vehicles[0].charging.percentage, int)


@pytest.mark.parametrize("refused", ["token expired", "invalid token"])
async def test_a_refused_token_is_renewed_and_the_call_made_once_more(
    session: aiohttp.ClientSession,
    simulator_url: str,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
    refused: str,
) -> None:
    issued = await client_of(session, simulator_url).login()
    unknown = Token(access_token="never-issued-token-0123456789", expires_at=issued.expires_at)
    if refused == "token expired":
        simulator.expire_tokens()
    renewed: list[Token] = []
    client = client_of(
        session,
        simulator_url,
        token=issued if refused == "token expired" else unknown,
        on_token=renewed.append,
    )

    assert len(await client.get_vehicles()) == 2

    assert refused in caplog.text
    assert simulator.counts == {"token": 2, "vehicles": 2}
    assert renewed == [client._token]
    assert_secret_free(OrangePowerError(""), (EMAIL, PASSWORD, issued.access_token), caplog)


# Error statuses.


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [("token", InvalidCredentialsError), ("vehicles", TokenRejectedError)],
)
async def test_401_body_echoing_secrets_is_redacted(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    error: type[OrangePowerError],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = secrets_of(endpoint, token)
    # The vehicles call is made again with a renewed token; both refused.
    simulator.inject_fault(endpoint, status=401, body=echo_body(secrets), count=2)

    with pytest.raises(error) as exc_info:
        await call(client, endpoint)

    assert exc_info.value.status == 401
    assert "request refused for" in answer_logged(caplog)
    assert_secret_free(exc_info.value, secrets, caplog)
    # A refused login is not tried again, nor a call refused again after the token's renewal.
    assert simulator.counts == {"token": 2, "vehicles": 2 if endpoint == "vehicles" else 0}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        *(({"status": status}, UnexpectedResponseError) for status in (400, 404, 405, 406)),
        ({"status": 403}, QuotaExceededError),
        ({"status": 410}, ServiceGoneError),
        *(({"status": status}, ServerError) for status in (500, 502, 503, 504)),
        # A 200 whose body is not the answer.
        *(
            ({"body": body}, UnexpectedResponseError)
            for body in ("html", "malformed", "empty", "wrong_shape", "huge")
        ),
    ],
    ids=repr,
)
async def test_a_failed_answer_raises_its_error(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    fault: dict[str, Any],
    error: type[OrangePowerError],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each status its error, a 200 that is not the answer too; the body echoing secrets redacted."""
    secrets = secrets_of(endpoint, token)
    simulator.inject_fault(endpoint, **{"body": echo_body(secrets), **fault})

    with pytest.raises(OrangePowerError) as exc_info:
        await call(client, endpoint)

    err = exc_info.value
    assert type(err) is error
    assert err.status == fault.get("status", 200)
    if "status" in fault:
        assert '"code": "E42"' in answer_logged(caplog)
    if fault.get("body") == "huge":
        assert "larger than 4194304 bytes" in str(err)
    assert_secret_free(err, secrets, caplog)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_error_status_with_the_services_json_error_body(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.inject_fault(endpoint, status=503)

    with pytest.raises(ServerError) as exc_info:
        await call(client, endpoint)

    assert answer_logged(caplog) == '{"error": "Service Unavailable", "status": 503}'
    assert "503" in str(exc_info.value)


def http_date(seconds_after_now: float) -> str:
    """Return an HTTP date some seconds after the fixed clock."""
    return format_datetime(NOW + timedelta(seconds=seconds_after_now), usegmt=True)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("fault", "seconds"),
    [
        ({}, None),
        ({"retry_after": "120"}, 120.0),
        ({"retry_after": http_date(90)}, 90.0),
        # An oversized answer keeps its status and delay.
        ({"retry_after": "60", "body": "huge"}, 60.0),
    ],
    ids=repr,
)
async def test_429_is_rate_limited_with_the_delay_asked_for(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    fault: dict[str, str],
    seconds: float | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = secrets_of(endpoint, token)
    simulator.inject_fault(endpoint, **{"status": 429, "body": echo_body(secrets), **fault})

    with pytest.raises(RateLimitedError) as exc_info:
        await call(client, endpoint)

    err = exc_info.value
    assert err.retry_after == seconds
    assert err.status == 429
    assert len(answer_logged(caplog)) <= 200
    assert_secret_free(err, secrets, caplog)


# Transport failures.


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("fault", "message"),
    [({"delay": 0.3}, "0.05 s"), ({"drop": "before"}, ""), ({"drop": "mid_body"}, "")],
    ids=["timeout", "dropped_before_the_answer", "dropped_mid_body"],
)
async def test_no_whole_answer_is_a_connection_failure(
    session: aiohttp.ClientSession,
    simulator_url: str,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    fault: dict[str, Any],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    impatient = client_of(session, simulator_url, timeout=0.05, token=token)
    simulator.inject_fault(endpoint, **fault)
    requests_before = simulator.counts[endpoint]

    with pytest.raises(ConnectionFailedError) as exc_info:
        await call(impatient, endpoint)

    assert exc_info.value.status is None
    assert message in str(exc_info.value)
    assert_secret_free(exc_info.value, secrets_of(endpoint, token), caplog)
    # No retry behind the caller's back: each call costs the service one request.
    assert simulator.counts[endpoint] == requests_before + 1


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_connection_refused(
    session: aiohttp.ClientSession,
    socket_enabled: None,
    endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    token = Token(access_token="access-token-0123456789", expires_at=NOW + timedelta(hours=1))
    client = client_of(session, f"http://127.0.0.1:{closed_port}", token=token)

    with pytest.raises(ConnectionFailedError) as exc_info:
        await call(client, endpoint)

    assert exc_info.value.status is None
    assert "Could not reach the service" in str(exc_info.value)
    assert_secret_free(exc_info.value, secrets_of(endpoint, token), caplog)


# Bodies that are not what a 200 should carry.


async def test_html_body_is_shown_as_a_one_line_excerpt(
    client: OrangePowerClient, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.inject_fault("token", status=502, body="html")

    with pytest.raises(ServerError):
        await client.login()

    excerpt = answer_logged(caplog)
    assert excerpt.startswith("<!DOCTYPE html> <html><head><title>502 Bad Gateway</title>")
    assert "\n" not in excerpt
    assert len(excerpt) <= 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_200_with_a_non_json_body_echoing_secrets_is_redacted(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = secrets_of(endpoint, token)
    simulator.inject_fault(endpoint, body="<p>hello " + " ".join(secrets).upper() + "</p>")

    with pytest.raises(UnexpectedResponseError) as exc_info:
        await call(client, endpoint)

    # A token answer that is not JSON may hold a token the client cannot recognise: no excerpt.
    if endpoint == "token":
        assert answer_logged(caplog) == ""
    else:
        assert answer_logged(caplog).startswith("<p>hello ")
    assert_secret_free(exc_info.value, secrets, caplog)


# Secrets.


@pytest.mark.parametrize(
    ("password", "body", "leaked_forms"),
    [
        pytest.param(
            PASSWORD,
            f"refused: {EMAIL.upper()} with {PASSWORD}",
            (PASSWORD,),
            id="plain",
        ),
        pytest.param(
            'pa"ss\\word-1',
            json.dumps({"error": "refused", "password": 'pa"ss\\word-1'}),
            ('pa"ss\\word-1', 'pa\\"ss\\\\word-1'),
            id="json-escaped",
        ),
        pytest.param(
            "correct  horse",
            "refused: correct  horse",
            ("correct  horse", "correct horse"),
            id="whitespace-run",
        ),
        pytest.param(
            PASSWORD,
            "refused:" + " " * 780 + PASSWORD,
            (PASSWORD, PASSWORD[:-1]),
            id="cut-at-the-800-byte-window",
        ),
        pytest.param(
            "a/b&c d<e>",
            '{"error": "refused", "password": "a\\/b&c d<e>"}',
            ("a\\/b&c d<e>", "a/b&c d<e>"),
            id="json-slash-escaped",
        ),
        pytest.param(
            "a/b&c d<e>",
            "refused: a/b&amp;c d&lt;e&gt; or a%2Fb%26c%20d%3Ce%3E or a%2Fb%26c+d%3Ce%3E",
            ("a/b&amp;c d&lt;e&gt;", "a%2Fb%26c%20d%3Ce%3E", "a%2Fb%26c+d%3Ce%3E"),
            id="html-and-url-escaped",
        ),
    ],
)
async def test_echoed_password_is_in_no_form_in_the_excerpt(
    session: aiohttp.ClientSession,
    simulator_url: str,
    simulator: Simulator,
    password: str,
    body: str,
    leaked_forms: tuple[str, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator.inject_fault("token", status=400, body=body)

    with pytest.raises(UnexpectedResponseError):
        await client_of(session, simulator_url, password=password).login()

    excerpt = answer_logged(caplog)
    assert "refused" in excerpt
    for leaked in (*leaked_forms, EMAIL):
        assert leaked.lower() not in excerpt.lower()


async def test_the_orange_power_account_echoed_by_the_vehicles_call_is_not_logged(
    session: aiohttp.ClientSession,
    simulator_url: str,
    token: Token,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = client_of(session, simulator_url, account_email="op@example.com", token=token)
    simulator.inject_fault("vehicles", status=400, body="no tokens stored for OP@example.com")

    with pytest.raises(UnexpectedResponseError):
        await client.get_vehicles()

    assert "no tokens stored for **REDACTED**" in answer_logged(caplog)
    assert "op@example.com" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        (
            {
                "status": 400,
                "body": json.dumps(
                    {"error": "moved", "access_token": "LiveAccess42", "refresh_token": "R3"}
                ),
            },
            '"error": "moved"',
        ),
        # Cut off: not JSON, so no excerpt at all.
        ({"body": '{"access_token": "LiveAccess42", "refresh_token": "R3", "expires_in": '}, None),
    ],
    ids=["refused", "cut_off"],
)
async def test_tokens_in_a_failed_token_answer_are_not_shown(
    client: OrangePowerClient,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any],
    shown: str | None,
) -> None:
    simulator.inject_fault("token", **fault)

    with pytest.raises(UnexpectedResponseError) as exc_info:
        await client.login()

    if shown is None:
        assert answer_logged(caplog) == ""
    else:
        assert shown in answer_logged(caplog)
    for token in ("LiveAccess42", "R3"):
        assert token not in caplog.text
        assert token not in str(exc_info.value)


async def test_a_redirect_is_not_followed_with_the_credentials(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    followed: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(await request.text())
        return web.json_response({"access_token": "x"})

    app = web.Application()
    app.router.add_post("/api/bmw/oauth-token", redirect)
    app.router.add_post("/elsewhere", elsewhere)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        with pytest.raises(UnexpectedResponseError) as exc_info:
            await client_of(session, url).login()
    finally:
        await runner.cleanup()

    assert exc_info.value.status == 308
    assert followed == []


# Once broken: a 200 vehicles answer that was not valid JSON was logged with the VIN and user id.
@pytest.mark.parametrize("status", [200, 404, 500])
@pytest.mark.parametrize(
    "shape",
    ["cut_off_json", "json_with_an_error", "html", "text"],
)
async def test_no_vin_or_id_reaches_the_log_whatever_the_answer(
    client: OrangePowerClient,
    token: Token,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
    status: int,
    shape: str,
) -> None:
    car = simulator.car_json(I3S_VIN)["vehicle"]
    ids = (car["device_id"], car["user_id"], car["id"], car["_id"])
    body = {
        "cut_off_json": json.dumps([car])[:300],
        "json_with_an_error": json.dumps({"error": "bad car", "vehicle": car, "vin": I3S_VIN}),
        "html": f"<html><body><h1>Vehicle {I3S_VIN} of user {car['user_id']} failed</h1></body></html>",
        "text": f"no data for {car['id']} ({car['_id']}), VIN {I3S_VIN.lower()}",
    }[shape]
    simulator.inject_fault("vehicles", status=status, body=body)

    with caplog.at_level(logging.DEBUG), pytest.raises(OrangePowerError) as exc_info:
        await client.get_vehicles()

    # Every answer but well-formed JSON of the wrong shape is logged, from its start.
    assert (answer_logged(caplog) != "") is not (status == 200 and shape == "json_with_an_error")
    for text in (str(exc_info.value), caplog.text):
        for secret in ids:
            assert str(secret).lower() not in text.lower()
