"""Overload without amplification: one node, then a farm of three behind the proxy, ramped to 512 clients.

    .venv/bin/python bench/overload.py [--seconds 4] [--ramp 32,128,256,512] [--only node|farm]
                                       [--baseline DIR] [--node-args '--max-in-flight 32']

Needs wrk (`make bench` installs it). One node: `python -m nodes` on a private redis-server, the source store at
20 ms a read. The farm: three nodes on redis behind the proxy (farm.topology.Farm). Each step of the ramp reads 100
items of its own once (they are in the cache, as in a farm that runs), then runs wrk with that many connections for
--seconds over them. After each step the bench reads the source store's own counts of reads by node and item, and
each node's hits, misses, cache errors and shed requests. ``--baseline DIR`` first runs the one-node ramp with the
node of another checkout (a `git worktree` of an older commit), then with this one: the same run, the same machine.

Goals, each step:
- source reads per item per node  <= 1     (the items are cached: a read is a hit the node turned into a miss)
- cache errors                     = 0     (the nodes' /stats)
- unexplained                      = 0     (answers neither 2xx nor a 503 the nodes shed and counted, and wrk's
                                            socket errors)
- hit ratio                       >= 0.95  (of the reads the nodes served: hits / (hits + misses))
- goodput (2xx/s) / the first step's >= 0.5 (the first step, 32 clients, measured in the same run)
A step in which no request got a 2xx answer measured nothing: the bench says so and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit import spawn, to_ms, wait_ok

from farm.config import CacheChoice
from farm.ports import free_port
from farm.testing.servers import start_redis
from farm.topology import Farm

ITEMS_PER_STEP = 100
SOURCE_LATENCY_MS = 20
MAX_READS_PER_ITEM_NODE = 1
MIN_HIT_RATIO = 0.95
MIN_GOODPUT_RATIO = 0.5
WRK_TIMEOUT = "10s"
SCRIPT = """local first, last = {first}, {last}
request = function() return wrk.format(nil, "/items/" .. math.random(first, last)) end
"""


@dataclass(frozen=True)
class Target:
    url: str
    """Where the clients send their requests: a node, or the proxy."""
    nodes: list[str]
    """The nodes' own URLs, for their counters."""
    source: str


@dataclass(frozen=True)
class Step:
    clients: int
    goodput: float
    not_ok: int
    socket_errors: int
    p99_ms: float
    shed: int
    cache_errors: int
    hits: int
    misses: int
    reads_per_item_node: int

    @property
    def measured(self) -> bool:
        return self.goodput > 0 and self.hits + self.misses > 0

    @property
    def hit_ratio(self) -> float:
        return self.hits / (self.hits + self.misses) if self.hits + self.misses else 0.0

    @property
    def unexplained(self) -> int:
        """Answers that were neither 2xx nor a shed the nodes counted, and requests wrk saw fail."""
        return max(0, self.not_ok - self.shed) + self.socket_errors


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


def node_counters(target: Target) -> dict[str, int]:
    totals = dict.fromkeys(("shed", "cache_errors", "hits", "misses"), 0)
    for node in target.nodes:
        stats = get_json(node + "/stats")
        for name in totals:
            totals[name] += int(stats.get(name, 0))  # a baseline node without a shed counter sheds nothing
    return totals


def reads_by_node(target: Target) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = get_json(target.source + "/stats/reads-by-node")
    return found


def most_reads(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> int:
    """The most reads of one item by one node between the two counts."""
    return max(
        (n - before.get(node, {}).get(key, 0) for node, keys in after.items() for key, n in keys.items()), default=0
    )


def wrk_step(url: str, clients: int, seconds: float, script: Path) -> tuple[float, int, int, float]:
    """2xx answers per second, non-2xx answers, socket errors, p99 ms."""
    args = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url]
    args[1:1] = ["--timeout", WRK_TIMEOUT]  # past the proxy's 5 s: a slow answer is counted as what it is
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    duration = re.search(r"requests in ([\d.]+)(\w+),", out)
    seconds_run = to_ms(duration[1] + duration[2]) / 1000 if duration else seconds
    not_ok = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)[1])  # type: ignore[index]
    return (total - not_ok) / seconds_run, not_ok, socket_errors, p99


def ramp(target: Target, clients: list[int], seconds: float, tmp: Path) -> list[Step]:
    steps = []
    for number, count in enumerate(clients):
        script = tmp / f"step-{number}.lua"
        first = number * ITEMS_PER_STEP + 1
        script.write_text(SCRIPT.format(first=first, last=first + ITEMS_PER_STEP - 1))
        for item in range(first, first + ITEMS_PER_STEP):  # cached before the burst, as in a farm that runs
            get_json(f"{target.url}/items/{item}")
        before, reads_before = node_counters(target), reads_by_node(target)
        goodput, not_ok, socket_errors, p99 = wrk_step(target.url + "/items/1", count, seconds, script)
        after, reads_after = node_counters(target), reads_by_node(target)
        most = max(
            (
                n - reads_before.get(node, {}).get(key, 0)
                for node, keys in reads_after.items()
                for key, n in keys.items()
            ),
            default=0,
        )
        steps.append(
            Step(
                count,
                goodput,
                not_ok,
                socket_errors,
                p99,
                shed=after["shed"] - before["shed"],
                cache_errors=after["cache_errors"] - before["cache_errors"],
                hits=after["hits"] - before["hits"],
                misses=after["misses"] - before["misses"],
                reads_per_item_node=most,
            )
        )
    return steps


