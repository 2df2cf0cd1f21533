"""The service's two endpoints as the contract describes them, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from simulator import Simulator, parse_scenario
from tests.helpers import reference
from tests.simulator.client import DEMO_EMAIL, DEMO_PASSWORD, I3S_VIN, IX_VIN, Client

# The contract's example answers.
CONTRACT_TOKEN = reference("token")
CONTRACT_VEHICLE = reference("vehicle")


def shape(value: Any) -> Any:
    """Return the field names and value types of a JSON value, recursively."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


async def test_token_has_the_contract_shape(client: Client) -> None:
    response = await client.token()

    assert response.status == 200
    assert response.content_type == "application/json"
    token = await response.json()
    assert shape(token) == shape(CONTRACT_TOKEN)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 28800
    assert token["scope"] == CONTRACT_TOKEN["scope"]
    assert len(token["access_token"]) >= 30
    assert token["refresh_token"] != token["access_token"]


async def test_each_login_issues_a_new_token(client: Client) -> None:
    assert await client.login() != await client.login()


async def test_login_ignores_case_and_spaces_of_emails(client: Client) -> None:
    response = await client.token(email=" Demo@Example.COM ", account_email="DEMO@example.com ")

    assert response.status == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("demo@example.com", "wrong"),
        ("nobody@example.com", DEMO_PASSWORD),
        (DEMO_EMAIL, "DEMO-PASSWORD"),
    ],
)
async def test_wrong_credentials_get_401(client: Client, email: str, password: str) -> None:
    response = await client.token(email=email, password=password)

    assert response.status == 401
    assert await response.json() == {"error": "wrong email or password", "status": 401}


async def test_payload_email_must_be_the_orange_power_account(
    simulator: Simulator, client: Client
) -> None:
    response = await client.token(account_email="someone.else@example.com")
    assert response.status == 401
    assert "payload.email" in (await response.json())["error"]

    simulator.accounts[0].account_email = "household@example.com"
    assert (await client.token()).status == 401
    assert (await client.token(account_email="Household@example.com")).status == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"password": DEMO_PASSWORD, "payload": {"email": DEMO_EMAIL}}, "email is required"),
        ({"email": DEMO_EMAIL, "payload": {"email": DEMO_EMAIL}}, "password is required"),
        (
            {"email": DEMO_EMAIL, "password": "", "payload": {"email": DEMO_EMAIL}},
            "password is required",
        ),
        ({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}, "payload.email is required"),
        (
            {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "payload": "x"},
            "payload.email is required",
        ),
        (
            {"email": 1, "password": DEMO_PASSWORD, "payload": {"email": DEMO_EMAIL}},
            "email is required",
        ),
        (["not", "an", "object"], "the body must be a JSON object"),
    ],
)
async def test_token_bad_body_gets_400(client: Client, body: Any, error: str) -> None:
    response = await client.request("POST", "/api/bmw/oauth-token", body)

    assert response.status == 400
    assert await response.json() == {"error": error, "status": 400}


