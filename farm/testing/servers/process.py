"""What the private servers share: a free port, a process, a data directory, waiting and stopping."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self


class ServerError(RuntimeError):
    """A private server could not be installed, started or reached."""


def require_executable(name: str, package: str) -> str:
    path = shutil.which(name) or (name if Path(name).is_file() else None)
    if path is None:
        raise ServerError(f"{name} not found: install the Debian package {package} (make test installs it)")
    return path


@dataclass
class ServerProcess:
    """A running server; ``stop()`` ends it and removes its data directory."""

    name: str
    host: str
    port: int
    url: str
    """The cache URL that reaches it (``redis://``, ``postgresql://``, ``mariadb://``): what ``from_url`` takes."""
    process: subprocess.Popen[bytes]
    directory: Path
    log_path: Path
    stop_signal: int = signal.SIGTERM
    _stopped: bool = field(default=False, repr=False)

    def wait_until_ready(self, probe: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode} at start:\n{self.log_tail()}")
            if probe():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
