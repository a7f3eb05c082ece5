"""The farm on compose containers against the farm of processes, on the same machine in the same run.

    .venv/bin/python bench/compose_farm.py [--rounds 3] [--seconds 5] [--no-cold]

Needs a container engine (Docker, or podman's socket) and, for the cold start, root and debootstrap. Each round
starts a farm of 3 nodes on a private redis on each engine (`farm up --nodes 3 --cache redis --source-latency-ms
10`, as scenarios/demo.yaml), then:
- up: `farm up` to healthy, as the command reports it (containers: images already built, a warm rebuild);
- load: the demo's load under restarts without the restarts (16 clients reading 100 items for --seconds through
  the proxy, the scenarios' load generator) after a warm-up: requests/s and errors;
- `farm restart-node node-2` (drained, restarted, healthy, back at the proxy) and `farm add-node`, as reported.
Then, once, a cold start: `farm up --engine compose` from nothing, its base image seeded with debootstrap under a
throwaway name (so that no layer is cached) and every image built on it, against the warm up.
The images are built under a tag of their own (FARM_IMAGE_TAG) and removed at the end; the shared ones (latest,
debian:bookworm-slim) are left alone. Figures: the median of the rounds; ratio: containers / processes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from farm.containers.engine import connect
from farm.containers.images import (
    BASE_IMAGE_VARIABLE,
    IMAGE_TAG_VARIABLE,
    TARGETS,
    build_images,
    ensure_base_image,
    write_wheelhouse,
)
from farm.scenario.history import Record
from farm.scenario.load import LoadRun, LoadSpec

ENGINES = ("processes", "compose")
UP = ["up", "--nodes", "3", "--cache", "redis", "--source-latency-ms", "10"]
DEMO_CLIENTS, DEMO_KEYS = 16, 100
"""scenarios/demo.yaml's "under load" step."""
COMMAND_TIMEOUT_S = 900


class BenchError(SystemExit):
    pass


@dataclass
class Figures:
    up_s: list[float] = field(default_factory=list)
    restart_s: list[float] = field(default_factory=list)
    add_s: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)
    errors: int = 0


