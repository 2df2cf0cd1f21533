"""The service's two endpoints as the contract describes them, over real loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import Simulator, parse_scenario
from tests.helpers import reference
from tests.simulator.client import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    I3S_VIN,
    IX_VIN,
    Client,
    Serve,
    charge,
    one_car,
    served,
)

# The contract's example answers.
CONTRACT_TOKEN = reference("token")
CONTRACT_VEHICLE = reference("vehicle")
TOKEN, VEHICLES = "/api/bmw/oauth-token", "/api/get-user-devices"
LOGIN = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
PAYLOAD = {"email": DEMO_EMAIL}
WRONG_LOGIN = "wrong email or password"
NOT_THE_ACCOUNT = "payload.email is not the Orange Power account of this login"


def shape(value: Any) -> Any:
    """Return the field names and value types of a JSON value, recursively."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


async def test_token_has_the_contract_shape(client: Client) -> None:
    response = await client.token()

    assert (response.status, response.content_type) == (200, "application/json")
    token = await response.json()
    assert shape(token) == shape(CONTRACT_TOKEN)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 28800
    assert token["scope"] == CONTRACT_TOKEN["scope"]
    assert len(token["access_token"]) >= 30
    assert token["refresh_token"] != token["access_token"]
    assert await client.login() != token["access_token"]


@pytest.mark.parametrize(
    ("email", "password", "account_email", "error"),
    [
        (" Demo@Example.COM ", DEMO_PASSWORD, "DEMO@example.com ", None),
        ("demo@example.com", "wrong", None, WRONG_LOGIN),
        ("nobody@example.com", DEMO_PASSWORD, None, WRONG_LOGIN),
        (DEMO_EMAIL, "DEMO-PASSWORD", None, WRONG_LOGIN),
        (DEMO_EMAIL, DEMO_PASSWORD, "someone.else@example.com", NOT_THE_ACCOUNT),
    ],
)
async def test_login_needs_the_credentials_but_not_the_emails_case_or_spaces(
    client: Client, email: str, password: str, account_email: str | None, error: str | None
) -> None:
    response = await client.token(email, password, account_email)

    if error is None:
        assert response.status == 200
    else:
        assert (response.status, await response.json()) == (401, {"error": error, "status": 401})


async def test_payload_email_must_be_the_orange_power_account(
    simulator: Simulator, client: Client
) -> None:
    simulator.accounts[0].account_email = "household@example.com"
    assert (await client.token()).status == 401
    assert (await client.token(account_email="Household@example.com")).status == 200


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        (TOKEN, {"password": DEMO_PASSWORD, "payload": PAYLOAD}, "email is required"),
        (TOKEN, {"email": DEMO_EMAIL, "payload": PAYLOAD}, "password is required"),
        (TOKEN, {**LOGIN, "password": "", "payload": PAYLOAD}, "password is required"),
        (TOKEN, LOGIN, "payload.email is required"),
        (TOKEN, {**LOGIN, "payload": "x"}, "payload.email is required"),
        (TOKEN, {**LOGIN, "email": 1, "payload": PAYLOAD}, "email is required"),
        (TOKEN, ["not", "an", "object"], "the body must be a JSON object"),
        (VEHICLES, {"email": DEMO_EMAIL}, "password is required"),
        (VEHICLES, {"password": DEMO_PASSWORD}, "email is required"),
        (VEHICLES, {"email": "", "password": "x"}, "email is required"),
        (VEHICLES, [1], "the body must be a JSON object"),
        *(
            (path, data, "the body is not valid JSON")
            for path in (TOKEN, VEHICLES)
            for data in (b"{not json", b"", b"\xff\xfe")
        ),
    ],
)
async def test_bad_body_gets_400(client: Client, path: str, body: Any, error: str) -> None:
    """A body that is no JSON, no object, or lacks a field; the vehicles one with a valid token."""
    headers = {"Authorization": f"Bearer {await client.login()}"}
    response = await client.request("POST", path, body, headers=headers)

    assert response.status == 400
    assert await response.json() == {"error": error, "status": 400}


@pytest.mark.parametrize("path", [TOKEN, VEHICLES])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_get_405(client: Client, path: str, method: str) -> None:
    response = await client.request(method, path)

    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert await response.json() == {"error": "Method Not Allowed", "status": 405}


