"""The farm's HTTP services as real processes for the API property tests: started on free ports, waited for, and
stopped with SIGTERM; what each wrote to stderr is kept, so a test can tell that no request made a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from farm.ports import free_port

START_TIMEOUT_S = 20.0


@dataclass
class Service:
    """One running service: its base URL and the file its stderr goes to."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def healthy(self, path: str = "/healthz", headers: dict[str, str] | None = None) -> bool:
        try:
            return requests.get(self.url + path, headers=headers, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def tracebacks(self) -> list[str]:
        """The log's lines from each ``Traceback`` on, a few each."""
        lines = self.log.read_text(errors="replace").splitlines()
        return ["\n".join(lines[i : i + 12]) for i, line in enumerate(lines) if line.startswith("Traceback")]


@contextmanager
def service(
    folder: Path, name: str, module: str, *args: str, env: dict[str, str] | None = None, health: str = "/healthz"
) -> Iterator[Service]:
    """``python -m module --port <free> args``, until its ``health`` path answers 200."""
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, **(env or {})},
        )
    running = Service(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not running.healthy(health):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
