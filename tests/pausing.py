"""SIGSTOP and SIGCONT of a private server and every process it started (PostgreSQL serves each connection
in a process of its own): a paused server keeps its connections open and answers nothing."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from farm.testing.servers import ServerProcess


def server_processes(server: ServerProcess) -> list[int]:
    children = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [server.process.pid, *map(int, children)]


@contextmanager
def paused(server: ServerProcess) -> Iterator[None]:
    pids = server_processes(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
