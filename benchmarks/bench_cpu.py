"""CPU time and memory of a poll for 1 to 500 cars on one account.

The simulator serves the account over loopback from its own thread, so the thread_time() of Home
Assistant's event loop thread is the poll's cost to Home Assistant alone (client, parse, coordinator,
entity state writes); process_time() adds the simulator's side. Medians of several polls after a
warm-up. Memory: what setting the account up and polling it a few times left allocated
(tracemalloc), after a first account has paid the one-off costs (platforms, translations).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import gc
import json
import time
import tracemalloc

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks.common import (
    car,
    config_entry,
    median,
    record,
    scenario,
    set_up,
    threaded_simulator,
)
from custom_components.orangepower_bmw.api import parse_vehicles
from custom_components.orangepower_bmw.const import DOMAIN
from simulator import Simulator

EMAIL = "fleet@example.com"
WARM_UP_EMAIL = "first@example.com"
# Home Assistant refuses more than 10,000 enabled entities per config entry: 500 cars stay below.
SIZES = (1, 10, 100, 500)
WARM_UP_POLLS = 3
POLLS = 11
MEMORY_POLLS = 10
PARSE_SAMPLES = 15
# Where the memory an account's cars hold goes, by the source file that allocated it.
MEMORY_GROUPS = (
    ("integration", ("custom_components/orangepower_bmw/",)),
    ("entity registry", ("helpers/entity_registry.py",)),
    ("device registry", ("helpers/device_registry.py", "device_registry.DeviceEntry")),
    ("states", ("homeassistant/core.py",)),
    (
        "entity platform",
        (
            "helpers/entity.py",
            "helpers/entity_platform.py",
            "components/sensor/",
            "components/binary_sensor/",
        ),
    ),
    ("event listeners", ("helpers/event.py",)),
    ("registry JSON kept after a save", ("helpers/json.py",)),
    ("coordinator listeners", ("helpers/update_coordinator.py",)),
)
# Each parse sample repeats the parse until it has taken about this long, for a stable figure.
PARSE_SAMPLE_SECONDS = 0.05


def fleet(cars: int, first: int = 0) -> list[dict[str, object]]:
    """Return cars with distinct models, so Home Assistant needs no numbered entity ids.

    Identically named devices make Home Assistant try entity_id, entity_id_2, ... for each new
    entity, a first-setup cost quadratic in the number of cars that bench_setup_same_names shows.
    """
    return [car(index, model=f"i4 eDrive40 {index}") for index in range(first, first + cars)]


def served_body(simulator: Simulator, email: str) -> bytes:
    """Return the vehicles body the simulator serves for an account."""
    account = simulator.account(email)
    return json.dumps([item.vehicle(account.user_id) for item in account.cars]).encode()


async def timed_poll(
    hass: HomeAssistant, refresh: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    """Return the process and event-loop-thread CPU seconds of one poll and its state writes."""
    process, thread = time.process_time(), time.thread_time()
    await refresh()
    await hass.async_block_till_done()
    return time.process_time() - process, time.thread_time() - thread


def parse_samples(bodies: dict[int, bytes]) -> dict[int, float]:
    """Return the median CPU seconds of parse_vehicles(json.loads(body)) for each body.

    The sizes take turns, so that whatever else the machine does weighs on all of them alike. The
    garbage collector is off while timing, as timeit does.
    """
    repeats = {}
    for cars, body in bodies.items():
        start = time.process_time()
        parse_vehicles(json.loads(body))
        once = max(time.process_time() - start, 1e-6)
        repeats[cars] = max(1, round(PARSE_SAMPLE_SECONDS / once))
    samples: dict[int, list[float]] = {cars: [] for cars in bodies}
    gc.collect()
    gc.disable()
    try:
        for _ in range(PARSE_SAMPLES):
            for cars, body in bodies.items():
                start = time.process_time()
                for _ in range(repeats[cars]):
                    parse_vehicles(json.loads(body))
                samples[cars].append((time.process_time() - start) / repeats[cars])
    finally:
        gc.enable()
    return {cars: median(values) for cars, values in samples.items()}


def accounts() -> list[tuple[str, list[dict[str, object]]]]:
    """Return one account per size, with cars numbered apart so that every VIN is unique."""
    first = 0
    made = []
    for cars in SIZES:
        made.append((f"fleet-{cars}@example.com", fleet(cars, first)))
        first += cars
    return made


def is_account_entity(entity: er.RegistryEntry, entry: MockConfigEntry) -> bool:
    """Return whether the entity is the account's own (requests today, next update), not a car's."""
    return entity.unique_id.startswith(f"{entry.entry_id}_")


def enabled_entities(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    """Return the enabled entities of the entry's cars (the account's own are not counted)."""
    registry = er.async_get(hass)
    return sum(
        entity.disabled_by is None and not is_account_entity(entity, entry)
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
    )


async def test_parse_cpu() -> None:
    simulator = Simulator(scenario(*accounts()))
    bodies = {
        len(account.cars): served_body(simulator, account.email) for account in simulator.accounts
    }
    for cars, seconds in parse_samples(bodies).items():
        record("parse", str(cars), {"body_bytes": len(bodies[cars]), "parse_s": seconds})
        print(f"\nparse {cars} cars ({len(bodies[cars])} bytes): {seconds * 1000:.3f} ms")


async def test_poll_cpu(
    hass: HomeAssistant, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """Poll one account per size in turns, so that other work on the machine weighs on all alike."""
    simulator = Simulator(scenario(*accounts()))
    setup: dict[int, float] = {}
    entries: dict[int, MockConfigEntry] = {}
    with threaded_simulator(simulator) as url:
        for email, cars in accounts():
            entries[len(cars)] = entry = config_entry(url, email)
            start = time.process_time()
            await set_up(hass, entry)
            setup[len(cars)] = time.process_time() - start
        for _ in range(WARM_UP_POLLS):
            for entry in entries.values():
                await timed_poll(hass, entry.runtime_data.async_refresh)
        unchanged: dict[int, list[tuple[float, float]]] = {cars: [] for cars in entries}
        changed: dict[int, list[tuple[float, float]]] = {cars: [] for cars in entries}
        for poll in range(POLLS):
            for cars, entry in entries.items():
                unchanged[cars].append(await timed_poll(hass, entry.runtime_data.async_refresh))
            for account in simulator.accounts:
                for item in account.cars:
                    simulator.update_car(item.vin, percentage=41 + poll % 2)
            for cars, entry in entries.items():
                changed[cars].append(await timed_poll(hass, entry.runtime_data.async_refresh))
        entities = {cars: enabled_entities(hass, entry) for cars, entry in entries.items()}
        for cars, entry in entries.items():
            assert {
                vehicle.charging.percentage for vehicle in entry.runtime_data.data.values()
            } == {41 + (POLLS - 1) % 2}
            # Every car of every size has all its entities: none was refused.
            assert entities[cars] == entities[1] * cars
            assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()

    for cars in entries:
        figures = {
            "entities": entities[cars],
            "setup_process_s": setup[cars],
            "poll_unchanged_process_s": median([process for process, _ in unchanged[cars]]),
            "poll_unchanged_thread_s": median([thread for _, thread in unchanged[cars]]),
            "poll_changed_process_s": median([process for process, _ in changed[cars]]),
            "poll_changed_thread_s": median([thread for _, thread in changed[cars]]),
        }
        record("cpu", str(cars), figures)
        print(f"\n{cars} cars: {figures}")


async def test_first_setup_same_names(
    hass: HomeAssistant, enable_custom_integrations: None, socket_enabled: None
) -> None:
    """Time the first setup of the largest account with one model for all cars, hence the same names."""
    cars = max(SIZES)
    simulator = Simulator(scenario((EMAIL, [car(index) for index in range(cars)])))
    with threaded_simulator(simulator) as url:
        entry = config_entry(url, EMAIL)
        start = time.process_time()
        await set_up(hass, entry)
        seconds = time.process_time() - start
        registry = er.async_get(hass)
        # Every car has its battery level: none was refused for its name.
        assert (
            sum(
                entity.unique_id.endswith("_battery")
                and hass.states.get(entity.entity_id) is not None
                for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
            )
            == cars
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    record("setup_same_names", str(cars), {"setup_process_s": seconds})
    print(f"\nfirst setup of {cars} identically named cars: {seconds:.2f} s")


def grouped(stats: list[tracemalloc.StatisticDiff]) -> dict[str, int]:
    """Return the retained bytes per part of Home Assistant, by the file that allocated them."""
    sizes = dict.fromkeys([name for name, _ in MEMORY_GROUPS] + ["other"], 0)
    for stat in stats:
        filename = stat.traceback[0].filename
        name = next(
            (name for name, parts in MEMORY_GROUPS if any(part in filename for part in parts)),
            "other",
        )
        sizes[name] += stat.size_diff
    return sizes


async def flush_storage(hass: HomeAssistant, hass_storage: dict[str, object]) -> None:
    """Make every pending delayed save now, and drop the test harness's copy of what it wrote.

    In production a save goes to disk; the harness would keep it in memory and count it. A save
    leaves each registry entry holding its JSON form, as it does in production.
    """
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    hass_storage.clear()
    gc.collect()


def retained_vehicles_bytes(body: bytes) -> int:
    """Return the bytes the coordinator's data (the parsed cars by VIN) holds for this body."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        data = {vehicle.vin: vehicle for vehicle in parse_vehicles(json.loads(body))}
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert data
    return retained


