"""HTTP side of the simulator: the service's two endpoints, faults, and the /_simulator control API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
import functools
from http import HTTPStatus
import json
import logging
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .scenario import FieldReader, ScenarioError
from .state import Car, Fault, Simulator, SimulatorError

_LOGGER = logging.getLogger(__package__)

SIMULATOR_KEY: Final = web.AppKey("simulator", Simulator)
# Marks a request whose connection a fault closed, so the access log does not claim a status.
DROPPED: Final = web.RequestKey("dropped", bool)
HUGE_BODY_BYTES: Final = 10 * 1024 * 1024

type Answer = Callable[[web.Request, Simulator], Awaitable[web.Response]]
type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTML_BODY: Final = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>502 Bad Gateway</h1><p>The server is temporarily unavailable.</p></body></html>\n"
)
MALFORMED_BODIES: Final = {
    "token": '{"access_token": "YKJUUwmBXcQThWx7XzU7ddd4pyMZkd3tgWM", "expires_in": ',
    "vehicles": '[{"_id": "62137c48e075b1442f0c955c", "charging_state": {"charge_percentage": ',
}
WRONG_SHAPE_BODY: Final = '{"status": "ok", "data": null}'


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Return the simulator's JSON error body."""
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error, the router's 404 and 405 included, with a JSON error body."""
    try:
        return await handler(request)
    except web.HTTPError as exc:
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, exc.reason, headers)
    except SimulatorError as err:
        return error_response(err.status, err.message)
    except ScenarioError as err:
        return error_response(400, str(err))


class RequestLogger(AbstractAccessLogger):
    """Log each request's method, path and status; never bodies, passwords or tokens."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log one answered (or dropped) request."""
        outcome = "dropped" if request.get(DROPPED, False) else response.status
        self.logger.info("%s %s %s", request.method, request.path, outcome)


def create_app(simulator: Simulator) -> web.Application:
    """Return the aiohttp application serving a simulator."""
    app = web.Application(middlewares=[json_errors])
    app[SIMULATOR_KEY] = simulator
    control = "/_simulator"
    app.add_routes(
        [
            web.post("/api/bmw/oauth-token", token_endpoint),
            web.post("/api/get-user-devices", vehicles_endpoint),
            web.get(f"{control}/state", control_state),
            web.post(f"{control}/reset", control_reset),
            web.post(f"{control}/cars/{{vin}}/plug", _car_action(Simulator.plug)),
            web.post(f"{control}/cars/{{vin}}/unplug", _car_action(Simulator.unplug)),
            web.post(
                f"{control}/cars/{{vin}}/start_charging", _car_action(Simulator.start_charging)
            ),
            web.post(f"{control}/cars/{{vin}}/stop_charging", _car_action(Simulator.stop_charging)),
            web.patch(f"{control}/cars/{{vin}}", control_update_car),
            web.post(f"{control}/cars/{{vin}}", control_update_car),
            web.delete(f"{control}/cars/{{vin}}", control_remove_car),
            web.post(f"{control}/accounts/{{email}}/cars", control_add_car),
            web.post(f"{control}/accounts/{{email}}/shared_cars", control_share_car),
            web.post(f"{control}/accounts/{{email}}/password", control_set_password),
            web.post(f"{control}/tokens/expire", control_expire_tokens),
            web.get(f"{control}/faults", control_faults),
            web.post(f"{control}/faults", control_inject_fault),
            web.delete(f"{control}/faults", control_clear_faults),
            web.get(f"{control}/counters", control_counters),
            web.get(f"{control}/clock", control_clock),
            web.post(f"{control}/clock", control_clock),
        ]
    )
    return app


