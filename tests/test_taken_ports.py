"""Each service started on a port something else holds says so in one line and exits 1: no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.ports import free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def commands(port: int, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "proxy": ["proxy", "--port", str(port)],
        "proxy admin": ["proxy", "--port", str(free_port()), "--admin-port", str(port)],
        "node": ["nodes", "--name", "node-1", "--port", str(port), "--source", "http://127.0.0.1:9", "--cache", "none"],
        "source store": ["farm.source", "--port", str(port), "--catalog", str(tmp_path / "c.db"), "--items", "5"],
    }


@pytest.mark.parametrize("service", ["proxy", "proxy admin", "node", "source store"])
def test_a_taken_port_is_one_line_naming_it_and_exit_1(service: str, taken_port: int, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *commands(taken_port, tmp_path)[service]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FARM_PROXY_TOKEN": "t0ken"},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "cannot listen" in last
    assert str(taken_port) in last
    assert "address already in use" in last.lower()
