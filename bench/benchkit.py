"""What the benchmarks share: starting helper processes, waiting for them, and running wrk."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

PACE_SCRIPT = "request = function() return wrk.format(nil) end\ndelay = function() return {delay} end\n"


def wait_ok(url: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def spawn(
    stack: ExitStack, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``cwd``: where ``python -m`` finds its package first (another checkout's, for a baseline)."""
    process = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def stop() -> None:
        process.terminate()
        process.wait(10)

    stack.callback(stop)
    return process


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux: /proc), so that a benchmark can give the CPU
    a request costs, a figure the machine's other work disturbs far less than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def to_ms(value: str) -> float:
    number, unit = float(re.match(r"[\d.]+", value)[0]), re.sub(r"[\d.]+", "", value)  # type: ignore[index]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: float, connections: int, script: Path | None = None) -> tuple[float, float, float]:
    """requests/s, p50 ms, p99 ms."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)[1])  # type: ignore[index]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)[1])  # type: ignore[index]
    return rate, p50, p99


def wrk_bench_arguments(
    doc: str | None, more: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """--seconds and --connections (and what ``more`` adds), after checking that nginx and wrk are installed."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    if more is not None:
        more(parser)
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} not found: `make bench` installs it (Debian package {tool})")
    return args