@pytest.mark.parametrize("path", ["/api/bmw/oauth-token", "/api/get-user-devices"])
@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe"])
async def test_invalid_json_gets_400(client: Client, path: str, data: bytes) -> None:
    token = await client.login()
    response = await client.request(
        "POST",
        path,
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status == 400
    assert await response.json() == {"error": "the body is not valid JSON", "status": 400}


@pytest.mark.parametrize("path", ["/api/bmw/oauth-token", "/api/get-user-devices"])
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
    token_response = await client.request(
        "POST",
        "/api/bmw/oauth-token",
        {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "payload": {"email": DEMO_EMAIL}},
        headers={"Accept": accept},
    )
    vehicles_response = await client.vehicles(await client.login(), headers={"Accept": accept})

    assert token_response.status == status
    assert vehicles_response.status == status
    if status == 406:
        assert (await vehicles_response.json())["status"] == 406


async def test_vehicles_is_an_array_of_the_accounts_cars(client: Client) -> None:
    response = await client.vehicles(await client.login())

    assert response.status == 200
    cars = await response.json()
    assert isinstance(cars, list)
    assert [car["device_id"] for car in cars] == [I3S_VIN, IX_VIN]


async def test_vehicle_has_every_field_of_the_contract_example(client: Client) -> None:
    cars = await client.cars()

    for car in cars.values():
        assert shape(car) == shape(CONTRACT_VEHICLE)
        assert car["device_type"] == "bmw"
        assert car["brand"] == "BMW"
        assert car["__v"] == 0
        assert len(car["_id"]) == 24
        assert len(car["user_id"]) == 24
        assert len(car["id"]) == 32
        assert car["charging_state"]["type"] == "CONDUCTIVE"
    i3s, ix = cars[I3S_VIN], cars[IX_VIN]
    assert (i3s["model"], i3s["year"]) == ("i3s 94 REX", 2018)
    assert (ix["model"], ix["year"]) == ("iX xDrive50", 2023)
    assert i3s["user_id"] == ix["user_id"]
    assert len({i3s["id"], ix["id"], i3s["_id"], ix["_id"]}) == 4


async def test_demo_cars_start_as_documented(client: Client) -> None:
    cars = await client.cars()

    assert cars[I3S_VIN]["charging_state"] == {
        "charge_percentage": "45",
        "state": "CHARGING",
        "type": "CONDUCTIVE",
        "is_charger_connected": True,
    }
    assert cars[I3S_VIN]["electric_range"] == {"distance": {"value": 67, "units": "KILOMETERS"}}
    assert cars[IX_VIN]["charging_state"] == {
        "charge_percentage": "64",
        "state": "NOT_CHARGING",
        "type": "CONDUCTIVE",
        "is_charger_connected": False,
    }
    assert cars[IX_VIN]["electric_range"] == {"distance": {"value": 240, "units": "MILES"}}


async def test_ids_are_the_same_on_every_run(client: Client) -> None:
    first = await client.cars()
    second_simulator = Simulator()
    second = second_simulator.vehicles(
        second_simulator.check_token(
            str(second_simulator.issue_token(DEMO_EMAIL, DEMO_PASSWORD, DEMO_EMAIL)["access_token"])
        ),
        DEMO_EMAIL,
        DEMO_PASSWORD,
    )

    assert [(car["_id"], car["id"], car["user_id"]) for car in first.values()] == [
        (car["_id"], car["id"], car["user_id"]) for car in second
    ]


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
    response = await client.request(
        "POST",
        "/api/get-user-devices",
        {"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
        headers={"Authorization": authorization.format(token=token)},
    )

    assert response.status == status
    if status == 401:
        assert (await response.json())["status"] == 401


@pytest.mark.parametrize("lifetime", [28800, 60])
async def test_token_expires_after_its_lifetime(
    simulator: Simulator, client: Client, lifetime: int
) -> None:
    """8 hours, or what the simulator is told, as the token answer says."""
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


async def test_token_of_another_account_gets_401(
    serve: Callable[[Simulator], Awaitable[Client]],
) -> None:
    client = await serve(
        Simulator(
            parse_scenario(
                {
                    "accounts": [
                        {"email": "a@example.com", "password": "pw-a"},
                        {
                            "email": "b@example.com",
                            "password": "pw-b",
                            "cars": [{"vin": "VIN-B", "model": "i5", "year": 2024}],
                        },
                    ]
                }
            )
        )
    )
    token_a = await client.login("a@example.com", "pw-a")

    other = await client.vehicles(token_a, "b@example.com", "pw-b")
    own = await client.vehicles(token_a, "a@example.com", "pw-a")

    assert other.status == 401
    assert own.status == 200
    assert await own.json() == []


async def test_vehicles_with_wrong_password_or_email_gets_401(client: Client) -> None:
    token = await client.login()

    wrong_password = await client.vehicles(token, password="nope")
    wrong_email = await client.vehicles(token, email="nobody@example.com")

    assert wrong_password.status == 401
    assert wrong_email.status == 401
    assert (await wrong_password.json())[
        "error"
    ] == "the token does not belong to these credentials"


@pytest.mark.parametrize(
    "body",
    [{"email": DEMO_EMAIL}, {"password": DEMO_PASSWORD}, {"email": "", "password": "x"}, [1]],
)
async def test_vehicles_bad_body_gets_400(client: Client, body: Any) -> None:
    token = await client.login()
    response = await client.request(
        "POST", "/api/get-user-devices", body, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status == 400
