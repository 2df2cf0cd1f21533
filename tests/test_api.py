"""The Orange Power Connect client against the simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
import logging
import re
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
from custom_components.orangepower_bmw.models import Token
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
    # The simulator issued this very token, to the demo account.
    assert simulator.check_token(token.access_token).email == EMAIL
    assert simulator.counts == {"token": 1, "vehicles": 0}


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
    simulator: Simulator,
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
    # A refused login is not tried again.
    assert simulator.counts == {"token": 1, "vehicles": 0}


# Vehicles.


async def test_get_vehicles_logs_in_and_returns_the_two_default_cars(
    session: aiohttp.ClientSession, simulator_url: str, simulator: Simulator
) -> None:
    """A base URL with a trailing slash works too: one login, one list."""
    vehicles = await client_of(session, simulator_url + "/").get_vehicles()

    # Every field of both cars as the user sees it: the diagnostics and entities snapshots.
    assert [vehicle.vin for vehicle in vehicles] == [I3S_VIN, IX_VIN]
    assert isinstance(vehicles[0].charging.percentage, int)
    assert simulator.status_counts == {"token": {"200": 1}, "vehicles": {"200": 1}}


async def test_a_token_the_service_never_issued_is_renewed_and_the_call_made_once_more(
    session: aiohttp.ClientSession,
    simulator_url: str,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token from elsewhere, say; an expired one is renewed end to end (test_tokens)."""
    unknown = Token(
        access_token="never-issued-token-0123456789", expires_at=NOW + timedelta(hours=1)
    )
    renewed: list[Token] = []
    client = client_of(session, simulator_url, token=unknown, on_token=renewed.append)

    assert len(await client.get_vehicles()) == 2

    assert "invalid token" in caplog.text
    assert simulator.counts == {"token": 1, "vehicles": 2}
    assert renewed == [client._token]
    assert_secret_free(OrangePowerError(""), (EMAIL, PASSWORD, unknown.access_token), caplog)


async def test_a_token_refused_again_after_its_renewal_is_token_rejected(
    client: OrangePowerClient, token: Token, simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a loop: one renewal, one more call; the 401 body echoing secrets redacted."""
    secrets = secrets_of("vehicles", token)
    simulator.inject_fault("vehicles", status=401, body=echo_body(secrets), count=2)

    with pytest.raises(TokenRejectedError) as exc_info:
        await client.get_vehicles()

    assert exc_info.value.status == 401
    # The last call sent the renewed token: the old one echoed back is hidden as an identifier.
    assert answer_logged(caplog) == echo_body(("**REDACTED**", "**REDACTED**", "**ID**"))
    assert_secret_free(exc_info.value, secrets, caplog)
    assert simulator.counts == {"token": 2, "vehicles": 2}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        *(
            ({"status": status}, UnexpectedResponseError, f"with status {status}")
            for status in (400, 404, 405, 406)
        ),
        ({"status": 403}, QuotaExceededError, "refused access"),
        ({"status": 410}, ServiceGoneError, "API was removed"),
        *(({"status": status}, ServerError, f"status {status}") for status in (500, 502, 503, 504)),
        # A 200 whose body is not the answer.
        *(
            ({"body": body}, UnexpectedResponseError, "not JSON")
            for body in ("html", "malformed", "empty")
        ),
        ({"body": "wrong_shape"}, UnexpectedResponseError, "response"),
        ({"body": "huge"}, UnexpectedResponseError, "larger than 4194304 bytes"),
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
    message: str,
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
    assert message in str(err)
    if "status" in fault:
        # The failed answer's start is logged as it came, but for the secrets.
        assert answer_logged(caplog) == echo_body(("**REDACTED**",) * len(secrets))
    assert_secret_free(err, secrets, caplog)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("fault", "seconds"),
    [
        # Either form of the header is read by parse_retry_after (test_api_parsing) and waited
        # for end to end (test_fault_matrix).
        ({}, None),
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
    [
        ({"delay": 0.3}, "No answer from the service within 0.05 s"),
        ({"drop": "before"}, "Could not reach the service (ServerDisconnectedError"),
        ({"drop": "mid_body"}, "Could not reach the service (ClientPayloadError"),
    ],
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


# Secrets.


@pytest.mark.parametrize(
    ("password", "body", "leaked_forms"),
    [
        # As written and in upper case: test_no_vin_or_id_reaches_the_log_whatever_the_answer.
        (
            'pa"ss\\word-1',
            json.dumps({"error": "refused", "password": 'pa"ss\\word-1'}),
            ('pa"ss\\word-1', 'pa\\"ss\\\\word-1'),
        ),
        ("correct  horse", "refused: correct  horse", ("correct  horse", "correct horse")),
        (PASSWORD, "refused:" + " " * 780 + PASSWORD, (PASSWORD, PASSWORD[:-1])),
        (
            "a/b&c d<e>",
            '{"error": "refused", "password": "a\\/b&c d<e>"}',
            ("a\\/b&c d<e>", "a/b&c d<e>"),
        ),
        (
            "a/b&c d<e>",
            "refused: a/b&amp;c d&lt;e&gt; or a%2Fb%26c%20d%3Ce%3E or a%2Fb%26c+d%3Ce%3E",
            ("a/b&amp;c d&lt;e&gt;", "a%2Fb%26c%20d%3Ce%3E", "a%2Fb%26c+d%3Ce%3E"),
        ),
    ],
    ids=[
        "json-escaped",
        "whitespace-run",
        "cut-at-the-800-byte-window",
        "json-slash-escaped",
        "html-and-url-escaped",
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
        "html": f"<html>\n<body><h1>Vehicle {I3S_VIN} of user {car['user_id']} failed</h1></body></html>",
        # With the request's own secrets, in another case.
        "text": f"no data for {car['id']} ({car['_id']}), VIN {I3S_VIN.lower()}, "
        + " ".join(secrets_of("vehicles", token)).upper(),
    }[shape]
    simulator.inject_fault("vehicles", status=status, body=body)

    with caplog.at_level(logging.DEBUG), pytest.raises(OrangePowerError) as exc_info:
        await client.get_vehicles()

    # Every answer but well-formed JSON of the wrong shape is logged, from its start, on one line.
    assert (answer_logged(caplog) != "") is not (status == 200 and shape == "json_with_an_error")
    assert "\n" not in answer_logged(caplog)
    if shape == "html":  # each run of whitespace is one space, not nothing
        assert answer_logged(caplog).startswith("<html> <body><h1>Vehicle **ID** of user **ID**")
    for text in (str(exc_info.value), caplog.text):
        for secret in (*ids, *secrets_of("vehicles", token)):
            assert str(secret).lower() not in text.lower()
