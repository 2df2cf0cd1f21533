"""Scenarios: the default one, files in JSON and YAML, and validation errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator import ScenarioError, Simulator, load_scenario, parse_scenario
from tests.simulator.client import charge, one_car as car, served

EXAMPLE = Path(__file__).parents[2] / "simulator" / "scenarios" / "three_cars.yaml"

SCENARIO: dict[str, Any] = {
    "token_lifetime": 600,
    "accounts": [
        {
            "email": "Driver@Example.com",
            "password": "pw",
            "account_email": "op@example.com",
            "cars": [
                {
                    "vin": "VIN1",
                    "vehicle_id": "bmw-id-1",
                    "brand": "MINI",
                    "model": "Cooper SE",
                    "year": 2021,
                    "units": "MILES",
                    "percentage": 50,
                    "range_per_percent": 1.2,
                    "charger_connected": True,
                    "charging": True,
                    "charging_type": "INDUCTIVE",
                    "charge_rate_per_hour": 25,
                    "state": "WAITING_FOR_CHARGING",
                    "overrides": {"__v": 3},
                }
            ],
        }
    ],
}


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_load_scenario_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scenario{suffix}"
    path.write_text(json.dumps(SCENARIO), encoding="utf-8")  # JSON is YAML too

    scenario = load_scenario(path)

    assert scenario.token_lifetime == 600
    [account] = scenario.accounts
    assert (account.email, account.account_email) == ("Driver@Example.com", "op@example.com")
    [car] = account.cars
    assert (car.vin, car.vehicle_id, car.brand) == ("VIN1", "bmw-id-1", "MINI")
    assert (car.charging_type, car.state) == ("INDUCTIVE", "WAITING_FOR_CHARGING")
    assert car.overrides == {"__v": 3}
    simulator = Simulator(scenario)
    [car_served] = served(simulator, "driver@example.com", "pw")
    assert charge(car_served) == ("50", "WAITING_FOR_CHARGING", True, 60)
    assert car_served["charging_state"]["type"] == "INDUCTIVE"
    assert car_served["electric_range"]["distance"]["units"] == "MILES"
    assert car_served["__v"] == 3
    assert simulator.issue_token("driver@example.com", "pw", "op@example.com")["expires_in"] == 600


def test_example_scenario_file() -> None:
    scenario = load_scenario(EXAMPLE)
    simulator = Simulator(scenario)

    assert [len(account.cars) for account in scenario.accounts] == [2, 1]
    first, second = scenario.accounts
    assert first.account_email == "household@example.com"
    assert second.account_email == second.email
    [car] = served(simulator, second.email, second.password)
    assert (car["model"], car["year"], car["electric_range"]) == (None, None, None)
    assert car["charging_state"] == {
        "charge_percentage": "12",
        "state": None,
        "type": None,
        "is_charger_connected": False,
    }
    assert car["id"] == "5e1f0a5c2b7d4c0e9a3f6b8d1c2e4f60"


def test_range_per_percent_in_kilometres() -> None:
    scenario = parse_scenario(car(range_per_percent=5))

    assert scenario.accounts[0].cars[0].km_per_percent == 5


ACCOUNT: dict[Any, Any] = {"email": "a", "password": "p"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "scenario: expected an object, got a list"),
        ({}, "accounts: required"),
        ({"accounts": []}, "accounts: needs at least one account"),
        ({"accounts": {}}, "accounts: expected a list, got an object"),
        ({"accounts": [None]}, r"accounts\[0\]: expected an object, got null"),
        ({"accounts": [{"email": "a@example.com"}]}, r"accounts\[0\].password: required"),
        (
            {"accounts": [{"email": " ", "password": "p"}]},
            r"accounts\[0\].email: expected a non-empty string, got the string ' '",
        ),
        ({"accounts": [{**ACCOUNT, 1: 2}]}, r"accounts\[0\]: every key must be a string"),
        ({"accounts": [{**ACCOUNT, "pin": 1}]}, r"accounts\[0\]: unknown field 'pin'"),
        ({"accounts": [ACCOUNT], "extra": 1}, "unknown field 'extra'"),
        (
            {"accounts": [ACCOUNT], "token_lifetime": 0},
            "token_lifetime: expected a whole number of at least 1, got the number 0",
        ),
        (
            {"accounts": [ACCOUNT], "token_lifetime": True},
            "token_lifetime: expected a whole number of at least 1, got a boolean",
        ),
        ({"accounts": [ACCOUNT, {"email": "A", "password": "q"}]}, "duplicate account email 'a'"),
        (
            car(year=None),
            r"accounts\[0\].cars\[0\].year: expected a whole number of at least 1900, got null",
        ),
        (
            car(year=20.5),
            r"cars\[0\].year: expected a whole number of at least 1900, got the number 20.5",
        ),
        (car(percentage=float("nan")), r"cars\[0\].percentage: expected a number from 0 to 100"),
        (car(units="km"), r"cars\[0\].units: expected KILOMETERS or MILES, got the string 'km'"),
        (car(charging=True), r"cars\[0\]: a car cannot be charging while its charger is unplugged"),
        (
            car(km_per_percent=4, range_per_percent=4),
            "give km_per_percent or range_per_percent, not both",
        ),
        (car(overrides="x"), r"cars\[0\].overrides: expected an object, got the string 'x'"),
        (car(state=""), r"cars\[0\].state: expected a non-empty string or null"),
        (car(colour="blue"), r"cars\[0\]: unknown field 'colour'"),
        (
            car(charge_rate_per_hour=-1),
            r"cars\[0\].charge_rate_per_hour: expected a number from 0, got the number -1",
        ),
    ],
)
def test_invalid_scenarios(data: Any, error: str) -> None:
    with pytest.raises(ScenarioError, match=error):
        parse_scenario(data)


@pytest.mark.parametrize(
    ("vin", "vehicle_id", "error"),
    [("V", "other", "duplicate car vin 'V'"), ("W", "same", "duplicate car vehicle_id 'same'")],
)
def test_duplicate_vins_and_vehicle_ids(vin: str, vehicle_id: str, error: str) -> None:
    """Across accounts: a car of account a (vin V, vehicle_id same) and one of account b."""
    second = {"vin": vin, "vehicle_id": vehicle_id, "model": "i5", "year": 2024}
    scenario = car({"email": "b@example.com", "password": "p", "cars": [second]}, vehicle_id="same")

    with pytest.raises(ScenarioError, match=error):
        parse_scenario(scenario)


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("s.json", "{oops", r"s.json: not valid JSON: Expecting property name"),
        ("s.yaml", "accounts: [", r"s.yaml: not valid YAML: "),
        ("s.yaml", "accounts: 5", r"s.yaml: accounts: expected a list, got the number 5"),
        ("s.toml", "", r"s.toml: a scenario file must end in .json, .yaml or .yml"),
        ("missing.yaml", None, r"missing\.yaml: cannot read: No such file or directory"),
    ],
)
def test_bad_scenario_files(tmp_path: Path, name: str, text: str | None, error: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")

    with pytest.raises(ScenarioError, match=error) as err:
        load_scenario(path)
    assert "\n" not in str(err.value)
