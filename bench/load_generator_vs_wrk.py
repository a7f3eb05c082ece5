"""How fast the scenario load generator can drive requests from one process, against wrk on the same target.

    .venv/bin/python bench/load_generator_vs_wrk.py [--seconds 5] [--connections 32]

Needs nginx and wrk (`make bench` installs them). nginx (one worker) answers GET /items/N itself with a small
JSON body and the nodes' headers, so the target costs next to nothing and the client is what is measured.
- closed loop: wrk, then the load generator, each with --connections for --seconds;
- open loop: the load generator at a fixed 5,000 requests/s: the rate it reached and its p99.
Target: at least 5,000 requests/s from one process.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchkit import spawn, wait_ok, wrk, wrk_bench_arguments

from farm.event_loops import fast_loop_factory
from farm.ports import free_port
from farm.scenario.checks import latency
from farm.scenario.history import Record
from farm.scenario.load import LoadRun, LoadSpec

NGINX_CONF = """worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /items/ {{
      add_header X-Node node-1; add_header X-Cache HIT;
      default_type application/json;
      return 200 '{{"id":1,"name":"item 1","price":9.5,"version":1}}';
    }}
  }}
}}
"""
OPEN_LOOP_RATE = 5000.0


def generate(url: str, spec: LoadSpec) -> tuple[float, list[Record]]:
    records: list[Record] = []
    started = time.monotonic()
    with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:  # the loop `farm run` uses
        runner.run(LoadRun(url, spec, "bench", records, started).run())
    return len(records) / (time.monotonic() - started), records


def main() -> None:
    args = wrk_bench_arguments(__doc__)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
        spawn(stack, ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        wait_ok(url + "/items/1")
        generate(url, LoadSpec(duration_s=1, concurrency=args.connections, keys=1000))  # warm-up
        print(f"closed loop: {args.connections} connections, {args.seconds:g} s, GET /items/N from nginx")
        reference = wrk(url + "/items/1", args.seconds, args.connections)[0]
        print(f"  wrk (C, 1 thread)        {reference:>9,.0f} req/s")
        rate, records = generate(url, LoadSpec(duration_s=args.seconds, concurrency=args.connections, keys=1000))
        errors = sum(not r.ok for r in records)
        print(f"  load generator (Python)  {rate:>9,.0f} req/s   errors {errors}")
        print(
            f"  load generator / wrk: {rate / reference:.2f}; target >= {OPEN_LOOP_RATE:,.0f} req/s: "
            f"{'met' if rate >= OPEN_LOOP_RATE else 'MISSED'}"
        )
        spec = LoadSpec(duration_s=args.seconds, rate=OPEN_LOOP_RATE, keys=1000)
        rate, records = generate(url, spec)
        measured = latency(records)
        p99 = f"{measured.p99_ms:.2f} ms" if measured else "-"
        print(
            f"open loop at {OPEN_LOOP_RATE:,.0f} req/s: reached {rate:,.0f} req/s "
            f"({rate / OPEN_LOOP_RATE:.2f} of the target rate), p99 {p99}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
