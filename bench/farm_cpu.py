"""Where a farm's CPU goes: microseconds of CPU a request, by process, under the demo's load.

    .venv/bin/python bench/farm_cpu.py [--nodes 3] [--cache redis] [--concurrency 16] [--seconds 5]

Starts a farm of processes (as `farm up`, the source store at the demo's 10 ms), warms it with one load, then runs
a closed-loop load through the proxy (the scenarios' load generator, in this process) for --seconds and reads each
process's CPU time from /proc before and after: user and system time, so a socket write's kernel work counts for
the process that makes it. On two cores the sum sets the farm's rate: the processes take turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from farm.event_loops import fast_loop_factory
from farm.scenario.history import Record
from farm.scenario.load import LoadRun, LoadSpec

ROOT = Path(__file__).resolve().parents[1]

LOAD = "load generator"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime and stime, after the name in parentheses


def farm(*args: str, run: Path) -> str:
    """A `farm` command, as a user runs it (in a process of its own: this folder's proxy.py shadows the package)."""
    command = [sys.executable, "-m", "farm.cli", *args, "--run-dir", str(run)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"farm {args[0]} failed:\n{done.stderr}")
    return done.stdout


def sample(status: dict[str, Any]) -> dict[str, float]:
    """CPU seconds so far of each process of the farm, by name, and of this one (the load generator)."""
    seconds = {LOAD: cpu_seconds(os.getpid())}
    for name, process in [*status["processes"].items(), *((node["name"], node) for node in status["nodes"])]:
        if process["pid"]:
            seconds[name] = cpu_seconds(process["pid"])
    return seconds


def load(url: str, concurrency: int, seconds: float) -> int:
    records: list[Record] = []
    spec = LoadSpec(duration_s=seconds, concurrency=concurrency, keys=100)
    with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:  # the loop `farm run` uses
        runner.run(LoadRun(url, spec, "bench", records, time.monotonic()).run())
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cache", default="redis")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    run = Path(tempfile.mkdtemp(prefix="cachefarm-cpu-"))  # short: supervisord's socket path has a limit
    try:
        farm("up", "--nodes", str(args.nodes), "--cache", args.cache, "--source-latency-ms", "10", run=run)
        status = json.loads(farm("status", "--json", run=run))
        load(status["proxy"], args.concurrency, 1.0)  # every item cached, every connection open
        before, started = sample(status), time.monotonic()
        requests = load(status["proxy"], args.concurrency, args.seconds)
        after, elapsed = sample(status), time.monotonic() - started
    finally:
        farm("down", run=run)
        shutil.rmtree(run, ignore_errors=True)
    nodes = {node["name"] for node in status["nodes"]}
    spent: dict[str, float] = {}
    for name, seconds in after.items():
        kind = "nodes" if name in nodes else name
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(name, seconds)
    print(f"{requests:,} requests in {elapsed:.1f} s ({requests / elapsed:,.0f}/s), {args.concurrency} clients")
    for kind, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {kind:<15} {seconds:6.2f} s CPU  {seconds / requests * 1e6:6.1f} us a request")
    total = sum(spent.values())
    print(f"  {'all':<15} {total:6.2f} s CPU  {total / requests * 1e6:6.1f} us a request")
    print(f"load average {os.getloadavg()[0]:.1f} over the last minute")


if __name__ == "__main__":
    main()
