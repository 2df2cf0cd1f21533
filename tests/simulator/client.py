"""A small client for a served simulator, and helpers to build scenarios and log in in Python."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from simulator import Simulator

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
I3S_VIN = "WBY7Z8C5XJV123456"
IX_VIN = "WBY21CF0XPC654321"

# The serve fixture: serves a simulator on loopback and returns a client for it.
type Serve = Callable[[Simulator], Awaitable[Client]]


def one_car(*others: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a scenario: account a@example.com (password p) with one car, vin V, then others."""
    car = {"vin": "V", "model": "i4", "year": 2022, **fields}
    return {"accounts": [{"email": "a@example.com", "password": "p", "cars": [car]}, *others]}


def charge(car: dict[str, Any]) -> tuple[str, str, bool, int]:
    """Return a served car's percentage, state, plug and range."""
    state = car["charging_state"]
    return (
        state["charge_percentage"],
        state["state"],
        state["is_charger_connected"],
        car["electric_range"]["distance"]["value"],
    )


def served(
    simulator: Simulator, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD
) -> list[dict[str, Any]]:
    """Log in in Python and return the account's cars as the vehicles endpoint serves them."""
    token = simulator.issue_token(email, password, simulator.account(email).account_email)
    return simulator.vehicles(simulator.check_token(str(token["access_token"])), email, password)


class Client:
    """Talks to a served simulator: the service's endpoints and the control API."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def request(
        self, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Send a request (bytes as they are, anything else as JSON) and read the whole answer."""
        if isinstance(body, bytes):
            kwargs["data"] = body
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.url + path, **kwargs) as response:
            await response.read()
        return response

    async def token(
        self,
        email: str = DEMO_EMAIL,
        password: str = DEMO_PASSWORD,
        account_email: str | None = None,
        **kwargs: Any,
    ) -> aiohttp.ClientResponse:
        """Ask the token endpoint for a token."""
        body = {"email": email, "password": password, "payload": {"email": account_email or email}}
        return await self.request("POST", "/api/bmw/oauth-token", body, **kwargs)

    async def login(self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> str:
        """Return a fresh access token of an account (the demo one by default)."""
        response = await self.token(email, password)
        assert response.status == 200
        return str((await response.json())["access_token"])

    async def vehicles(
        self, token: str, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Ask the vehicles endpoint for the account's cars."""
        body = {"email": email, "password": password}
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return await self.request("POST", "/api/get-user-devices", body, headers=headers, **kwargs)

    async def cars(
        self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD
    ) -> dict[str, dict[str, Any]]:
        """Log in and return an account's (the demo one's by default) served cars by VIN."""
        response = await self.vehicles(await self.login(email, password), email, password)
        assert response.status == 200
        return {car["device_id"]: car for car in await response.json()}

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the control API and return the status and the JSON answer."""
        response = await self.request(method, "/_simulator" + path, body)
        return response.status, await response.json()
