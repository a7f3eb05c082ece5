"""``python -m proxy``: run the round-robin proxy. The admin token comes from ``FARM_PROXY_TOKEN``."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from proxy.admin import backend_problem
from proxy.app import Proxy, ProxySettings
from proxy.discovery import parse_host_port
from proxy.drain import DRAIN_TIMEOUT_S
from proxy.server import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, IDLE_TIMEOUT_S, REQUEST_BUFFER
from proxy.trust import TrustedProxies

TOKEN_VARIABLE = "FARM_PROXY_TOKEN"
LISTEN_ERRORS = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
"""A port or address the proxy cannot have: said in one line, not a traceback."""


def port(text: str) -> int:
    """A TCP port, 0 (a free one) to 65535: refused, not wrapped or passed to the socket as it is."""
    number = _integer(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port: give 0 to 65535")
    return number


def seconds(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < number < float("inf"):  # NaN is refused too
        raise argparse.ArgumentTypeError(f"{text}: give a number of seconds above 0")
    return number


def size(text: str) -> int:
    number = _integer(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text}: give a number of bytes above 0")
    return number


def backend(text: str) -> tuple[str, str]:
    """NAME=URL, held to the admin API's check: a backend the proxy cannot reach is refused before it starts."""
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=URL")
    problem = backend_problem(name, url)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return name, url


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m proxy", description="A round-robin HTTP reverse proxy.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=8080)
    parser.add_argument(
        "--backend", type=backend, action="append", default=[], metavar="NAME=URL", help="a backend (repeatable)"
    )
    parser.add_argument("--backends-dns", metavar="HOST:PORT", help="find backends by resolving HOST periodically")
    parser.add_argument("--health-interval", type=seconds, default=1.0, help="seconds between health checks")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=30.0,
        help="seconds a backend may stay silent, before or during its answer, and a client may take none of it",
    )
    parser.add_argument(
        "--idle-timeout",
        type=seconds,
        default=IDLE_TIMEOUT_S,
        help=f"seconds a client connection may stay open with no request under way (default {IDLE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=seconds,
        default=HEADER_TIMEOUT_S,
        help="seconds a request header and the buffered part of its body may take to arrive whole, 408 beyond "
        f"(default {HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=seconds,
        default=BODY_TIMEOUT_S,
        help=f"seconds a streamed request body may pause, 408 beyond (default {BODY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--request-buffer",
        type=size,
        default=REQUEST_BUFFER,
        metavar="BYTES",
        help="bytes of a request body read before a backend is chosen; the rest of a larger body streams "
        f"(default {REQUEST_BUFFER})",
    )
    parser.add_argument(
        "--admin-port",
        type=port,
        metavar="PORT",
        help="the admin API also listens on 127.0.0.1:PORT, which can be firewalled apart from the data port",
    )
    parser.add_argument(
        "--admin-port-only",
        action="store_true",
        help="the admin API only on --admin-port: /_proxy/... on the data port is a 404",
    )
    parser.add_argument(
        "--trusted-proxies",
        action="append",
        default=[],
        metavar="CIDRS",
        help="comma-separated addresses or networks of proxies in front of this one, whose X-Forwarded-* headers "
        "are kept (repeatable; from any other client they are replaced)",
    )
    args = parser.parse_args()
    if args.admin_port_only and args.admin_port is None:
        parser.error("--admin-port-only needs --admin-port PORT")
    if args.admin_port and args.admin_port == args.port:
        parser.error(f"--admin-port {args.admin_port}: give a port other than --port's")
    backends = dict(args.backend)
    try:
        dns = parse_host_port(args.backends_dns) if args.backends_dns else None
        TrustedProxies.parse(args.trusted_proxies)
    except ValueError as exc:
        parser.error(str(exc))
    token = os.environ.get(TOKEN_VARIABLE)  # after the flags: a wrong flag is reported with or without it
    if not token:
        parser.error(f"set {TOKEN_VARIABLE} to the admin API's bearer token")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s proxy %(levelname)s %(name)s: %(message)s")
    settings = ProxySettings(
        admin_token=token,
        backends=backends,
        health_interval=args.health_interval,
        backend_timeout=args.timeout,
        backends_dns=dns,
        trusted_proxies=tuple(args.trusted_proxies),
        idle_timeout=args.idle_timeout,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        request_buffer=args.request_buffer,
        admin_port=args.admin_port,
        admin_on_data_port=not args.admin_port_only,
    )
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        try:
            runner.run(serve(settings, args.host, args.port))
        except socket.gaierror as exc:  # a host that names no address of this machine
            sys.exit(f"python -m proxy: cannot listen on {args.host}: {exc.strerror}")
        except OSError as exc:
            if exc.errno not in LISTEN_ERRORS:
                raise
            sys.exit(f"python -m proxy: cannot listen: {exc}")


async def serve(settings: ProxySettings, host: str, port: int) -> None:
    """Until SIGTERM or SIGINT; then requests in flight get ``DRAIN_TIMEOUT_S`` to finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    proxy = Proxy(settings)
    try:
        await proxy.start(host, port)
        # What was made at start (modules, the admin app) lives as long as the process: out of the collector's
        # sight, a full collection looks only at what requests made, and costs no latency spike.
        gc.freeze()
        logging.getLogger("proxy").info("listening on %s", proxy.url)
        if proxy.admin_url:
            logging.getLogger("proxy").info("admin API on %s", proxy.admin_url)
        await stop.wait()
    finally:
        await proxy.aclose(drain_timeout=DRAIN_TIMEOUT_S)


if __name__ == "__main__":
    main()
