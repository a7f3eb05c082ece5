"""``python -m farm.source``: run the source store."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from aiohttp import web

from farm.event_loops import fast_loop_factory
from farm.ports import port_argument
from farm.source import flags
from farm.source.app import SourceSettings, create_app
from farm.source.catalog import CATALOG_ITEMS
from nodes.settings import LISTEN_BACKLOG

LISTEN_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m farm.source", description="The farm's slow source store.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_argument, default=8100)
    parser.add_argument(
        "--catalog", type=flags.catalog, default=Path("catalog.db"), help="SQLite file (created if missing)"
    )
    parser.add_argument(
        "--items", type=flags.items, default=CATALOG_ITEMS, help=f"items in a new catalog (default {CATALOG_ITEMS})"
    )
    parser.add_argument("--latency-ms", type=flags.latency_ms, default=20.0, help="added to every request (default 20)")
    parser.add_argument("--jitter-ms", type=flags.jitter_ms, default=0.0, help="up to this much more, at random")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter and of the lost replies")
    parser.add_argument(
        "--fail-writes-after-apply",
        type=flags.fail_writes_after_apply,
        default=0.0,
        help="share of writes applied whose reply is lost",
    )
    args = parser.parse_args()
    settings = SourceSettings(
        args.catalog, args.items, args.latency_ms, args.jitter_ms, args.seed, args.fail_writes_after_apply
    )
    factory = fast_loop_factory()
    try:
        web.run_app(
            create_app(settings),
            host=args.host,
            port=args.port,
            print=None,
            shutdown_timeout=5,
            loop=factory() if factory is not None else None,
            backlog=LISTEN_BACKLOG,  # the nodes' bursts of misses (no cache, cold caches) must not overflow the queue
        )
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        sys.exit(f"python -m farm.source: cannot listen: {exc}")


if __name__ == "__main__":
    main()
