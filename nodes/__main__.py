"""``python -m nodes``: run one node. The cache URL comes from ``FARM_CACHE_URL`` so that no password
appears in a process list; ``--cache none`` runs without a cache."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from datetime import timedelta

from aiohttp import web

from farm.cache import CacheConfigError, mask_secrets
from farm.ports import port_argument
from nodes import flags
from nodes.admission import AdmissionLimits
from nodes.app import create_app
from nodes.replica import ReplicaNameError, replica_name
from nodes.settings import LISTEN_BACKLOG, SHUTDOWN_TIMEOUT_S, WRITE_POLICIES, NodeSettings

LISTEN_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
"""A port or address the node cannot have: said in one line, not a traceback."""

CACHE_URL_VARIABLE = "FARM_CACHE_URL"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m nodes", description="A web server node of the farm.")
    naming = parser.add_mutually_exclusive_group(required=True)
    naming.add_argument("--name")
    naming.add_argument(
        "--name-from-replica",
        action="store_true",
        help="node-N, N being this container's replica number in its compose service (from the engine's DNS)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_argument, required=True)
    parser.add_argument("--source", required=True, help="URL of the source store")
    parser.add_argument("--cache", default=None, help=f"cache URL or 'none' (default: ${CACHE_URL_VARIABLE})")
    parser.add_argument(
        "--item-sliding", type=flags.item_lifetime, default=300.0, help="sliding expiration of items, seconds (0: none)"
    )
    parser.add_argument(
        "--item-absolute", type=flags.item_lifetime, default=None, help="absolute expiration of items, seconds"
    )
    parser.add_argument(
        "--cache-timeout-ms", type=flags.timeout_ms, default=200.0, help="after this, serve from the source"
    )
    parser.add_argument(
        "--write-cache-timeout-ms",
        type=flags.timeout_ms,
        default=2000.0,
        help="after this, a write's cache call gives up",
    )
    parser.add_argument(
        "--source-timeout", type=flags.timeout_s, default=10.0, help="seconds a source call may take (default 10)"
    )
    parser.add_argument(
        "--write-policy",
        choices=WRITE_POLICIES,
        default="strict",
        help="with the cache unreachable: refuse writes (strict, the default) or apply them (available)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log a line per request at INFO (off by default: it costs a busy node a third of its cache hits)",
    )
    flags.add_admission_arguments(parser)
    args = parser.parse_args()
    cache_url = args.cache or os.environ.get(CACHE_URL_VARIABLE)
    if not cache_url:
        parser.error(f"give --cache URL, --cache none, or set {CACHE_URL_VARIABLE}")
    if args.name_from_replica:
        try:
            args.name = replica_name()
        except ReplicaNameError as exc:
            parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s")
    try:
        settings = node_settings(args, cache_url)
    except ValueError as wrong:
        parser.error(str(wrong))
    logging.getLogger("nodes").info("starting on port %d with cache %s", args.port, mask_secrets(cache_url))
    try:
        serve(args, settings)
    except CacheConfigError as exc:  # the cache URL, found wrong when the node opens its cache
        parser.error(f"--cache: {exc}")
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        sys.exit(f"python -m nodes: cannot listen: {exc}")
    sys.exit(0)


def serve(args: argparse.Namespace, settings: NodeSettings) -> None:
    web.run_app(
        create_app(settings),
        host=args.host,
        port=args.port,
        print=None,
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        loop=event_loop(),
        backlog=LISTEN_BACKLOG,
    )


def event_loop() -> asyncio.AbstractEventLoop | None:
    """uvloop's event loop where it is installed (the services extra has it), where the node's I/O costs less;
    None: asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop()


def node_settings(args: argparse.Namespace, cache_url: str) -> NodeSettings:
    return NodeSettings(
        name=args.name,
        source_url=args.source.rstrip("/"),
        cache_url=None if cache_url == "none" else cache_url,
        item_sliding=timedelta(seconds=args.item_sliding) if args.item_sliding else None,
        item_absolute=timedelta(seconds=args.item_absolute) if args.item_absolute else None,
        cache_timeout=args.cache_timeout_ms / 1000,
        write_cache_timeout=args.write_cache_timeout_ms / 1000,
        source_timeout=args.source_timeout,
        write_policy=args.write_policy,
        admission=AdmissionLimits(
            max_in_flight=args.max_in_flight, max_queue=args.max_queue, queue_timeout=args.queue_timeout_ms / 1000
        ),
    )


if __name__ == "__main__":
    main()
