"""Every program refuses a port or timeout it cannot use, naming the flag, instead of wrapping it or failing late."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NODE = ["nodes", "--name", "n", "--source", "http://127.0.0.1:9"]


@pytest.mark.parametrize(
    ("program", "flags", "message"),
    [
        (["proxy"], ["--port", "83537"], "argument --port: 83537 is not a port: give 0 to 65535"),
        (["proxy"], ["--admin-port", "99999"], "argument --admin-port: 99999 is not a port: give 0 to 65535"),
        (["proxy"], ["--admin-port", "-1"], "argument --admin-port: -1 is not a port: give 0 to 65535"),
        (["proxy"], ["--timeout", "0"], "argument --timeout: 0: give a number of seconds above 0"),
        (["proxy"], ["--timeout", "-5"], "argument --timeout: -5: give a number of seconds above 0"),
        (["proxy"], ["--body-timeout", "nan"], "argument --body-timeout: nan: give a number of seconds above 0"),
        (["proxy"], ["--request-buffer", "0"], "argument --request-buffer: 0: give a number of bytes above 0"),
        (["farm.source"], ["--port", "-5"], "argument --port: -5 is not a port: give 0 to 65535"),
        (["farm.source"], ["--port", "83538"], "argument --port: 83538 is not a port: give 0 to 65535"),
        (NODE, ["--port", "83538"], "argument --port: 83538 is not a port: give 0 to 65535"),
        (NODE, ["--port", "x"], "argument --port: 'x' is not a port number"),
    ],
)
def test_a_flag_out_of_range_is_an_argument_error(program: list[str], flags: list[str], message: str) -> None:
    env = {**os.environ, "FARM_PROXY_TOKEN": "t", "FARM_CACHE_URL": "none"}
    done = subprocess.run(
        [sys.executable, "-m", *program, *flags], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (2, f"python -m {program[0]}: error: {message}")
