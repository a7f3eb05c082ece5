"""A node's cache hit path against a bare aiohttp app doing one Redis GET per request, same Redis, same run.

    .venv/bin/python bench/node.py [--seconds 4] [--connections 32] [--rounds 5]

Needs wrk (`make bench` installs it) and redis-server. Starts a private redis-server, the source store and one
node (`python -m nodes`, its cache on that Redis, as a farm starts them), and the anchor: a bare aiohttp app
(on uvloop when it is installed, as the node) answering each `GET /items/1` with one redis-py asyncio `GET` of a
value as large as item 1. Warms item 1 in the node's cache, then runs wrk against both, alternating which goes
first, for --rounds rounds; the node's /stats at the end say how many were hits (a cache error, a read past the
node's 200 ms cache deadline on an overloaded machine, is served from the source store and counted).
Target: node >= 0.8 of the anchor's requests/s (the median of the rounds' ratios).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import urllib.request
from contextlib import ExitStack

import redis
import redis.asyncio
from aiohttp import web
from benchkit import spawn, wait_ok, wrk

from farm.ports import free_port
from farm.testing.servers import start_redis

GOAL = 0.8
ANCHOR_KEY = "bench:anchor"


def serve_anchor(port: int, redis_url: str) -> None:
    """The anchor: what the node's hit path costs at best, one Redis round trip and aiohttp around it."""
    client = redis.asyncio.Redis.from_url(redis_url)

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=await client.get(ANCHOR_KEY), content_type="application/json")

    app = web.Application()
    app.router.add_get("/items/{item_id}", get)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read(), dict(reply.headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one wrk run (default 4)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=5, help="paired wrk runs (default 5)")
    parser.add_argument("--anchor", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the anchor's own process
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anchor:
        serve_anchor(args.anchor, args.redis)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: `make bench` installs it (Debian package wrk)")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp:
        redis_server = stack.enter_context(start_redis())
        source_port, node_port, anchor_port = free_port(), free_port(), free_port()
        source = [sys.executable, "-m", "farm.source", "--port", str(source_port), "--catalog", f"{tmp}/catalog.db"]
        spawn(stack, source)
        wait_ok(f"http://127.0.0.1:{source_port}/healthz")
        node = [sys.executable, "-m", "nodes", "--name", "node-1", "--port", str(node_port)]
        spawn(stack, [*node, "--source", f"http://127.0.0.1:{source_port}"], {"FARM_CACHE_URL": redis_server.url})
        spawn(stack, [sys.executable, __file__, "--anchor", str(anchor_port), "--redis", redis_server.url])
        urls = {"node": f"http://127.0.0.1:{node_port}/items/1", "anchor": f"http://127.0.0.1:{anchor_port}/items/1"}
        wait_ok(f"http://127.0.0.1:{node_port}/healthz")
        item, _ = fetch(urls["node"])  # the miss that puts item 1 in the cache
        body, headers = fetch(urls["node"])
        if headers.get("X-Cache") != "HIT" or body != item:
            raise SystemExit(f"the node did not answer item 1 from its cache: X-Cache {headers.get('X-Cache')}")
        with redis.Redis.from_url(redis_server.url) as client:
            client.set(ANCHOR_KEY, item)
        wait_ok(urls["anchor"])
        if fetch(urls["anchor"])[0] != item:
            raise SystemExit("the anchor's reply differs from the node's")
        for url in urls.values():
            wrk(url, 1, args.connections)  # warm-up: connections, code paths

        print(
            f"one node, one private redis-server; wrk 1 thread, {args.connections} connections, "
            f"{args.rounds} rounds of {args.seconds:g} s; GET /items/1 ({len(item)} bytes) from the cache"
        )
        print(
            f"{'round':<6} {'node req/s':>11} {'p50 ms':>7} {'p99 ms':>7}  {'anchor req/s':>12} {'p50 ms':>7} "
            f"{'p99 ms':>7}  {'ratio':>5}"
        )
        ratios = []
        for round_ in range(args.rounds):
            order = ("node", "anchor") if round_ % 2 == 0 else ("anchor", "node")
            measured = {name: wrk(urls[name], args.seconds, args.connections) for name in order}
            (node_rate, node_p50, node_p99), (anchor_rate, anchor_p50, anchor_p99) = (
                measured["node"],
                measured["anchor"],
            )
            ratios.append(node_rate / anchor_rate)
            print(
                f"{round_ + 1:<6} {node_rate:>11,.0f} {node_p50:>7.2f} {node_p99:>7.2f}  {anchor_rate:>12,.0f} "
                f"{anchor_p50:>7.2f} {anchor_p99:>7.2f}  {ratios[-1]:>5.2f}"
            )
        ratio = statistics.median(ratios)
        stats = json.loads(fetch(f"http://127.0.0.1:{node_port}/stats")[0])
        print(f"node: hits {stats['hits']:,}, misses {stats['misses']}, cache errors {stats['cache_errors']}")
        verdict = "met" if ratio >= GOAL else "MISSED"
        print(f"node / anchor: {ratio:.2f} (median of {args.rounds} rounds; goal >= {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
