"""Real aiohttp servers on free ports for tests, and a client session to talk to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serve(app: web.Application, *, backlog: int = 128) -> AsyncIterator[str]:
    """Runs ``app`` on 127.0.0.1 and a free port; yields its base URL. ``backlog``: connections the kernel holds
    for it before it accepts them (aiohttp's default; a server facing a burst needs more)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=backlog)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
