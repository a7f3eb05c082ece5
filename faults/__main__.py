"""``python -m faults``: the fault proxy. Its control API's bearer token comes from ``FARM_FAULTS_TOKEN``."""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import AsyncIterator

from aiohttp import web

from faults.control import control_app
from faults.table import FaultTable

TOKEN_VARIABLE = "FARM_FAULTS_TOKEN"
_LINK = re.compile(r"^(?P<name>[^=\s]+)=(?P<listen>\d+):(?P<host>[^:\s]+|\[[^\]]+\]):(?P<port>\d+)$")

LinkArg = tuple[str, int, str, int]


def parse_link(text: str) -> LinkArg:
    match = _LINK.match(text)
    if match is None:
        raise ValueError(f"--link {text!r}: expected NAME=LISTEN_PORT:TARGET_HOST:TARGET_PORT")
    return match["name"], int(match["listen"]), match["host"].strip("[]"), int(match["port"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m faults", description="A TCP proxy that injects network faults.")
    parser.add_argument("--control-port", type=int, required=True, help="port of the control API (127.0.0.1)")
    parser.add_argument("--link", action="append", default=[], metavar="NAME=LISTEN_PORT:HOST:PORT")
    args = parser.parse_args()
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        parser.error(f"set {TOKEN_VARIABLE} to the control API's bearer token")
    try:
        links = [parse_link(text) for text in args.link]
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s faults %(levelname)s %(name)s: %(message)s")
    table = FaultTable()
    app = control_app(table, token)

    async def open_links(app: web.Application) -> AsyncIterator[None]:
        for link in links:
            await table.add_link(*link)
        yield

    app.cleanup_ctx.insert(0, open_links)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=args.control_port, print=None, access_log=None, shutdown_timeout=1)


if __name__ == "__main__":
    main()
