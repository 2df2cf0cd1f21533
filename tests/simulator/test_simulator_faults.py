"""Faults injected into the two endpoints, and the request counters."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from simulator import ScenarioError, Simulator
from tests.simulator.client import Client

HTTP_DATE = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("fault", "retry_after", "error"),
    [
        ({"status": 429, "retry_after": "120"}, "120", "Too Many Requests"),
        ({"status": 503, "retry_after": 30}, "30", "Service Unavailable"),
        ({"status": 429, "retry_after": HTTP_DATE}, HTTP_DATE, "Too Many Requests"),
        ({"status": 599}, None, "simulated fault"),
    ],
)
async def test_status_fault_with_retry_after_sent_verbatim_or_not_at_all(
    simulator: Simulator,
    client: Client,
    fault: dict[str, object],
    retry_after: str | None,
    error: str,
) -> None:
    token = await client.login()
    simulator.inject_fault("vehicles", **fault)

    response = await client.vehicles(token)

    assert response.status == fault["status"]
    assert response.headers.get("Retry-After") == retry_after
    assert await response.json() == {"error": error, "status": fault["status"]}
    assert (await client.vehicles(token)).status == 200


async def test_faults_queue_first_in_first_out_per_endpoint_each_count_times(
    simulator: Simulator, client: Client
) -> None:
    """Then the endpoint answers normally again."""
    simulator.inject_fault("token", status=503, count=2)
    simulator.inject_fault("vehicles", status=403)
    simulator.inject_fault("token", status=429)

    token_statuses = [(await client.token()).status for _ in range(4)]
    vehicles_status = (await client.vehicles(await client.login())).status

    assert token_statuses == [503, 503, 429, 200]
    assert vehicles_status == 403
    assert simulator.faults == {"token": [], "vehicles": []}


async def test_delay_fault(simulator: Simulator, client: Client) -> None:
    """Alone it answers normally after the delay; longer than the client waits, it times out."""
    simulator.inject_fault("token", delay=0.05)
    started = time.monotonic()
    response = await client.token()
    assert time.monotonic() - started >= 0.05
    assert response.status == 200
    assert "access_token" in await response.json()

    simulator.inject_fault("token", delay=0.2, status=500)
    with pytest.raises(TimeoutError):
        await client.token(timeout=aiohttp.ClientTimeout(total=0.05))

    assert simulator.counts["token"] == 2
    assert (await client.token()).status == 200


@pytest.mark.parametrize(
    ("body", "content_type", "check"),
    [
        ("html", "text/html", lambda text: text.startswith("<!DOCTYPE html>")),
        ("empty", "application/json", lambda text: text == ""),
        ("wrong_shape", "application/json", lambda text: text == '{"status": "ok", "data": null}'),
        ("huge", "application/json", lambda text: len(text) >= 10 * 1024 * 1024),
        ("quota exceeded", "text/plain", lambda text: text == "quota exceeded"),
        ('{"message": "quota"}', "application/json", lambda text: text == '{"message": "quota"}'),
    ],
)
async def test_body_faults(
    simulator: Simulator, client: Client, body: str, content_type: str, check: object
) -> None:
    simulator.inject_fault("vehicles", body=body)
    token = await client.login()

    response = await client.vehicles(token)

    assert (response.status, response.content_type) == (200, content_type)
    assert callable(check)
    assert check(await response.text())


@pytest.mark.parametrize("endpoint", ["token", "vehicles"])
async def test_malformed_body_is_cut_off_json(
    simulator: Simulator, client: Client, endpoint: str
) -> None:
    token = await client.login()
    simulator.inject_fault(endpoint, body="malformed")

    response = await (client.token() if endpoint == "token" else client.vehicles(token))

    assert (response.status, response.content_type) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.text())


async def test_body_fault_with_status(simulator: Simulator, client: Client) -> None:
    simulator.inject_fault("token", status=503, body="html", retry_after="60")

    response = await client.token()

    assert (response.status, response.content_type) == (503, "text/html")
    assert response.headers["Retry-After"] == "60"
    assert "502 Bad Gateway" in await response.text()


async def test_drop_before_answering(
    simulator: Simulator, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.inject_fault("token", drop="before")

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.token()
    await asyncio.sleep(0.01)
    assert "POST /api/bmw/oauth-token dropped" in caplog.text
    assert (await client.token()).status == 200
    assert simulator.status_counts["token"] == {"200": 1, "dropped": 1}


@pytest.mark.parametrize("fault", [{}, {"status": 500, "body": "html"}, {"body": "empty"}])
async def test_drop_mid_body(
    simulator: Simulator, client: Client, fault: dict[str, object]
) -> None:
    token = await client.login()
    simulator.inject_fault("vehicles", drop="mid_body", **fault)

    with pytest.raises(aiohttp.ClientPayloadError):
        await client.vehicles(token)
    assert (await client.vehicles(token)).status == 200


async def test_counters_count_every_request_that_reached_an_endpoint(
    simulator: Simulator, client: Client
) -> None:
    simulator.inject_fault("vehicles", status=500)
    token = await client.login()
    await client.token(password="wrong")
    await client.vehicles(token)
    await client.vehicles(token)
    await client.request("GET", "/api/get-user-devices")  # 405: never reaches the endpoint

    status, counters = await client.control("GET", "/counters")

    assert status == 200
    assert counters == {
        "token": 2,
        "vehicles": 2,
        "by_status": {"token": {"200": 1, "401": 1}, "vehicles": {"200": 1, "500": 1}},
    }
    assert simulator.counts == {"token": 2, "vehicles": 2}


async def test_faults_over_the_control_api(simulator: Simulator, client: Client) -> None:
    status, queued = await client.control(
        "POST", "/faults", {"endpoint": "vehicles", "count": 2, "status": 429, "retry_after": "5"}
    )
    assert status == 201
    fault = {"status": 429, "retry_after": "5", "delay": 0.0, "body": None, "drop": None}
    assert queued == {"token": [], "vehicles": [fault, fault]}
    assert await client.control("GET", "/faults") == (200, queued)

    status, cleared = await client.control("DELETE", "/faults")

    assert (status, cleared) == (200, {"token": [], "vehicles": []})
    assert (await client.vehicles(await client.login())).status == 200


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 500}, "fault.endpoint: required, token or vehicles"),
        (
            {"endpoint": "devices", "status": 500},
            "fault.endpoint: expected token or vehicles, got 'devices'",
        ),
        ({"endpoint": "token"}, "fault: give at least one of status, body, drop or delay"),
        (
            {"endpoint": "token", "status": 42},
            "fault.status: expected a whole number from 100 to 599, got the number 42",
        ),
        (
            {"endpoint": "token", "status": "500"},
            "fault.status: expected a whole number from 100 to 599, got the string '500'",
        ),
        (
            {"endpoint": "token", "count": 0, "status": 500},
            "fault.count: expected a whole number of at least 1, got the number 0",
        ),
        (
            {"endpoint": "token", "delay": -1},
            "fault.delay: expected a number from 0, got the number -1",
        ),
        (
            {"endpoint": "token", "drop": "after"},
            "fault.drop: expected before or mid_body, got the string 'after'",
        ),
        (
            {"endpoint": "token", "body": ""},
            "fault.body: expected a non-empty string or null, got the string ''",
        ),
        ({"endpoint": "token", "status": 500, "colour": "red"}, "fault: unknown field 'colour'"),
    ],
)
async def test_invalid_fault_gets_400(
    simulator: Simulator, client: Client, fault: dict[str, object], error: str
) -> None:
    status, answer = await client.control("POST", "/faults", fault)

    assert (status, answer) == (400, {"error": error, "status": 400})
    assert simulator.faults == {"token": [], "vehicles": []}


def test_invalid_fault_raises_in_python() -> None:
    simulator = Simulator()

    with pytest.raises(ScenarioError, match=r"fault\.retry_after"):
        simulator.inject_fault("token", status=429, retry_after=1.5)
