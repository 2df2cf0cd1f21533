"""Fixtures for the simulator's tests: a simulator served on loopback and a small client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest

from simulator import Simulator, run_simulator
from tests.simulator.client import Client, Serve


@pytest.fixture
def simulator() -> Simulator:
    """Return a simulator of the default scenario."""
    return Simulator()


@pytest.fixture
async def serve(socket_enabled: None) -> AsyncIterator[Serve]:
    """Return a function that serves a simulator on 127.0.0.1 and returns a client for it."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def start(simulator: Simulator) -> Client:
            return Client(session, await stack.enter_async_context(run_simulator(simulator)))

        yield start


@pytest.fixture
async def client(simulator: Simulator, serve: Serve) -> Client:
    """Serve the default simulator and return a client for it."""
    return await serve(simulator)
