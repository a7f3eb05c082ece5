"""The proxy against nginx and against going direct, same backends, same run; and farm start/restart times.

    .venv/bin/python bench/proxy.py [--seconds 5] [--connections 32] [--rounds 5] [--against REF]

Needs nginx and wrk (`make bench` installs them). Starts two nodes (no cache; the load hits /healthz, so
that the proxies' own cost is what differs), the proxy in front of both, and nginx (one worker, keep-alive
upstream) in front of the same two. Then:
- peak: --rounds rounds of wrk with --connections for --seconds against the proxy and nginx back to back (which
  goes first alternates), and once against a node directly; the ratio is the median of the rounds' ratios, so
  that a burst of other work on the machine falls on both sides or is dropped; with the CPU time each proxy
  process used per request (from /proc), which other work on the machine disturbs far less;
- one connection sending requests back to back: the median wait, direct, through each proxy and nginx;
- at half the proxy's peak rate: wrk paced with a per-request delay, --rounds times direct, through the proxy
  and through nginx; the p99 each adds is the median of the rounds' differences (nginx's shows what the
  machine itself adds to a hop at that moment);
- `farm up` of 3 nodes to healthy, and `farm restart-node` to healthy, as the commands report them.
--against REF also runs the proxy package as it is at git revision REF (e.g. main) in every round, next to
this one, with its own ratio and its own p99 at half its own peak.
Goals: proxy >= 0.8 of nginx's requests/s; p99 added by the proxy < 1 ms at half its peak.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from io import BytesIO
from pathlib import Path

from benchkit import PACE_SCRIPT, children, cpu_seconds, spawn, wait_ok, wrk, wrk_bench_arguments

from farm.ports import free_port

RATIO_GOAL = 0.8
ADDED_P99_GOAL_MS = 1.0
PACED_CONNECTIONS = 8

NGINX_CONF = """worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream nodes {{ server 127.0.0.1:{a}; server 127.0.0.1:{b}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://nodes; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
"""


def farm_timings(tmp: Path) -> tuple[str, str]:
    run = str(tmp / "farm")
    cli = [sys.executable, "-m", "farm.cli"]
    up = subprocess.run(
        [*cli, "up", "--nodes", "3", "--cache", "redis", "--run-dir", run], capture_output=True, text=True, check=True
    ).stdout
    try:
        restart = subprocess.run(
            [*cli, "restart-node", "node-2", "--run-dir", run], capture_output=True, text=True, check=True
        ).stdout
    finally:
        subprocess.run([*cli, "down", "--run-dir", run], capture_output=True, check=False)
    found_up = re.search(r"in ([\d.]+ s)", up)
    found_restart = re.search(r"in ([\d.]+ s)", restart)
    return (found_up[1] if found_up else up), (found_restart[1] if found_restart else restart)


def proxy_at(revision: str, into: Path) -> Path:
    """The proxy package as it is at a git revision, extracted under ``into``; its folder goes on PYTHONPATH."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "proxy"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"--against {revision}: git archive failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def pace(url: str, rate: float, script: Path) -> float:
    """The per-request delay (ms) that makes wrk send ``rate`` requests/s on PACED_CONNECTIONS connections."""
    first = delay_ms = PACED_CONNECTIONS / rate * 1000
    for _ in range(4):
        script.write_text(PACE_SCRIPT.format(delay=f"{delay_ms:.3f}"))
        reached = wrk(url, 1, PACED_CONNECTIONS, script)[0]
        delay_ms = delay_ms + PACED_CONNECTIONS * (1 / rate - 1 / reached) * 1000
        delay_ms = min(max(delay_ms, first / 2), first)  # a busy second on the machine must not unpace the run
    script.write_text(PACE_SCRIPT.format(delay=f"{delay_ms:.3f}"))
    return delay_ms


def more_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", metavar="REF", help="also run the proxy as it is at this git revision")


def main() -> None:
    args = wrk_bench_arguments(__doc__, more_arguments)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        a, b, nginx_port = free_port(), free_port(), free_port()
        for name, port in (("node-1", a), ("node-2", b)):
            node = ["--name", name, "--port", str(port), "--source", "http://127.0.0.1:9", "--cache", "none"]
            spawn(stack, [sys.executable, "-m", "nodes", *node])
        backends = ["--backend", f"node-1=http://127.0.0.1:{a}", "--backend", f"node-2=http://127.0.0.1:{b}"]
        proxies = {"proxy": Path(__file__).resolve().parent.parent}
        if args.against:
            proxies[f"proxy at {args.against}"] = proxy_at(args.against, tmp / "against")
        urls = {"direct (one node)": f"http://127.0.0.1:{a}/healthz"}
        pids = {}
        for label, path in proxies.items():
            port = free_port()
            command = [sys.executable, "-m", "proxy", "--port", str(port), *backends]
            # From its own folder: `python -m` puts the current folder first on the path.
            pids[label] = spawn(stack, command, {"FARM_PROXY_TOKEN": "bench", "PYTHONPATH": str(path)}, cwd=path).pid
            urls[label] = f"http://127.0.0.1:{port}/healthz"
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, a=a, b=b, port=nginx_port))
        nginx = spawn(stack, ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"])
        urls["nginx"] = f"http://127.0.0.1:{nginx_port}/healthz"
        for url in urls.values():
            wait_ok(url)
        pids["nginx"] = children(nginx.pid)[0]  # its one worker
        time.sleep(1.5)  # the proxies' first health checks
        for label in proxies:
            wrk(urls[label], 1, args.connections)  # warm-up

        print(f"peak: wrk, 1 thread, {args.connections} connections, {args.seconds:g} s, GET /healthz, two nodes")
        contenders = [*proxies, "nginx"]
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in contenders}
        cpu: dict[str, list[float]] = {label: [] for label in contenders}
        for round_number in range(args.rounds):
            order = contenders if round_number % 2 == 0 else contenders[::-1]
            for label in order:
                before = cpu_seconds(pids[label])
                runs[label].append(wrk(urls[label], args.seconds, args.connections))
                requests = runs[label][-1][0] * max(1, round(args.seconds))
                cpu[label].append((cpu_seconds(pids[label]) - before) / requests * 1e6)
        direct = wrk(urls["direct (one node)"], args.seconds, args.connections)
        peak = {label: statistics.median(r[0] for r in found) for label, found in runs.items()}
        for label, found in [("direct (one node)", [direct]), *runs.items()]:
            rates = ", ".join(f"{r[0]:,.0f}" for r in found)
            rate, p99 = statistics.median(r[0] for r in found), statistics.median(r[2] for r in found)
            print(f"  {label:<22} {rate:>9,.0f} req/s   p99 {p99:6.2f} ms   ({rates})")
        for label in proxies:
            ratio = statistics.median(p[0] / n[0] for p, n in zip(runs[label], runs["nginx"], strict=True))
            verdict = "met" if ratio >= RATIO_GOAL else "MISSED"
            print(f"  {label} / nginx: {ratio:.2f} (goal >= {RATIO_GOAL}: {verdict})")
        spent = ", ".join(f"{label} {statistics.median(cpu[label]):.0f} µs" for label in contenders)
        print(f"  CPU per request, the proxy process alone: {spent}")

        print(f"one connection, requests back to back, {args.rounds} rounds: the median wait (p50)")
        alone: dict[str, list[float]] = {label: [] for label in urls}
        for _ in range(args.rounds):
            for label, url in urls.items():
                alone[label].append(wrk(url, max(1.0, args.seconds / 2), 1)[1])
        waits = ", ".join(f"{label} {statistics.median(found) * 1000:,.0f} µs" for label, found in alone.items())
        print(f"  {waits}")

        for label in proxies:
            half = peak[label] / 2
            script = tmp / "pace.lua"
            delay_ms = pace(urls[label], half, script)
            print(
                f"{label} at half its peak (~{half:,.0f} req/s: {PACED_CONNECTIONS} connections, "
                f"{delay_ms:.2f} ms apart), {args.rounds} rounds"
            )
            paced: dict[str, list[tuple[float, float, float]]] = {"direct (one node)": [], label: [], "nginx": []}
            for _ in range(args.rounds):
                for target in paced:
                    paced[target].append(wrk(urls[target], args.seconds, PACED_CONNECTIONS, script))
            for target, found in paced.items():
                rate = statistics.median(r[0] for r in found)
                p50, p99 = statistics.median(r[1] for r in found), statistics.median(r[2] for r in found)
                print(f"  {target:<22} {rate:>9,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
            added = {
                target: statistics.median(
                    p[2] - d[2] for p, d in zip(paced[target], paced["direct (one node)"], strict=True)
                )
                for target in (label, "nginx")
            }
            verdict = "met" if added[label] < ADDED_P99_GOAL_MS else "MISSED"
            print(
                f"  p99 added by the {label}: {added[label]:.2f} ms (goal < {ADDED_P99_GOAL_MS:g} ms: {verdict}); "
                f"by nginx at the same pace: {added['nginx']:.2f} ms"
            )

    up, restart = farm_timings(Path(tempfile.mkdtemp(prefix="cachefarm-bench-farm-")))
    print(f"farm up (3 nodes, private redis) to healthy: {up} (target < 3 s)")
    print(f"farm restart-node to healthy, drained and back at the proxy: {restart} (target < 1 s)")


if __name__ == "__main__":
    main()
