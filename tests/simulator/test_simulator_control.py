"""The /_simulator control API over HTTP."""

from __future__ import annotations

from datetime import datetime

import pytest

from simulator import Simulator
from tests.simulator.client import DEMO_EMAIL, DEMO_PASSWORD, I3S_VIN, IX_VIN, Client


def approx(value: float) -> object:
    """Match a percentage that real time has moved on by a little."""
    return pytest.approx(value, abs=0.01)


async def test_state_shows_everything(simulator: Simulator, client: Client) -> None:
    await client.login()
    simulator.inject_fault("vehicles", status=503)

    status, state = await client.control("GET", "/state")

    assert status == 200
    assert set(state) == {
        "clock",
        "clock_offset_seconds",
        "token_lifetime",
        "accounts",
        "tokens",
        "faults",
        "counters",
    }
    [account] = state["accounts"]
    assert (account["email"], account["password"], account["account_email"]) == (
        DEMO_EMAIL,
        DEMO_PASSWORD,
        DEMO_EMAIL,
    )
    i3s = account["cars"][0]
    assert i3s["vin"] == I3S_VIN
    assert (i3s["percentage"], i3s["charging"], i3s["state"]) == (approx(45), True, "CHARGING")
    assert i3s["vehicle"]["device_id"] == I3S_VIN
    [token] = state["tokens"]
    assert (token["email"], token["expired"]) == (DEMO_EMAIL, False)
    assert state["faults"]["vehicles"][0]["status"] == 503
    assert state["counters"]["token"] == 1
    assert datetime.fromisoformat(state["clock"]).tzinfo is not None


async def test_car_actions(client: Client) -> None:
    status, car = await client.control("POST", f"/cars/{IX_VIN}/plug")
    assert (status, car["state"], car["charger_connected"]) == (200, "PLUGGED_IN", True)

    status, car = await client.control("POST", f"/cars/{IX_VIN}/start_charging")
    assert (status, car["state"], car["charging"]) == (200, "CHARGING", True)

    status, car = await client.control("POST", f"/cars/{IX_VIN}/stop_charging")
    assert (status, car["state"], car["charging"]) == (200, "PLUGGED_IN", False)

    status, car = await client.control("POST", f"/cars/{IX_VIN}/unplug")
    assert (status, car["vehicle"]["charging_state"]["state"]) == (200, "NOT_CHARGING")
    assert (await client.cars())[IX_VIN]["charging_state"]["is_charger_connected"] is False


async def test_start_charging_unplugged_car_is_409(client: Client) -> None:
    status, answer = await client.control("POST", f"/cars/{IX_VIN}/start_charging")

    assert (status, answer) == (409, {"error": f"car {IX_VIN} is not plugged in", "status": 409})


@pytest.mark.parametrize("method", ["PATCH", "POST"])
async def test_update_car(client: Client, method: str) -> None:
    status, car = await client.control(
        method, f"/cars/{I3S_VIN}", {"percentage": 82, "charging": False, "state": "ERROR"}
    )

    assert status == 200
    assert car["vehicle"]["charging_state"]["charge_percentage"] == "82"
    assert car["vehicle"]["charging_state"]["state"] == "ERROR"
    assert car["state_override"] == "ERROR"
    assert car["vehicle"]["electric_range"]["distance"]["value"] == 121


async def test_update_car_without_a_body_changes_nothing(client: Client) -> None:
    status, car = await client.control("PATCH", f"/cars/{I3S_VIN}")

    assert (status, car["percentage"], car["state"]) == (200, approx(45), "CHARGING")


async def test_update_car_with_bad_fields_is_400(client: Client) -> None:
    status, answer = await client.control("PATCH", f"/cars/{I3S_VIN}", {"percentage": -5})

    assert status == 400
    assert (
        answer["error"]
        == f"car {I3S_VIN}.percentage: expected a number from 0 to 100, got the number -5"
    )