def farm(args: list[str], run: Path, env: dict[str, str]) -> str:
    """One ``farm`` command; its output, or a BenchError with its last lines."""
    command = [sys.executable, "-m", "farm.cli", *args, "--run-dir", str(run)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=COMMAND_TIMEOUT_S, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BenchError(f"`farm {' '.join(args)}` failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def reported_seconds(output: str) -> float:
    found = re.search(r" in ([\d.]+) s", output)
    if found is None:
        raise BenchError(f"no time in the command's output: {output!r}")
    return float(found[1])


def load(url: str, seconds: float) -> tuple[float, int]:
    """requests/s and errors of the demo's load through the proxy, after a warm-up that fills the cache."""
    records: list[Record] = []
    asyncio.run(
        LoadRun(
            url, LoadSpec(requests=1000, concurrency=DEMO_CLIENTS, keys=DEMO_KEYS), "warm-up", records, time.monotonic()
        ).run()
    )
    records.clear()
    started = time.monotonic()
    asyncio.run(
        LoadRun(
            url, LoadSpec(duration_s=seconds, concurrency=DEMO_CLIENTS, keys=DEMO_KEYS), "load", records, started
        ).run()
    )
    return len(records) / (time.monotonic() - started), sum(not r.ok for r in records)


def one_round(engine: str, tmp: Path, env: dict[str, str], seconds: float, figures: Figures) -> None:
    run = Path(tempfile.mkdtemp(prefix=f"farm-{engine}-", dir=tmp))
    try:
        up = farm([*UP, "--engine", engine], run, env)
        figures.up_s.append(reported_seconds(up))
        rate, errors = load(up.strip().splitlines()[-1], seconds)
        figures.rate.append(rate)
        figures.errors += errors
        figures.restart_s.append(reported_seconds(farm(["restart-node", "node-2"], run, env)))
        figures.add_s.append(reported_seconds(farm(["add-node"], run, env)))
    finally:
        subprocess.run(
            [sys.executable, "-m", "farm.cli", "down", "--run-dir", str(run)], env=env, capture_output=True, check=False
        )


def cold_up(tmp: Path, env: dict[str, str]) -> tuple[float, str]:
    """`farm up --engine compose` with a base image that is not there: seeded, every layer built on it."""
    run = tmp / "farm-cold"
    try:
        up = farm([*UP, "--engine", "compose"], run, env)
        log = (run / "logs" / "build.log").read_text()
    finally:
        subprocess.run(
            [sys.executable, "-m", "farm.cli", "down", "--run-dir", str(run)], env=env, capture_output=True, check=False
        )
    seeded = re.search(r"seeded \S+ in ([\d.]+) s", log)
    if seeded is None:
        raise BenchError(f"the cold up did not seed its base image; the end of its build log:\n{log[-1500:]}")
    return reported_seconds(up), seeded[1]


def remove_images(references: list[str]) -> None:
    """Untags (and removes, when nothing else holds their layers) the images this benchmark made."""
    client = connect()
    import docker.errors

    for reference in references:
        try:
            client.images.remove(reference)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError as exc:
            print(f"  (could not remove {reference}: {str(exc).splitlines()[0][:200]})")


def line(label: str, processes: list[float], containers: list[float], unit: str, show: Callable[[float], str]) -> None:
    p, c = statistics.median(processes), statistics.median(containers)
    print(f"  {label:<34} {show(p):>10} {unit:<6} {show(c):>10} {unit:<6} {c / p:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="of the measured load (default 5, as the demo)")
    parser.add_argument("--no-cold", dest="cold", action="store_false", help="leave out the cold start")
    args = parser.parse_args()
    token = secrets.token_hex(4)
    warm_tag, cold_tag, cold_base = f"bench-{token}", f"bench-cold-{token}", f"cachefarm-bench-base:{token}"
    env = {**os.environ, IMAGE_TAG_VARIABLE: warm_tag}
    made = [f"{repository}:{warm_tag}" for repository in TARGETS.values()]
    figures = {engine: Figures() for engine in ENGINES}
    with tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            os.environ[IMAGE_TAG_VARIABLE] = warm_tag  # the images this checkout makes, before any up is timed
            client = connect()
            ensure_base_image(client, tmp / "build.log")
            write_wheelhouse(tmp / "build.log")
            build_images(client, ["app", "redis"], tmp / "build.log")
            for number in range(args.rounds):
                for engine in ENGINES if number % 2 == 0 else ENGINES[::-1]:
                    one_round(engine, tmp, env, args.seconds, figures[engine])
            cold: tuple[float, str] | None = None
            if args.cold:
                made += [f"{repository}:{cold_tag}" for repository in TARGETS.values()] + [cold_base]
                cold = cold_up(tmp, {**env, IMAGE_TAG_VARIABLE: cold_tag, BASE_IMAGE_VARIABLE: cold_base})
        finally:
            remove_images(made)
    p, c = figures["processes"], figures["compose"]
    print(f"3 nodes, private redis; median of {args.rounds} rounds; ratio: containers / processes")
    print(f"  {'':<34} {'processes':>17} {'containers':>17}  ratio")
    line("farm up to healthy (warm images)", p.up_s, c.up_s, "s", lambda v: f"{v:.2f}")
    line("farm restart-node node-2", p.restart_s, c.restart_s, "s", lambda v: f"{v:.2f}")
    line("farm add-node", p.add_s, c.add_s, "s", lambda v: f"{v:.2f}")
    line(f"demo load ({DEMO_CLIENTS} clients, {args.seconds:g} s)", p.rate, c.rate, "req/s", "{:,.0f}".format)
    print(f"  errors during the loads: processes {p.errors}, containers {c.errors}")
    if cold is not None:
        up_s, seeded_s = cold
        warm = statistics.median(c.up_s)
        print(
            f"cold: farm up --engine compose from nothing: {up_s:.1f} s (base image seeded in {seeded_s} s, every "
            f"layer built), {up_s / warm:.1f}x the warm up ({warm:.2f} s)"
        )


if __name__ == "__main__":
    main()
