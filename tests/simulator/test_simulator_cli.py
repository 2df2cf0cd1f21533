"""The command line: python -m simulator."""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE
from pathlib import Path
import re
import signal
import sys

import aiohttp
import pytest

from simulator import Simulator, run_simulator
from simulator.__main__ import main
from tests.simulator.client import DEMO_EMAIL, DEMO_PASSWORD, Client

ROOT = Path(__file__).parents[2]
URL = re.compile(r"listening on (http://\S+)")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])

    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--host", "--port", "--scenario", "--token-lifetime", "--demo-speed"):
        assert option in help_text


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--scenario", "nowhere.json"],
            "simulator: nowhere.json: cannot read: No such file or directory\n",
        ),
        (["--token-lifetime", "0"], "simulator: --token-lifetime must be at least 1 second\n"),
        (["--port", "65536"], "simulator: --port must be from 0 to 65535\n"),
        (["--demo-speed", "0.5"], "simulator: --demo-speed must be from 1 to 3600\n"),
        (["--demo-speed", "nan"], "simulator: --demo-speed must be from 1 to 3600\n"),
    ],
)
def test_bad_option_exits_2(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With one line that says why (a scenario file's errors are the scenario tests')."""
    assert main(args) == 2
    assert capsys.readouterr().err == error


async def run_cli(*args: str) -> asyncio.subprocess.Process:
    """Start python -m simulator with these arguments."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", *args, cwd=ROOT, stdout=PIPE, stderr=PIPE
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_cli_serves_until_signalled(socket_enabled: None, signum: signal.Signals) -> None:
    """It prints the credentials and cars to log in with, and logs requests without secrets."""
    process = await run_cli("--port", "0", "--token-lifetime", "120", "--demo-speed", "6")
    assert process.stdout is not None
    try:
        line = ""
        while not (match := URL.search(line)):
            line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
            assert line, "the simulator exited before listening"
        async with aiohttp.ClientSession() as session:
            client = Client(session, match.group(1))
            response = await client.token()
            token = await response.json()
            cars = await client.vehicles(token["access_token"])
    finally:
        process.send_signal(signum)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 15)

    assert (response.status, cars.status) == (200, 200)
    assert token["expires_in"] == 120
    assert process.returncode == 0
    printed = stdout.decode()
    assert f"email: {DEMO_EMAIL}  password: {DEMO_PASSWORD}  account email: {DEMO_EMAIL}" in printed
    assert "WBY7Z8C5XJV123456  BMW i3s 94 REX (2018)  45%  CHARGING" in printed
    assert "WBY21CF0XPC654321  BMW iX xDrive50 (2023)  64%  NOT_CHARGING" in printed
    assert "Demo speed: charges move 6 times faster, starting over when full" in printed
    assert "simulator: stopped" in printed
    assert b"POST /api/bmw/oauth-token 200" in stderr
    assert b"POST /api/get-user-devices 200" in stderr
    assert token["access_token"].encode() not in stderr
    assert DEMO_PASSWORD.encode() not in stderr


async def test_cli_port_in_use_exits_1(socket_enabled: None, simulator: Simulator) -> None:
    async with run_simulator(simulator) as url:
        process = await run_cli("--port", url.rsplit(":", 1)[1])
        _, stderr = await asyncio.wait_for(process.communicate(), 15)

    assert process.returncode == 1
    assert stderr.decode().startswith("simulator: cannot listen on 127.0.0.1:")
