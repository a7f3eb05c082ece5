"""The proxy application: round-robin forwarding, health checks, discovery and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from proxy.admin import POOL, PREFIX, admin_app
from proxy.backends import BackendPool
from proxy.discovery import run_discovery
from proxy.drain import DRAIN_TIMEOUT_S
from proxy.forward import Forwarder
from proxy.health import run_health_checks

FORWARDER = web.AppKey("forwarder", Forwarder)


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    admin_token: str
    backends: dict[str, str] = field(default_factory=dict)
    health_interval: float = 1.0
    backend_timeout: float = 30.0
    backends_dns: tuple[str, int] | None = None
    dns_interval: float = 2.0
    drain_timeout: float = DRAIN_TIMEOUT_S


def create_app(settings: ProxySettings) -> web.Application:
    if not settings.admin_token:
        raise ValueError("the proxy needs an admin token")
    app = web.Application(client_max_size=1024**3)
    pool = app[POOL] = BackendPool()
    for name, url in settings.backends.items():
        pool.add(name, url)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=None)
        async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        ) as session:
            app[FORWARDER] = Forwarder(pool, session, settings.backend_timeout)
            tasks = {asyncio.create_task(run_health_checks(pool, session, settings.health_interval))}
            if settings.backends_dns is not None:
                host, port = settings.backends_dns
                tasks.add(
                    asyncio.create_task(run_discovery(pool, host, port, settings.dns_interval, settings.drain_timeout))
                )
            yield
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def forward(request: web.Request) -> web.StreamResponse:
        return await request.app[FORWARDER].handle(request)

    app.cleanup_ctx.append(resources)
    app.add_subapp(PREFIX, admin_app(pool, settings.admin_token))
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