@pytest.mark.parametrize("cars", SIZES)
async def test_memory_per_car(
    hass: HomeAssistant,
    hass_storage: dict[str, object],
    enable_custom_integrations: None,
    socket_enabled: None,
    cars: int,
) -> None:
    simulator = Simulator(scenario((WARM_UP_EMAIL, fleet(1, 100_000)), (EMAIL, fleet(cars))))
    with threaded_simulator(simulator) as url:
        await set_up(hass, config_entry(url, WARM_UP_EMAIL))
        entry = config_entry(url, EMAIL)
        await flush_storage(hass, hass_storage)
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            await set_up(hass, entry)
            for _ in range(WARM_UP_POLLS):
                await entry.runtime_data.async_refresh()
                await hass.async_block_till_done()
            await flush_storage(hass, hass_storage)
            after_setup = tracemalloc.take_snapshot()
            for _ in range(MEMORY_POLLS):
                await entry.runtime_data.async_refresh()
                await hass.async_block_till_done()
            await flush_storage(hass, hass_storage)
            after_polls = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        assert len(entry.runtime_data.data) == cars
        for each in hass.config_entries.async_entries(DOMAIN):
            assert await hass.config_entries.async_unload(each.entry_id)
        await hass.async_block_till_done()

    parts = grouped(after_setup.compare_to(before, "filename"))
    retained = sum(parts.values())
    figures = {
        "retained_bytes": retained,
        "per_car_bytes": retained / cars,
        "parts_per_car_bytes": {name: size / cars for name, size in parts.items()},
        "coordinator_data_per_car_bytes": retained_vehicles_bytes(served_body(simulator, EMAIL))
        / cars,
        "growth_over_polls_bytes": sum(
            stat.size_diff for stat in after_polls.compare_to(after_setup, "filename")
        ),
        "polls": MEMORY_POLLS,
    }
    record("memory", str(cars), figures)
    print(f"\n{cars} cars: {figures}")
