"""Cars: charging with the clock, plugging, changes, adding and removing, and password changes."""

from __future__ import annotations

import re

from freezegun.api import FrozenDateTimeFactory
import pytest

from simulator import ScenarioError, Simulator, SimulatorError, parse_scenario
from tests.simulator.client import DEMO_EMAIL, I3S_VIN, IX_VIN, Client, Serve, charge, one_car


@pytest.mark.parametrize("reads", [1, 6])
async def test_charging_car_gains_ten_percent_an_hour(
    simulator: Simulator, client: Client, reads: int
) -> None:
    """The same whether the hour is read once or six times on the way; the range follows."""
    for _ in range(reads):
        simulator.clock.advance(3600 / reads)
        cars = await client.cars()

    assert charge(cars[I3S_VIN]) == ("55", "CHARGING", True, 81)
    assert charge(cars[IX_VIN]) == ("64", "NOT_CHARGING", False, 240)


async def test_charging_stops_fully_charged_at_100(simulator: Simulator, client: Client) -> None:
    simulator.clock.advance(5.4 * 3600)
    assert charge((await client.cars())[I3S_VIN]) == ("99", "CHARGING", True, 147)

    simulator.clock.advance(3 * 3600)
    assert charge((await client.cars())[I3S_VIN]) == ("100", "FULLY_CHARGED", True, 148)
    assert simulator.car(I3S_VIN).charging is False
    simulator.update_car(I3S_VIN, percentage=90)
    simulator.clock.advance(3600)
    assert charge((await client.cars())[I3S_VIN]) == ("90", "PLUGGED_IN", True, 133)


def test_at_a_demo_speed_a_charge_moves_faster_and_starts_over_when_full() -> None:
    simulator = Simulator(demo_speed=6)
    # 10 % an hour, six times faster: 1 % a minute from 45 %.
    simulator.clock.advance(10 * 60)
    assert simulator.car(I3S_VIN).charge_percentage == 55
    # Full after 55 minutes: shown full for five minutes, then it starts over from 45 %.
    simulator.clock.advance(46 * 60)
    car = simulator.car(I3S_VIN)
    assert (car.charge_percentage, car.state) == (100, "FULLY_CHARGED")
    simulator.clock.advance(5 * 60)
    car = simulator.car(I3S_VIN)
    assert (car.charge_percentage, car.state) == (45, "CHARGING")
    # An unplugged car does not move.
    assert simulator.car(IX_VIN).charge_percentage == 64


@pytest.mark.parametrize("step", ["unplug", "stop_charging", "update_car"])
def test_a_demos_full_charge_taken_over_by_hand_does_not_start_over(step: str) -> None:
    simulator = Simulator(demo_speed=6)
    simulator.clock.advance(56 * 60)
    if step == "update_car":
        simulator.update_car(I3S_VIN, percentage=100)
    else:
        getattr(simulator, step)(I3S_VIN)
    simulator.clock.advance(10 * 60)
    assert simulator.car(I3S_VIN).charge_percentage == 100


def test_a_full_scenario_car_at_a_demo_speed_starts_over_lower() -> None:
    scenario = one_car(percentage=100, charger_connected=True, charging=True)
    simulator = Simulator(parse_scenario(scenario), demo_speed=6)
    simulator.clock.advance(6 * 60)
    car = simulator.car("V")
    assert (car.charge_percentage, car.state) == (80, "CHARGING")


async def test_clock_follows_frozen_time(
    simulator: Simulator, client: Client, freezer: FrozenDateTimeFactory
) -> None:
    simulator.reset()
    freezer.tick(1800)

    assert charge((await client.cars())[I3S_VIN])[0] == "50"


# Each action on the i3s over the control API: the car it answers with (plugged in, charging,
# served state), the time that passes after it, and the car served then.
ACTIONS = [
    ("unplug", (False, False, "NOT_CHARGING"), 3600, ("45", "NOT_CHARGING", False, 67)),
    ("plug", (True, False, "PLUGGED_IN"), 3600, ("45", "PLUGGED_IN", True, 67)),
    ("start_charging", (True, True, "CHARGING"), 1800, ("50", "CHARGING", True, 74)),
    ("stop_charging", (True, False, "PLUGGED_IN"), 1800, ("50", "PLUGGED_IN", True, 74)),
]


async def test_unplug_stops_charging_and_plug_does_not_start_it(
    simulator: Simulator, client: Client
) -> None:
    """The control API answers with the car; the level moves only while it charges."""
    for action, answered, seconds, then_served in ACTIONS:
        status, car = await client.control("POST", f"/cars/{I3S_VIN}/{action}")
        state = car["vehicle"]["charging_state"]["state"]
        assert (status, (car["charger_connected"], car["charging"], state)) == (200, answered)
        simulator.clock.advance(seconds)
        assert charge((await client.cars())[I3S_VIN]) == then_served


