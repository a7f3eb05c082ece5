"""Reading processes from /proc: an exited process is gone even while nobody has reaped it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from farm.servers.process_tree import has_exited
from farm.supervise import _wait_gone


@pytest.mark.timeout(10)
def test_a_zombie_has_exited_and_waiting_for_it_ends_at_once() -> None:
    """supervisord runs as a daemon: its parent is init, which may take a second or more to reap it, and a farm's
    shutdown waited for that."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            pass  # exiting; not reaped, since nothing here waits for it
        assert has_exited(child.pid)
        _wait_gone(child.pid, 3600)
    finally:
        child.wait()
    assert has_exited(child.pid), "reaped: no such process"


def test_a_running_process_has_not_exited() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as child:
        try:
            assert not has_exited(child.pid)
        finally:
            child.kill()