async def test_update_car_with_invalid_json_is_400(client: Client) -> None:
    response = await client.request("PATCH", f"/_simulator/cars/{I3S_VIN}", data=b"{oops")

    assert response.status == 400
    assert await response.json() == {"error": "the body is not valid JSON", "status": 400}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/cars/NOPE/plug"),
        ("PATCH", "/cars/NOPE"),
        ("DELETE", "/cars/NOPE"),
        ("POST", "/accounts/nobody@example.com/password"),
    ],
)
async def test_unknown_car_or_account_is_404(client: Client, method: str, path: str) -> None:
    status, answer = await client.control(
        method, path, {"password": "x"} if "password" in path else None
    )

    assert status == 404
    assert answer["status"] == 404


async def test_add_and_remove_a_car(client: Client) -> None:
    status, car = await client.control(
        "POST",
        "/accounts/demo%40example.com/cars",
        {"vin": "WBA00000000000002", "model": "i7 xDrive60", "year": 2023, "units": "MILES"},
    )
    assert (status, car["account"], car["vehicle"]["electric_range"]["distance"]["units"]) == (
        201,
        DEMO_EMAIL,
        "MILES",
    )
    assert "WBA00000000000002" in await client.cars()

    status, answer = await client.control("DELETE", "/cars/WBA00000000000002")

    assert (status, answer) == (200, {"removed": "WBA00000000000002"})
    assert "WBA00000000000002" not in await client.cars()


async def test_add_car_with_bad_spec_is_400(client: Client) -> None:
    status, answer = await client.control("POST", f"/accounts/{DEMO_EMAIL}/cars", {"vin": "X"})

    assert (status, answer) == (400, {"error": "car.model: required", "status": 400})


async def test_change_password(client: Client) -> None:
    status, account = await client.control(
        "POST", f"/accounts/{DEMO_EMAIL}/password", {"password": "n3w"}
    )

    assert (status, account["password"]) == (200, "n3w")
    assert (await client.token()).status == 401
    assert (await client.token(password="n3w")).status == 200


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 5}, {"password": "x", "y": 1}])
async def test_change_password_with_bad_body_is_400(
    client: Client, body: dict[str, object]
) -> None:
    status, _ = await client.control("POST", f"/accounts/{DEMO_EMAIL}/password", body)

    assert status == 400
    assert (await client.token()).status == 200


async def test_expire_tokens(client: Client) -> None:
    token = await client.login()

    status, answer = await client.control("POST", "/tokens/expire")

    assert (status, answer) == (200, {"expired": 1})
    response = await client.vehicles(token)
    assert (response.status, await response.json()) == (
        401,
        {"error": "token expired", "status": 401},
    )


async def test_clock(simulator: Simulator, client: Client) -> None:
    status, before = await client.control("GET", "/clock")
    assert (status, before["offset_seconds"]) == (200, 0)

    status, after = await client.control("POST", "/clock", {"advance": 7200})

    assert (status, after["offset_seconds"]) == (200, 7200)
    moved = datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"])
    assert 7200 <= moved.total_seconds() < 7260
    assert (await client.cars())[I3S_VIN]["charging_state"]["charge_percentage"] == "65"


@pytest.mark.parametrize("body", [{"advance": -1}, {"advance": "1"}, {"back": 1}, [1]])
async def test_clock_with_bad_body_is_400(client: Client, body: object) -> None:
    status, answer = await client.control("POST", "/clock", body)

    assert (status, answer["status"]) == (400, 400)


async def test_reset(simulator: Simulator, client: Client) -> None:
    token = await client.login()
    await client.control("POST", f"/cars/{I3S_VIN}/unplug")
    await client.control("DELETE", f"/cars/{IX_VIN}")
    await client.control("POST", "/clock", {"advance": 60})
    await client.control("POST", "/faults", {"endpoint": "token", "status": 500})

    status, state = await client.control("POST", "/reset")

    assert status == 200
    assert state["clock_offset_seconds"] == 0
    assert state["faults"] == {"token": [], "vehicles": []}
    assert state["counters"]["token"] == 0
    assert [car["vin"] for car in state["accounts"][0]["cars"]] == [I3S_VIN, IX_VIN]
    assert state["accounts"][0]["cars"][0]["state"] == "CHARGING"
    assert (await client.vehicles(token)).status == 401
    assert simulator.counts == {"token": 0, "vehicles": 1}