def test_update_car_cannot_charge_unplugged_and_unplugging_stops_charging(
    simulator: Simulator,
) -> None:
    """Charging needs the charger (start_charging's 409 is in the control API's refusals)."""
    with pytest.raises(SimulatorError, match="cannot charge while unplugged"):
        simulator.update_car(IX_VIN, charging=True)
    with pytest.raises(SimulatorError, match="cannot charge while unplugged"):
        simulator.update_car(I3S_VIN, charging=True, charger_connected=False)
    assert simulator.car(IX_VIN).charging is False
    assert simulator.car(I3S_VIN).charger_connected is True

    car = simulator.update_car(I3S_VIN, charger_connected=False)

    assert (car.charger_connected, car.charging, car.state) == (False, False, "NOT_CHARGING")


async def test_state_override_wins_until_cleared(simulator: Simulator, client: Client) -> None:
    """Set over the control API, whose answer shows it."""
    waiting = "WAITING_FOR_CHARGING"
    status, car = await client.control("PATCH", f"/cars/{I3S_VIN}", {"state": waiting})
    assert (status, car["state_override"], car["state"]) == (200, waiting, waiting)
    simulator.unplug(I3S_VIN)
    assert (await client.cars())[I3S_VIN]["charging_state"]["state"] == waiting

    simulator.update_car(I3S_VIN, state=None)

    assert (await client.cars())[I3S_VIN]["charging_state"]["state"] == "NOT_CHARGING"


async def test_overrides_are_deep_merged_and_null_makes_a_field_null(
    simulator: Simulator, client: Client
) -> None:
    simulator.update_car(
        IX_VIN,
        overrides={
            "model": None,
            "electric_range": {"distance": {"value": None}},
            "charging_state": {"charge_percentage": 64.5},
            "extra": {"new": [1, 2]},
        },
    )

    car = (await client.cars())[IX_VIN]

    assert car["model"] is None
    assert car["electric_range"] == {"distance": {"value": None, "units": "MILES"}}
    assert car["charging_state"]["charge_percentage"] == 64.5
    assert car["charging_state"]["state"] == "NOT_CHARGING"
    assert car["extra"] == {"new": [1, 2]}
    simulator.update_car(IX_VIN, overrides={})
    assert (await client.cars())[IX_VIN]["model"] == "iX xDrive50"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"percentage": 101}, "percentage: expected a number from 0 to 100, got the number 101"),
        ({"percentage": "50"}, "percentage: expected a number from 0 to 100, got the string '50'"),
        ({"units": "FURLONGS"}, "units: expected KILOMETERS or MILES, got the string 'FURLONGS'"),
        ({"charger_connected": "yes"}, "charger_connected: expected true or false"),
        ({"overrides": [1]}, "overrides: expected an object, got a list"),
        ({"colour": "blue"}, "unknown field 'colour'"),
    ],
)
def test_update_car_rejects_bad_fields(fields: dict[str, object], error: str) -> None:
    simulator = Simulator()

    with pytest.raises(ScenarioError, match=error):
        simulator.update_car(IX_VIN, **fields)
    assert simulator.car(IX_VIN).percentage == 64


async def test_add_and_remove_a_car(simulator: Simulator, client: Client) -> None:
    """In Python and over the control API, each served at once, or no more."""
    car = simulator.add_car(
        " DEMO@example.com",
        {"vin": "WBA00000000000001", "model": "i5 eDrive40", "year": 2024, "percentage": 20},
    )
    status, added = await client.control(
        "POST",
        "/accounts/demo%40example.com/cars",
        {"vin": "WBA00000000000002", "model": "i7 xDrive60", "year": 2023, "units": "MILES"},
    )
    units = added["vehicle"]["electric_range"]["distance"]["units"]
    assert (status, added["account"], units) == (201, DEMO_EMAIL, "MILES")
    assert car.spec.vehicle_id != simulator.car(I3S_VIN).spec.vehicle_id
    cars = await client.cars()
    assert list(cars) == [I3S_VIN, IX_VIN, "WBA00000000000001", "WBA00000000000002"]
    assert charge(cars["WBA00000000000001"]) == ("20", "NOT_CHARGING", False, 80)

    simulator.remove_car(I3S_VIN)
    status, answer = await client.control("DELETE", "/cars/WBA00000000000002")

    assert (status, answer) == (200, {"removed": "WBA00000000000002"})
    assert list(await client.cars()) == [IX_VIN, "WBA00000000000001"]
    with pytest.raises(SimulatorError, match="no car with vin"):
        simulator.plug(I3S_VIN)


