"""The proxy against nginx and against going direct, same backends, same run; and farm start/restart times.

    .venv/bin/python bench/proxy_vs_nginx.py [--seconds 5] [--connections 32]

Needs nginx and wrk (`make bench` installs them). Starts two nodes (no cache; the load hits /healthz, so
that the proxies' own cost is what differs), the proxy in front of both, and nginx (one worker, keep-alive
upstream) in front of the same two. Then:
- peak: wrk with --connections for --seconds against a node directly, the proxy and nginx;
- at half the proxy's peak rate: wrk paced with a per-request delay, p50/p99 direct and through the proxy;
- `farm up` of 3 nodes to healthy, and `farm restart-node` to healthy, as the commands report them.
Targets: proxy >= 0.5 of nginx's requests/s; p99 added by the proxy < 2 ms at half its peak.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchkit import PACE_SCRIPT, spawn, wait_ok, wrk, wrk_bench_arguments

from farm.ports import free_port

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


def main() -> None:
    args = wrk_bench_arguments(__doc__)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        a, b, proxy_port, nginx_port = free_port(), free_port(), free_port(), free_port()
        for name, port in (("node-1", a), ("node-2", b)):
            node = ["--name", name, "--port", str(port), "--source", "http://127.0.0.1:9", "--cache", "none"]
            spawn(stack, [sys.executable, "-m", "nodes", *node])
        backends = ["--backend", f"node-1=http://127.0.0.1:{a}", "--backend", f"node-2=http://127.0.0.1:{b}"]
        spawn(
            stack, [sys.executable, "-m", "proxy", "--port", str(proxy_port), *backends], {"FARM_PROXY_TOKEN": "bench"}
        )
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, a=a, b=b, port=nginx_port))
        spawn(stack, ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"])
        urls = {
            "direct (one node)": f"http://127.0.0.1:{a}/healthz",
            "proxy (two nodes)": f"http://127.0.0.1:{proxy_port}/healthz",
            "nginx (two nodes)": f"http://127.0.0.1:{nginx_port}/healthz",
        }
        for url in urls.values():
            wait_ok(url)
        time.sleep(1.5)  # the proxy's first health checks
        wrk(urls["proxy (two nodes)"], 1, args.connections)  # warm-up
        print(f"peak: wrk, 1 thread, {args.connections} connections, {args.seconds:g} s, GET /healthz")
        peak = {}
        for label, url in urls.items():
            peak[label] = wrk(url, args.seconds, args.connections)
            rate, p50, p99 = peak[label]
            print(f"  {label:<18} {rate:>9,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
        ratio = peak["proxy (two nodes)"][0] / peak["nginx (two nodes)"][0]
        print(
            f"  proxy / nginx: {ratio:.2f} (target >= 0.5); nginx / direct: "
            f"{peak['nginx (two nodes)'][0] / peak['direct (one node)'][0]:.2f}"
        )

        half = peak["proxy (two nodes)"][0] / 2
        connections = 8
        script = tmp / "pace.lua"
        delay_ms = connections / half * 1000
        for _ in range(4):  # wrk paces by a delay per request: find the delay that gives the rate
            script.write_text(PACE_SCRIPT.format(delay=f"{delay_ms:.3f}"))
            rate = wrk(urls["proxy (two nodes)"], 1, connections, script)[0]
            delay_ms = max(0.0, delay_ms + connections * (1 / half - 1 / rate) * 1000)
        script.write_text(PACE_SCRIPT.format(delay=f"{delay_ms:.3f}"))
        print(f"at half the proxy's peak (~{half:,.0f} req/s: {connections} connections, {delay_ms:.2f} ms apart)")
        paced = {}
        for label in ("direct (one node)", "proxy (two nodes)"):
            paced[label] = wrk(urls[label], args.seconds, connections, script)
            rate, p50, p99 = paced[label]
            print(f"  {label:<18} {rate:>9,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
        added = paced["proxy (two nodes)"][2] - paced["direct (one node)"][2]
        print(f"  p99 added by the proxy: {added:.2f} ms (target < 2 ms)")

    up, restart = farm_timings(Path(tempfile.mkdtemp(prefix="cachefarm-bench-farm-")))
    print(f"farm up (3 nodes, private redis) to healthy: {up} (target < 3 s)")
    print(f"farm restart-node to healthy, drained and back at the proxy: {restart} (target < 1 s)")


if __name__ == "__main__":
    main()