@asynccontextmanager
async def run_simulator(
    simulator: Simulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve a simulator on host:port (0: any free port) and yield its base URL."""
    runner = web.AppRunner(
        create_app(simulator), access_log_class=RequestLogger, access_log=_LOGGER
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        await runner.cleanup()


# The service's endpoints.


async def token_endpoint(request: web.Request) -> web.StreamResponse:
    """Serve POST /api/bmw/oauth-token."""
    return await _serve(request, "token", _token_answer)


async def vehicles_endpoint(request: web.Request) -> web.StreamResponse:
    """Serve POST /api/get-user-devices."""
    return await _serve(request, "vehicles", _vehicles_answer)


async def _token_answer(request: web.Request, simulator: Simulator) -> web.Response:
    """Issue a token for valid credentials."""
    body = await _read_object(request)
    email = _body_string(body, "email")
    password = _body_string(body, "password")
    payload = body.get("payload")
    account_email = payload.get("email") if isinstance(payload, dict) else None
    if not isinstance(account_email, str) or not account_email.strip():
        raise SimulatorError(400, "payload.email is required")
    return web.json_response(simulator.issue_token(email, password, account_email))


async def _vehicles_answer(request: web.Request, simulator: Simulator) -> web.Response:
    """List the cars of the token's account."""
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not access_token.strip():
        raise SimulatorError(401, "a bearer token is required")
    token = simulator.check_token(access_token.strip())
    body = await _read_object(request)
    email = _body_string(body, "email")
    password = _body_string(body, "password")
    return web.json_response(simulator.vehicles(token, email, password))


async def _serve(request: web.Request, endpoint: str, answer: Answer) -> web.StreamResponse:
    """Count the request, apply the endpoint's next fault if one is queued, else answer it."""
    simulator = request.app[SIMULATOR_KEY]
    simulator.count_request(endpoint)
    fault = simulator.take_fault(endpoint)
    if fault is not None and fault.delay:
        await asyncio.sleep(fault.delay)
    if fault is not None and fault.drop == "before":
        simulator.count_answer(endpoint, "dropped")
        return _drop_connection(request)
    if fault is not None and (fault.status is not None or fault.body is not None):
        response = _fault_response(fault, endpoint)
    else:
        response = await _answer(request, simulator, answer)
    if fault is not None and fault.drop == "mid_body":
        simulator.count_answer(endpoint, "dropped")
        return await _send_part(request, response)
    simulator.count_answer(endpoint, str(response.status))
    return response


async def _answer(request: web.Request, simulator: Simulator, answer: Answer) -> web.Response:
    """Answer as the service does, errors included."""
    if not accepts_json(request.headers.get("Accept", "")):
        return error_response(406, "only application/json can be served")
    try:
        return await answer(request, simulator)
    except SimulatorError as err:
        return error_response(err.status, err.message)


def accepts_json(accept: str) -> bool:
    """Return whether an Accept header (empty: absent) lets the server answer with JSON."""
    if not accept.strip():
        return True
    for media_range in accept.split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        quality = next((param[2:] for param in params if param.startswith("q=")), "1")
        try:
            acceptable = float(quality) > 0
        except ValueError:
            acceptable = True
        if acceptable and (
            media_type in {"application/json", "application/*", "*/*"}
            or media_type.endswith("+json")
        ):
            return True
    return False


async def _read_object(request: web.Request) -> dict[str, object]:
    """Return the JSON object in the request body, or raise 400."""
    try:
        data: object = await request.json()
    except json.JSONDecodeError, UnicodeDecodeError:
        raise SimulatorError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SimulatorError(400, "the body must be a JSON object")
    return data


def _body_string(body: dict[str, object], key: str) -> str:
    """Return a required, non-empty string field of a request body, or raise 400."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SimulatorError(400, f"{key} is required")
    return value


# Faults.


def _fault_response(fault: Fault, endpoint: str) -> web.Response:
    """Return the response a fault replaces the normal answer with."""
    status = fault.status or 200
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    if fault.body is None:
        return error_response(status, _reason(status), headers)
    body, content_type = _fault_body(fault.body, endpoint)
    return web.Response(body=body, status=status, content_type=content_type, headers=headers)


def _reason(status: int) -> str:
    """Return the standard reason phrase of a status."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "simulated fault"


def _fault_body(kind: str, endpoint: str) -> tuple[bytes, str]:
    """Return a fault body and its content type: a named kind, or the literal text given."""
    match kind:
        case "html":
            return HTML_BODY.encode(), "text/html"
        case "malformed":
            return MALFORMED_BODIES[endpoint].encode(), "application/json"
        case "empty":
            return b"", "application/json"
        case "wrong_shape":
            return WRONG_SHAPE_BODY.encode(), "application/json"
        case "huge":
            return _huge_body(), "application/json"
    try:
        json.loads(kind)
    except json.JSONDecodeError:
        return kind.encode(), "text/plain"
    return kind.encode(), "application/json"


@functools.cache
def _huge_body() -> bytes:
    """Return 10 MB of JSON-like text (built once)."""
    return b'{"filler": "' + b"x" * HUGE_BODY_BYTES + b'"}'


def _drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering."""
    request[DROPPED] = True
    if request.transport is not None:
        request.transport.close()
    # aiohttp's attempt to send this to the closed connection fails quietly.
    return web.Response()


async def _send_part(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send a response's headers and half its body, then close the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    partial = web.StreamResponse(status=response.status, headers=response.headers)
    # Announce at least one byte more than is sent, or the client would not notice the cut.
    partial.content_length = max(len(body), 1)
    await partial.prepare(request)
    await partial.write(body[: len(body) // 2])
    _drop_connection(request)
    return partial


# The control API.


async def _read_control_object(request: web.Request) -> dict[str, object]:
    """Return the JSON object in a control request's body ({} when there is none)."""
    if not await request.read():
        return {}
    return await _read_object(request)


def _car_action(action: Callable[[Simulator, str], Car]) -> Handler:
    """Return a handler that applies a Simulator method to the car in the path."""

    async def handler(request: web.Request) -> web.StreamResponse:
        simulator = request.app[SIMULATOR_KEY]
        vin = request.match_info["vin"]
        action(simulator, vin)
        return web.json_response(simulator.car_json(vin))

    return handler


async def control_state(request: web.Request) -> web.StreamResponse:
    """Return everything."""
    return web.json_response(request.app[SIMULATOR_KEY].as_json())


async def control_reset(request: web.Request) -> web.StreamResponse:
    """Go back to the scenario."""
    simulator = request.app[SIMULATOR_KEY]
    simulator.reset()
    return web.json_response(simulator.as_json())


async def control_update_car(request: web.Request) -> web.StreamResponse:
    """Change a car's simulated state."""
    simulator = request.app[SIMULATOR_KEY]
    vin = request.match_info["vin"]
    simulator.update_car(vin, **await _read_control_object(request))
    return web.json_response(simulator.car_json(vin))


async def control_remove_car(request: web.Request) -> web.StreamResponse:
    """Remove a car from every account, or from the one given as ?account=."""
    vin = request.match_info["vin"]
    request.app[SIMULATOR_KEY].remove_car(vin, request.query.get("account"))
    return web.json_response({"removed": vin})


async def control_share_car(request: web.Request) -> web.StreamResponse:
    """Serve a car of another account to this one too."""
    simulator = request.app[SIMULATOR_KEY]
    reader = FieldReader(await _read_control_object(request), "")
    vin = reader.string("vin")
    reader.finish()
    simulator.share_car(vin, request.match_info["email"])
    return web.json_response(simulator.car_json(vin), status=201)


async def control_add_car(request: web.Request) -> web.StreamResponse:
    """Add a car to an account."""
    simulator = request.app[SIMULATOR_KEY]
    car = simulator.add_car(request.match_info["email"], await _read_control_object(request))
    return web.json_response(simulator.car_json(car.vin), status=201)


async def control_set_password(request: web.Request) -> web.StreamResponse:
    """Change an account's BMW password."""
    simulator = request.app[SIMULATOR_KEY]
    reader = FieldReader(await _read_control_object(request), "")
    password = reader.string("password")
    reader.finish()
    email = request.match_info["email"]
    simulator.set_password(email, password)
    return web.json_response(simulator.account(email).as_json())


async def control_expire_tokens(request: web.Request) -> web.StreamResponse:
    """Expire every token issued so far."""
    return web.json_response({"expired": request.app[SIMULATOR_KEY].expire_tokens()})


async def control_faults(request: web.Request) -> web.StreamResponse:
    """Return the queued faults per endpoint."""
    return web.json_response(_faults_json(request.app[SIMULATOR_KEY]))


async def control_inject_fault(request: web.Request) -> web.StreamResponse:
    """Queue a fault for the next requests to an endpoint."""
    simulator = request.app[SIMULATOR_KEY]
    fields = await _read_control_object(request)
    endpoint = fields.pop("endpoint", None)
    if not isinstance(endpoint, str):
        raise ScenarioError("fault.endpoint: required, token or vehicles")
    simulator.inject_fault(endpoint, **fields)
    return web.json_response(_faults_json(simulator), status=201)


async def control_clear_faults(request: web.Request) -> web.StreamResponse:
    """Drop every queued fault."""
    simulator = request.app[SIMULATOR_KEY]
    simulator.clear_faults()
    return web.json_response(_faults_json(simulator))


def _faults_json(simulator: Simulator) -> dict[str, object]:
    """Return the queued faults per endpoint, as JSON data."""
    return {
        endpoint: [fault.as_json() for fault in faults]
        for endpoint, faults in simulator.faults.items()
    }


async def control_counters(request: web.Request) -> web.StreamResponse:
    """Return the request counts per endpoint, and per endpoint and status."""
    simulator = request.app[SIMULATOR_KEY]
    return web.json_response({**simulator.counts, "by_status": simulator.status_counts})


async def control_clock(request: web.Request) -> web.StreamResponse:
    """Return the simulator clock; a POST with {"advance": seconds} first moves it forward."""
    clock = request.app[SIMULATOR_KEY].clock
    if request.method == "POST":
        reader = FieldReader(await _read_control_object(request), "")
        seconds = reader.number("advance", 0.0, minimum=0)
        reader.finish()
        clock.advance(seconds)
    return web.json_response(
        {"now": clock.now().isoformat(), "offset_seconds": clock.offset_seconds}
    )
