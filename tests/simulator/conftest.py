"""Fixtures for the simulator's tests: a simulator served on loopback and a small client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import aiohttp
import pytest

from simulator import Simulator, run_simulator
from tests.simulator.client import Client


@pytest.fixture
def simulator() -> Simulator:
    """Return a simulator of the default scenario."""
    return Simulator()


@pytest.fixture
async def serve(socket_enabled: None) -> AsyncIterator[Callable[[Simulator], Awaitable[Client]]]:
    """Return a function that serves a simulator on 127.0.0.1 and returns a client for it."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def start(simulator: Simulator) -> Client:
            return Client(session, await stack.enter_async_context(run_simulator(simulator)))

        yield start


@pytest.fixture
async def client(simulator: Simulator, serve: Callable[[Simulator], Awaitable[Client]]) -> Client:
    """Serve the default simulator and return a client for it."""
    return await serve(simulator)
