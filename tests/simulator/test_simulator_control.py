"""The /_simulator control API over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    keys = "clock clock_offset_seconds token_lifetime accounts tokens faults counters"
    assert list(state) == keys.split()
    [account] = state["accounts"]
    assert account["email"] == account["account_email"] == DEMO_EMAIL
    assert account["password"] == DEMO_PASSWORD
    i3s = account["cars"][0]
    assert i3s["vin"] == I3S_VIN
    assert (i3s["percentage"], i3s["charging"], i3s["state"]) == (approx(45), True, "CHARGING")
    assert i3s["vehicle"]["device_id"] == I3S_VIN
    [token] = state["tokens"]
    assert (token["email"], token["expired"]) == (DEMO_EMAIL, False)
    assert state["faults"]["vehicles"][0]["status"] == 503
    assert state["counters"]["token"] == 1
    assert datetime.fromisoformat(state["clock"]).tzinfo is not None


@pytest.mark.parametrize("method", ["PATCH", "POST"])
async def test_update_car(client: Client, method: str) -> None:
    """Without a body nothing changes; with one, the fields given and the served car with them."""
    status, unchanged = await client.control(method, f"/cars/{IX_VIN}")
    assert (status, unchanged["percentage"], unchanged["state"]) == (200, 64, "NOT_CHARGING")
    changes = {
        "percentage": 80,
        "charger_connected": True,
        "charging": True,
        "charging_type": "INDUCTIVE",
        "units": "KILOMETERS",
    }

    status, car = await client.control(method, f"/cars/{IX_VIN}", changes)

    assert (status, car["percentage"], car["charging"]) == (200, approx(80), True)
    assert car["vehicle"]["charging_state"] == {
        "charge_percentage": "80",
        "state": "CHARGING",
        "type": "INDUCTIVE",
        "is_charger_connected": True,
    }
    assert car["vehicle"]["electric_range"]["distance"] == {"value": 483, "units": "KILOMETERS"}


async def test_expire_tokens(simulator: Simulator, client: Client) -> None:
    token = await client.login()

    status, answer = await client.control("POST", "/tokens/expire")

    assert (status, answer) == (200, {"expired": 1})
    assert simulator.expire_tokens() == 0
    response = await client.vehicles(token)
    expired = {"error": "token expired", "status": 401}
    assert (response.status, await response.json()) == (401, expired)
    assert (await client.vehicles(await client.login())).status == 200


async def test_clock(simulator: Simulator, client: Client) -> None:
    status, before = await client.control("GET", "/clock")
    assert (status, before["offset_seconds"]) == (200, 0)

    status, after = await client.control("POST", "/clock", {"advance": 7200})

    assert (status, after["offset_seconds"]) == (200, 7200)
    moved = datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"])
    assert 7200 <= moved.total_seconds() < 7260
    assert (await client.cars())[I3S_VIN]["charging_state"]["charge_percentage"] == "65"


async def test_reset_restores_the_scenario(simulator: Simulator, client: Client) -> None:
    token = await client.login()
    await client.control("POST", f"/cars/{I3S_VIN}/unplug")
    await client.control("DELETE", f"/cars/{IX_VIN}")
    await client.control("POST", "/clock", {"advance": 60})
    await client.control("POST", "/faults", {"endpoint": "token", "status": 500})
    await client.control("POST", f"/accounts/{DEMO_EMAIL}/password", {"password": "changed"})
    simulator.token_lifetime = 5

    status, state = await client.control("POST", "/reset")

    assert status == 200
    assert state["clock_offset_seconds"] == 0
    assert state["tokens"] == []
    assert state["faults"] == {"token": [], "vehicles": []}
    assert state["counters"] == {
        "token": 0,
        "vehicles": 0,
        "by_status": {"token": {}, "vehicles": {}},
    }
    assert state["token_lifetime"] == 28800
    [account] = state["accounts"]
    assert account["password"] == DEMO_PASSWORD
    assert [car["vin"] for car in account["cars"]] == [I3S_VIN, IX_VIN]
    assert (account["cars"][0]["state"], account["cars"][0]["charging"]) == ("CHARGING", True)
    assert account["cars"][0]["percentage"] == approx(45)
    assert (await client.vehicles(token)).status == 401
    assert simulator.counts == {"token": 0, "vehicles": 1}


def what_a_refusal_must_not_change(state: dict[str, Any]) -> object:
    """Return the parts of the state a refused request must leave as they were."""
    cars = [
        (car["vin"], car["charger_connected"], car["charging"], car["state"])
        for account in state["accounts"]
        for car in account["cars"]
    ]
    passwords = [account["password"] for account in state["accounts"]]
    return cars, passwords, state["clock_offset_seconds"], state["faults"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", f"/cars/{IX_VIN}/start_charging", None, 409, f"car {IX_VIN} is not plugged in"),
        (
            "PATCH",
            f"/cars/{I3S_VIN}",
            {"percentage": -5},
            400,
            f"car {I3S_VIN}.percentage: expected a number from 0 to 100, got the number -5",
        ),
        ("PATCH", f"/cars/{I3S_VIN}", b"{oops", 400, "the body is not valid JSON"),
        ("POST", f"/accounts/{DEMO_EMAIL}/cars", {"vin": "X"}, 400, "car.model: required"),
        ("POST", "/cars/NOPE/plug", None, 404, None),
        ("PATCH", "/cars/NOPE", None, 404, None),
        ("DELETE", "/cars/NOPE", None, 404, None),
        ("POST", "/accounts/nobody@example.com/password", {"password": "x"}, 404, None),
        *(
            ("POST", f"/accounts/{DEMO_EMAIL}/password", body, 400, None)
            for body in ({}, {"password": ""}, {"password": 5}, {"password": "x", "y": 1})
        ),
        *(
            ("POST", "/clock", body, 400, None)
            for body in ({"advance": -1}, {"advance": "1"}, {"back": 1}, [1])
        ),
    ],
    ids=repr,
)
async def test_a_refused_request_says_why_and_changes_nothing(
    client: Client, method: str, path: str, body: object, status: int, error: str | None
) -> None:
    before = what_a_refusal_must_not_change((await client.control("GET", "/state"))[1])
    answered, answer = await client.control(method, path, body)

    assert (answered, answer["status"]) == (status, status)
    if error is not None:
        assert answer == {"error": error, "status": status}
    after = what_a_refusal_must_not_change((await client.control("GET", "/state"))[1])
    assert after == before
    assert (await client.token()).status == 200
