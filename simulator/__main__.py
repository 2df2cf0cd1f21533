"""Command line: python -m simulator --host 127.0.0.1 --port 3000 [--scenario FILE]."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
import logging
import signal
import sys

from .app import run_simulator
from .scenario import ScenarioError, default_scenario, load_scenario
from .state import Simulator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve a simulated Orange Power Connect API (with a /_simulator control API).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=3000, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument("--scenario", metavar="FILE", help="JSON or YAML scenario (default: demo)")
    parser.add_argument(
        "--token-lifetime",
        type=int,
        metavar="SECONDS",
        help="access token lifetime (default: the scenario's, else 28800)",
    )
    parser.add_argument(
        "--demo-speed",
        type=float,
        metavar="FACTOR",
        help="charge this many times faster, starting over when full (tokens are not affected)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until Ctrl-C or SIGTERM; return the exit code."""
    args = parse_args(argv)
    if not 0 <= args.port <= 65535:
        print("simulator: --port must be from 0 to 65535", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    except ScenarioError as err:
        print(f"simulator: {err}", file=sys.stderr)
        return 2
    if args.token_lifetime is not None:
        if args.token_lifetime < 1:
            print("simulator: --token-lifetime must be at least 1 second", file=sys.stderr)
            return 2
        scenario = replace(scenario, token_lifetime=args.token_lifetime)
    if args.demo_speed is not None and not 1 <= args.demo_speed <= 3600:
        print("simulator: --demo-speed must be from 1 to 3600", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        simulator = Simulator(scenario, demo_speed=args.demo_speed)
        asyncio.run(serve(simulator, args.host, args.port, asyncio.Event()))
    except OSError as err:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


async def serve(simulator: Simulator, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until stop is set, which SIGINT and SIGTERM do."""
    loop = asyncio.get_running_loop()
    async with run_simulator(simulator, host, port) as url:
        print_banner(simulator, url)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    print("simulator: stopped", flush=True)


def print_banner(simulator: Simulator, url: str) -> None:
    """Print where the simulator listens and the credentials to log in with."""
    print(f"Orange Power Connect simulator listening on {url}")
    print(f"Control API: {url}/_simulator/state   token lifetime: {simulator.token_lifetime} s")
    if simulator.demo_speed:
        print(
            f"Demo speed: charges move {simulator.demo_speed:g} times faster, starting over when full"
        )
    for account in simulator.accounts:
        print(
            f"  account  email: {account.email}  password: {account.password}"
            f"  account email: {account.account_email}"
        )
        for car in account.cars:
            print(
                f"    car  {car.vin}  {car.spec.brand} {car.spec.model} ({car.spec.year})"
                f"  {car.charge_percentage}%  {car.state}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
