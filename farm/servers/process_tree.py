"""A process and the processes it started, read from /proc: what a pause must stop and a resume continue.

A PostgreSQL postmaster puts each backend in a session of its own, so neither a signal to the postmaster nor
one to its process group reaches the backends that hold the clients' connections.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def has_exited(pid: int) -> bool:
    """Gone, or a zombie: a process that exited but that its parent has not reaped. A daemon's parent is init,
    which on some machines reaps only every second or so; waiting for the pid itself to go waited for that."""
    fields = _stat(pid)
    return fields is None or fields[:1] == ["Z"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, parents before their children."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = sorted(children.get(todo.pop(0), []))
        found += below
        todo += below
    return found


def is_stopped(pid: int) -> bool:
    """Stopped by a signal (state T), as SIGSTOP leaves a process."""
    fields = _stat(pid)
    return fields is not None and fields[0] == "T"


def signal_tree(pid: int, sig: signal.Signals) -> None:
    """``sig`` to ``pid`` first, then to everything below it: a stopped parent starts no new child meanwhile."""
    for target in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: nothing left to signal
            os.kill(target, sig)
