"""Which processes a farm started, and whether they are still alive (tests of teardown use these)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def farm_pids(run: Path) -> set[int]:
    """supervisord and every process it started."""
    pid = int((run / "supervisord.pid").read_text())
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    return {pid, *map(int, children)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")