@pytest.mark.parametrize(
    ("email", "car", "status", "error"),
    [
        ("nobody@example.com", {"vin": "Y"}, 404, "no account 'nobody@example.com'"),
        (DEMO_EMAIL, {"vin": IX_VIN}, 409, f"a car with vin '{IX_VIN}' already exists"),
        (DEMO_EMAIL, {"vin": "Y", "vehicle_id": "V"}, 409, "vehicle_id 'V' already exists"),
    ],
)
def test_add_car_to_an_unknown_account_or_with_a_taken_vin_or_vehicle_id(
    email: str, car: dict[str, str], status: int, error: str
) -> None:
    simulator = Simulator()
    simulator.add_car(DEMO_EMAIL, {"vin": "X", "vehicle_id": "V", "model": "i5", "year": 2024})

    with pytest.raises(SimulatorError, match=re.escape(error)) as err:
        simulator.add_car(email, {**car, "model": "i5", "year": 2024})

    assert err.value.status == status
    assert [car.vin for car in simulator.accounts[0].cars] == [I3S_VIN, IX_VIN, "X"]


async def test_password_change_keeps_tokens_but_needs_the_new_password(
    simulator: Simulator, client: Client
) -> None:
    token = await client.login()

    status, account = await client.control(
        "POST", f"/accounts/{DEMO_EMAIL}/password", {"password": "new-password"}
    )

    assert (status, account["password"]) == (200, "new-password")
    assert (await client.token()).status == 401
    assert (await client.vehicles(token)).status == 401
    assert (await client.vehicles(token, password="new-password")).status == 200
    assert (await client.token(password="new-password")).status == 200
    with pytest.raises(SimulatorError, match="must not be empty"):
        simulator.set_password(DEMO_EMAIL, "")


def test_clock_only_moves_forward() -> None:
    simulator = Simulator()

    with pytest.raises(SimulatorError, match="only moves forward"):
        simulator.clock.advance(-1)
    assert simulator.clock.offset_seconds == 0


# A second account for one_car's scenario, to share its car V with.
SECONDARY = {"email": "b@example.com", "password": "q"}


async def test_a_shared_car_is_one_car_served_to_both_accounts(serve: Serve) -> None:
    """One car: a change shows on both accounts, each with its own user id."""
    simulator = Simulator(parse_scenario(one_car({**SECONDARY, "shared_cars": ["V"]})))
    client = await serve(simulator)
    simulator.plug("V")

    primary = await client.cars("a@example.com", "p")
    secondary = await client.cars("b@example.com", "q")

    assert list(primary) == list(secondary) == ["V"]
    [primary_car], [secondary_car] = primary.values(), secondary.values()
    assert primary_car["charging_state"]["is_charger_connected"] is True
    assert secondary_car["charging_state"]["is_charger_connected"] is True
    assert primary_car["user_id"] != secondary_car["user_id"]


async def test_share_and_remove_a_car_per_account(serve: Serve) -> None:
    simulator = Simulator(parse_scenario(one_car(SECONDARY)))
    client = await serve(simulator)

    status, _ = await client.control("POST", "/accounts/b@example.com/shared_cars", {"vin": "V"})
    assert status == 201
    assert [car.vin for car in simulator.account("b@example.com").cars] == ["V"]
    with pytest.raises(SimulatorError, match="already has a car") as twice:
        simulator.share_car("V", "b@example.com")
    assert twice.value.status == 409

    status, _ = await client.control("DELETE", "/cars/V?account=a@example.com")
    assert status == 200
    assert await client.cars("a@example.com", "p") == {}
    assert [car.vin for car in simulator.account("b@example.com").cars] == ["V"]
    with pytest.raises(SimulatorError, match="has no car") as gone:
        simulator.remove_car("V", "a@example.com")
    assert gone.value.status == 404

    simulator.remove_car("V")
    assert simulator.account("b@example.com").cars == []


@pytest.mark.parametrize(
    ("shared", "error"),
    [
        (["NOWHERE"], "b@example.com: shared car 'NOWHERE' is not on any account"),
        (["V", "V"], "duplicate car vin 'V'"),
        ([""], "a list of strings"),
        ("V", "a list of strings"),
    ],
)
def test_shared_cars_must_be_cars_of_another_account(shared: object, error: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(error)):
        parse_scenario(one_car({**SECONDARY, "shared_cars": shared}))