async def test_unknown_path_gets_json_404(client: Client) -> None:
    response = await client.request("POST", "/api/bmw/vehicles")

    assert response.status == 404
    assert await response.json() == {"error": "Not Found", "status": 404}


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("text/html", 406),
        ("text/html, application/xhtml+xml;q=0.9", 406),
        ("application/json;q=0, text/plain", 406),
        ("application/json", 200),
        ("application/*", 200),
        ("*/*", 200),
        ("text/html, application/json;q=0.5", 200),
        ("application/problem+json", 200),
        ("application/json;q=bogus", 200),
        ("", 200),
    ],
)
async def test_accept_header_that_excludes_json_gets_406(
    client: Client, accept: str, status: int
) -> None:
    token_response = await client.token(headers={"Accept": accept})
    vehicles_response = await client.vehicles(await client.login(), headers={"Accept": accept})

    assert token_response.status == status
    assert vehicles_response.status == status
    if status == 406:
        assert (await vehicles_response.json())["status"] == 406


async def test_vehicles_is_an_array_of_the_demo_cars_with_every_field_of_the_contract_example(
    client: Client,
) -> None:
    """Each car with the example's fields and types, the two demo cars as they start, ids fixed."""
    response = await client.vehicles(await client.login())

    assert response.status == 200
    cars = await response.json()
    assert isinstance(cars, list)
    assert [car["device_id"] for car in cars] == [I3S_VIN, IX_VIN]
    for car in cars:
        assert shape(car) == shape(CONTRACT_VEHICLE)
        assert car["device_type"] == "bmw"
        assert car["brand"] == "BMW"
        assert car["__v"] == 0
        assert len(car["_id"]) == 24
        assert len(car["user_id"]) == 24
        assert len(car["id"]) == 32
        assert car["charging_state"]["type"] == "CONDUCTIVE"
    i3s, ix = cars
    assert (i3s["model"], i3s["year"]) == ("i3s 94 REX", 2018)
    assert (ix["model"], ix["year"]) == ("iX xDrive50", 2023)
    assert i3s["user_id"] == ix["user_id"]
    assert len({i3s["id"], ix["id"], i3s["_id"], ix["_id"]}) == 4
    assert charge(i3s) == ("45", "CHARGING", True, 67)
    assert charge(ix) == ("64", "NOT_CHARGING", False, 240)
    assert [car["electric_range"]["distance"]["units"] for car in cars] == ["KILOMETERS", "MILES"]
    # The ids are the same on every run: another simulator serves the very same cars.
    assert served(Simulator()) == cars


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        *((header, 401) for header in ("", "Bearer", "Bearer ", "Basic abc", "Bearer not-a-token")),
        ("Token {token}", 401),
        # The scheme's case does not matter.
        ("bearer {token}", 200),
    ],
)
async def test_vehicles_without_a_valid_bearer_token_gets_401(
    client: Client, authorization: str, status: int
) -> None:
    token = await client.login()
    headers = {"Authorization": authorization.format(token=token)}
    response = await client.vehicles(token, headers=headers)

    assert response.status == status
    if status == 401:
        assert (await response.json())["status"] == 401


@pytest.mark.parametrize(("lifetime", "demo_speed"), [(28800, None), (60, None), (28800, 6)])
async def test_token_expires_after_its_lifetime(
    serve: Serve, lifetime: int, demo_speed: float | None
) -> None:
    """8 hours, or what the simulator is told, as the token answer says; a demo speed or not."""
    simulator = Simulator(demo_speed=demo_speed)
    client = await serve(simulator)
    if demo_speed is None:  # the demo row keeps the default: a demo speed leaves it alone
        simulator.token_lifetime = lifetime
    response = await client.token()
    token = (await response.json())["access_token"]
    assert (await response.json())["expires_in"] == lifetime
    simulator.clock.advance(lifetime - 1)
    assert (await client.vehicles(token)).status == 200

    simulator.clock.advance(1)
    response = await client.vehicles(token)

    assert response.status == 401
    assert await response.json() == {"error": "token expired", "status": 401}
    assert (await client.vehicles(await client.login())).status == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("b@example.com", "nope"), ("nobody@example.com", "pw-b"), ("a@example.com", "p")],
)
async def test_vehicles_with_credentials_other_than_the_tokens_gets_401(
    serve: Serve, email: str, password: str
) -> None:
    """A wrong password or email, or another account's: that account's car is not served."""
    scenario = one_car({"email": "b@example.com", "password": "pw-b"})
    client = await serve(Simulator(parse_scenario(scenario)))
    token = await client.login("b@example.com", "pw-b")

    response = await client.vehicles(token, email, password)

    error = "the token does not belong to these credentials"
    assert (response.status, await response.json()) == (401, {"error": error, "status": 401})
    own = await client.vehicles(token, "b@example.com", "pw-b")
    assert (own.status, await own.json()) == (200, [])