@contextmanager
def one_node(tmp: Path, code: Path | None, node_args: list[str]) -> Iterator[Target]:
    """A node (of the checkout at ``code``, or this one), a private redis-server and the source store."""
    with ExitStack() as stack:
        yield stack.enter_context(_one_node(stack, tmp, code, node_args))


@contextmanager
def _one_node(stack: ExitStack, tmp: Path, code: Path | None, node_args: list[str]) -> Iterator[Target]:
    redis = stack.enter_context(start_redis())
    source_port, node_port = free_port(), free_port()
    source = f"http://127.0.0.1:{source_port}"
    command = [sys.executable, "-m", "farm.source", "--port", str(source_port), "--catalog", str(tmp / "catalog.db")]
    spawn(stack, [*command, "--latency-ms", str(SOURCE_LATENCY_MS), "--items", "1000"])
    wait_ok(source + "/healthz")
    node_command = [sys.executable, "-m", "nodes", "--name", "node-1", "--port", str(node_port), "--source", source]
    # From the checkout's folder, `python -m nodes` imports that checkout's code before the installed one.
    spawn(stack, [*node_command, *node_args], {"FARM_CACHE_URL": redis.url}, cwd=code)
    url = f"http://127.0.0.1:{node_port}"
    wait_ok(url + "/healthz")
    yield Target(url, [url], source)


@contextmanager
def farm_of_three(tmp: Path) -> Iterator[Target]:
    farm = Farm(tmp / "farm")
    try:
        state = farm.up(nodes=3, cache=CacheChoice("redis", None), proxy_port=None, source_latency_ms=SOURCE_LATENCY_MS)
        yield Target(state.proxy_url, [state.node_url(name) for name in state.nodes], state.source_url)
    finally:
        farm.down()


def check(label: str, met: bool) -> str:
    return f"{label}: {'met' if met else 'MISSED'}"


def report(title: str, steps: list[Step]) -> bool:
    """Prints the steps and their goals; False when a step measured nothing."""
    print(title)
    print(
        "  clients    2xx/s  vs first   503 shed  unexplained  cache errors  hit ratio  source reads/item/node   p99 ms"
    )
    reference = steps[0].goodput
    for step in steps:
        ratio = step.goodput / reference if reference else 0.0
        print(
            f"  {step.clients:>7} {step.goodput:>8,.0f} {ratio:>9.2f} {step.shed:>10,} {step.unexplained:>12,} "
            f"{step.cache_errors:>13,} {step.hit_ratio:>10.3f} {step.reads_per_item_node:>22} {step.p99_ms:>8.1f}"
        )
    empty = [step.clients for step in steps if not step.measured]
    if empty:
        print(f"  MEASURED NOTHING at {', '.join(map(str, empty))} clients: no request got a 2xx answer")
        return False
    worst = min(step.goodput for step in steps[1:]) / reference if len(steps) > 1 else 1.0
    print(
        "  goals: "
        + "; ".join(
            (
                check(
                    f"source reads/item/node <= {MAX_READS_PER_ITEM_NODE}",
                    all(s.reads_per_item_node <= MAX_READS_PER_ITEM_NODE for s in steps),
                ),
                check("cache errors 0", all(s.cache_errors == 0 for s in steps)),
                check("unexplained 0", all(s.unexplained == 0 for s in steps)),
                check(f"hit ratio >= {MIN_HIT_RATIO}", all(s.hit_ratio >= MIN_HIT_RATIO for s in steps)),
                check(f"2xx/s vs first >= {MIN_GOODPUT_RATIO} (worst {worst:.2f})", worst >= MIN_GOODPUT_RATIO),
            )
        )
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--ramp", default="32,128,256,512", help="clients of each step, the first the reference")
    parser.add_argument("--only", choices=("node", "farm"), default=None)
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout whose node runs the ramp first")
    parser.add_argument("--node-args", default="", help="more flags for the one node, e.g. '--max-in-flight 32'")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: `make bench` installs it (Debian package wrk)")
    clients = [int(n) for n in args.ramp.split(",")]
    if args.baseline is not None and not (args.baseline / "nodes" / "__main__.py").is_file():
        raise SystemExit(f"--baseline {args.baseline}: not a checkout of cachefarm (no nodes/__main__.py)")
    measured = True
    with tempfile.TemporaryDirectory(prefix="cachefarm-overload-") as tmp_name:
        tmp = Path(tmp_name)
        if args.only != "farm":
            runs = [(args.baseline, f"baseline node ({args.baseline})")] if args.baseline else []
            runs.append((None, "this node"))
            for code, name in runs:
                with one_node(tmp, code, args.node_args.split()) as target:
                    title = f"{name}: one node on redis, source store {SOURCE_LATENCY_MS} ms, {args.seconds:g} s a step"
                    measured &= report(title, ramp(target, clients, args.seconds, tmp))
                (tmp / "catalog.db").unlink()
        if args.only != "node":
            with farm_of_three(tmp) as target:
                title = f"farm: 3 nodes on redis behind the proxy, {args.seconds:g} s a step"
                measured &= report(title, ramp(target, clients, args.seconds, tmp))
    sys.stdout.flush()
    if not measured:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
