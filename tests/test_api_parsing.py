"""Parsing of the service's JSON into the client's models, including odd and hostile input."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.orangepower_bmw.models import (
    ChargingStatus,
    Token,
    UnexpectedShapeError,
    Vehicle,
    parse_retry_after,
    parse_token,
    parse_vehicles,
)
from custom_components.orangepower_bmw.store import token_for_entry, token_from_entry
from tests.helpers import reference

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# The vehicle object exactly as the service's reference shows it.
REFERENCE_VEHICLE: dict[str, Any] = reference("vehicle")

REFERENCE_MODEL = Vehicle(
    vin="WBY7ZddD802daf16",
    brand="BMW",
    model="i3s 94 REX",
    year=2018,
    charging=ChargingStatus(
        percentage=82, state="NOT_CHARGING", type="CONDUCTIVE", charger_connected=False
    ),
    electric_range=121.0,
    electric_range_unit="KILOMETERS",
)


def with_fields(**changes: Any) -> dict[str, Any]:
    """Return the reference vehicle with top-level or charging_state fields replaced."""
    vehicle = {**REFERENCE_VEHICLE, "charging_state": {**REFERENCE_VEHICLE["charging_state"]}}
    for key, value in changes.items():
        if key in vehicle["charging_state"]:
            vehicle["charging_state"][key] = value
        else:
            vehicle[key] = value
    return vehicle


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("82", 82),
        (82, 82),
        (82.4, 82),
        ("  64 ", 64),
        ("82.6", 83),
        ("0", 0),
        ("100", 100),
        ("", None),
        ("n/a", None),
        (None, None),
        (True, None),
        (-1, None),
        (101, None),
        ("NaN", None),
        ("Infinity", None),
        (10**400, None),
        ([82], None),
    ],
)
def test_percentage_is_read_from_strings_and_numbers_or_left_unknown(
    raw: Any, expected: int | None
) -> None:
    (vehicle,) = parse_vehicles(with_fields(charge_percentage=raw))
    assert vehicle.charging.percentage == expected


@pytest.mark.parametrize(
    "body",
    [
        {"device_type": "bmw", "device_id": REFERENCE_MODEL.vin},
        {
            **REFERENCE_VEHICLE,
            **dict.fromkeys(("brand", "model", "year", "electric_range", "charging_state")),
        },
    ],
    ids=["missing", "null"],
)
def test_every_optional_field_missing_or_null_is_none_never_invented(body: dict[str, Any]) -> None:
    assert parse_vehicles(body) == [
        Vehicle(
            vin=REFERENCE_MODEL.vin,
            brand=None,
            model=None,
            year=None,
            charging=ChargingStatus(percentage=None, state=None, type=None, charger_connected=None),
            electric_range=None,
            electric_range_unit=None,
        )
    ]


def test_unknown_state_and_unit_are_kept_raw() -> None:
    vehicle_json = with_fields(state="SUPERCHARGING_V2", type="WIRELESS_X")
    vehicle_json["electric_range"] = {"distance": {"value": "75.5", "units": "FURLONGS"}}
    (vehicle,) = parse_vehicles(vehicle_json)
    assert vehicle.charging.state == "SUPERCHARGING_V2"
    assert vehicle.charging.type == "WIRELESS_X"
    assert (vehicle.electric_range, vehicle.electric_range_unit) == (75.5, "FURLONGS")


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), ("false", False), ("TRUE", True), (1, None), ("yes", None)]
)
def test_charger_connected_only_from_booleans(raw: Any, expected: bool | None) -> None:
    (vehicle,) = parse_vehicles(with_fields(is_charger_connected=raw))
    assert vehicle.charging.charger_connected is expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("2018", 2018), (2023.0, 2023), (2018.5, None), (0, None), ("new", None)]
)
def test_year(raw: Any, expected: int | None) -> None:
    (vehicle,) = parse_vehicles(with_fields(year=raw))
    assert vehicle.year == expected


def test_negative_range_is_unknown() -> None:
    vehicle_json = {
        **REFERENCE_VEHICLE,
        "electric_range": {"distance": {"value": -3, "units": "MILES"}},
    }
    assert parse_vehicles(vehicle_json)[0].electric_range is None


WITHOUT_VIN = {key: value for key, value in REFERENCE_VEHICLE.items() if key != "device_id"}


@pytest.mark.parametrize(
    ("body", "cars", "skipped"),
    [
        (REFERENCE_VEHICLE, 1, 0),
        ([REFERENCE_VEHICLE, REFERENCE_VEHICLE], 2, 0),
        ([], 0, 0),
        # Devices of other kinds are not cars, nor skipped.
        ([{"device_type": "ohme", "device_id": "charger-1"}, REFERENCE_VEHICLE], 1, 0),
        # An item without a VIN is skipped and counted; the others are shown.
        *(
            ([broken, REFERENCE_VEHICLE, broken], 1, 2)
            for broken in (
                WITHOUT_VIN,
                {**REFERENCE_VEHICLE, "device_id": "  "},
                {**REFERENCE_VEHICLE, "device_id": None},
                "a string",
                None,
                [REFERENCE_VEHICLE],
            )
        ),
    ],
)
def test_a_bare_object_or_a_list_gives_its_cars_and_counts_the_skipped(
    body: Any, cars: int, skipped: int
) -> None:
    vehicles = parse_vehicles(body)
    assert vehicles == [REFERENCE_MODEL] * cars
    assert vehicles.skipped == skipped


@pytest.mark.parametrize("missing", ["user_id", "device_type", "id"])
def test_a_car_without_another_required_field_is_still_a_car(missing: str) -> None:
    partial = {key: value for key, value in REFERENCE_VEHICLE.items() if key != missing}
    (vehicle,) = parse_vehicles([partial])
    assert vehicle.vin == REFERENCE_MODEL.vin
    assert vehicle.charging == REFERENCE_MODEL.charging


@pytest.mark.parametrize("charging_state", ["CHARGING", 82, [1, 2], None, True])
def test_a_charging_state_that_is_not_an_object_makes_only_its_values_unknown(
    charging_state: Any,
) -> None:
    (vehicle,) = parse_vehicles([{**REFERENCE_VEHICLE, "charging_state": charging_state}])
    assert vehicle.charging == ChargingStatus(None, None, None, None)
    assert vehicle.electric_range == REFERENCE_MODEL.electric_range


@pytest.mark.parametrize(
    "body",
    [
        "a string",
        42,
        None,
        True,
        WITHOUT_VIN,
        {"message": "ok"},
    ],
)
def test_wrong_shapes_are_unexpected(body: Any) -> None:
    with pytest.raises(UnexpectedShapeError):
        parse_vehicles(body)


def test_token_from_the_reference_example() -> None:
    token = parse_token(reference("token"), NOW)
    assert token.access_token == "YKJUUwmBXcQThWx7XzU7ddd4pyMZkd3tgWM"
    assert token.expires_at == NOW + timedelta(hours=8)
    assert "YKJU" not in repr(token)
    # Nothing uses the refresh token, type or scopes: the token does not keep them, nor the store.
    assert [field.name for field in fields(Token)] == ["access_token", "expires_at"]
    assert token_for_entry(token) == {
        "access_token": "YKJUUwmBXcQThWx7XzU7ddd4pyMZkd3tgWM",
        "expires_at": (NOW + timedelta(hours=8)).isoformat(),
    }
    assert token_from_entry(token_for_entry(token)) == token


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (None, timedelta(0)),
        (0, timedelta(0)),
        (-50, timedelta(0)),
        ("3600", timedelta(hours=1)),
        (10**12, timedelta(days=1)),
        ("soon", timedelta(0)),
    ],
)
def test_token_lifetime_odd_values_are_short_lived_or_capped(
    expires_in: Any, lifetime: timedelta
) -> None:
    token = parse_token({"access_token": "a", "expires_in": expires_in}, NOW)
    assert token.expires_at == NOW + lifetime


@pytest.mark.parametrize("body", [[], "token", {"access_token": ""}, {"access_token": 5}, {}])
def test_token_without_access_token_is_unexpected(body: Any) -> None:
    with pytest.raises(UnexpectedShapeError):
        parse_token(body, NOW)


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"access_token": "a"},
        {"access_token": "a", "expires_at": "yesterday"},
        {"access_token": "", "expires_at": NOW.isoformat()},
        {"access_token": "a", "expires_at": "2026-11-23T12:00:00"},
        {"access_token": "a", "expires_at": 5},
    ],
)
def test_unusable_stored_token_is_none(stored: dict[str, Any]) -> None:
    assert token_from_entry(stored) is None


def test_token_expiry_margin() -> None:
    token = parse_token({"access_token": "a", "expires_in": 600}, NOW)
    assert not token.expires_within(timedelta(minutes=5), NOW)
    assert token.expires_within(timedelta(minutes=5), NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Mon, 23 Nov 2026 12:02:00 GMT", 120.0),
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),
        # "-0000" is RFC 5322's "zone unknown": read as UTC all the same.
        ("Mon, 23 Nov 2026 12:01:30 -0000", 90.0),
        ("soon", None),
        ("²", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, NOW) == seconds


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_VALUES = JSON | st.sampled_from(["82", "bmw", "KILOMETERS", "MILES", "CHARGING", "", " "])
VEHICLE_JSON = st.fixed_dictionaries(
    {},
    optional={
        "user_id": FIELD_VALUES,
        "device_type": st.sampled_from(["bmw", "BMW", "other"]) | FIELD_VALUES,
        "device_id": FIELD_VALUES,
        "id": FIELD_VALUES,
        "model": FIELD_VALUES,
        "year": FIELD_VALUES,
        "brand": FIELD_VALUES,
        "electric_range": st.fixed_dictionaries(
            {},
            optional={
                "distance": st.fixed_dictionaries(
                    {}, optional={"value": FIELD_VALUES, "units": FIELD_VALUES}
                )
                | JSON
            },
        )
        | JSON,
        "charging_state": st.fixed_dictionaries(
            {},
            optional={
                "charge_percentage": FIELD_VALUES,
                "state": FIELD_VALUES,
                "type": FIELD_VALUES,
                "is_charger_connected": FIELD_VALUES,
            },
        )
        | JSON,
    },
)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VEHICLE_JSON, max_size=3) | VEHICLE_JSON | JSON)
def test_any_json_gives_models_or_the_unexpected_response_error(body: Any) -> None:
    try:
        vehicles = parse_vehicles(body)
    except UnexpectedShapeError:
        return
    for vehicle in vehicles:
        assert vehicle.vin
        percentage = vehicle.charging.percentage
        assert percentage is None or 0 <= percentage <= 100
        assert vehicle.electric_range is None or vehicle.electric_range >= 0


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    JSON
    | st.fixed_dictionaries({"access_token": FIELD_VALUES}, optional={"expires_in": FIELD_VALUES})
)
def test_any_json_gives_a_token_or_the_unexpected_response_error(body: Any) -> None:
    try:
        token = parse_token(body, NOW)
    except UnexpectedShapeError:
        return
    assert NOW <= token.expires_at <= NOW + timedelta(days=1)
