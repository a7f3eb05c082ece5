"""The proxy: the data path on its port, health checks, discovery, and the admin API behind the same port
(and, with ``admin_port``, on a loopback port of its own).

Requests are parsed and forwarded on asyncio protocols (``proxy.server``, ``proxy.exchange``): aiohttp's
client and server machinery cost about 90% of the proxy's time when it forwarded every request. The admin
API stays an aiohttp application; it listens on a Unix socket in a private folder, and the data path forwards
``/_proxy/...`` to it like to a backend, so clients see one port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from proxy.admin_site import AdminSite
from proxy.backends import BackendPool
from proxy.discovery import run_discovery
from proxy.drain import DRAIN_TIMEOUT_S
from proxy.forward import Forwarder
from proxy.health import run_health_checks
from proxy.server import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, IDLE_TIMEOUT_S, REQUEST_BUFFER, ProxyServer
from proxy.trust import TrustedProxies
from proxy.upstream import Origin, UpstreamPool


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    admin_token: str
    backends: dict[str, str] = field(default_factory=dict)
    health_interval: float = 1.0
    backend_timeout: float = 30.0
    backends_dns: tuple[str, int] | None = None
    dns_interval: float = 2.0
    drain_timeout: float = DRAIN_TIMEOUT_S
    admin_port: int | None = None
    """The admin API also listens on 127.0.0.1 at this port (0: a free one), apart from the data port."""
    admin_on_data_port: bool = True
    """False: ``/_proxy/...`` on the data port is a 404 (with ``admin_port``, the only way in is that port)."""
    idle_timeout: float = IDLE_TIMEOUT_S
    """Seconds a client connection may stay open with no request under way."""
    header_timeout: float = HEADER_TIMEOUT_S
    """Seconds a request header, and the buffered part of its body, may take to arrive whole (408 beyond)."""
    body_timeout: float = BODY_TIMEOUT_S
    """Seconds a streamed request body may pause (408 beyond)."""
    request_buffer: int = REQUEST_BUFFER
    """Bytes of request body read before a backend is chosen: a smaller body is read whole."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses and CIDR networks of proxies in front of this one, whose X-Forwarded-* headers are believed."""


class Proxy:
    """One running proxy; ``start`` it, then ``aclose`` it (or use ``running``)."""

    def __init__(self, settings: ProxySettings) -> None:
        if not settings.admin_token:
            raise ValueError("the proxy needs an admin token")
        for name in ("idle_timeout", "header_timeout", "body_timeout", "backend_timeout", "request_buffer"):
            if not getattr(settings, name) > 0:
                raise ValueError(f"{name}={getattr(settings, name)!r}: give a number of seconds above 0")
        if not settings.admin_on_data_port and settings.admin_port is None:
            raise ValueError("the admin API needs a way in: keep it on the data port or give it an admin port")
        self.settings = settings
        self.trusted = TrustedProxies.parse(settings.trusted_proxies)
        self.pool = BackendPool()
        for name, url in settings.backends.items():
            self.pool.add(name, url)
        self.upstreams = UpstreamPool()
        self.url = ""
        self._server: ProxyServer | None = None
        self.admin_url = ""
        """The admin API's own ``http://127.0.0.1:PORT`` with ``admin_port`` set, else empty."""
        self._admin: AdminSite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listens on ``host``:``port`` (0: a free port); returns the proxy's URL."""
        settings = self.settings
        self._admin = AdminSite(self.pool, settings.admin_token)
        await self._admin.start(settings.admin_port)
        self.admin_url = self._admin.url

        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self._tasks.add(asyncio.create_task(run_health_checks(self.pool, self._session, settings.health_interval)))
        if settings.backends_dns is not None:
            dns_host, dns_port = settings.backends_dns
            discovery = run_discovery(self.pool, dns_host, dns_port, settings.dns_interval, settings.drain_timeout)
            self._tasks.add(asyncio.create_task(discovery))

        admin = Origin("localhost", 0, unix_path=self._admin.socket_path) if settings.admin_on_data_port else None
        forwarder = Forwarder(self.pool, self.upstreams, settings.backend_timeout, admin)
        self._server = ProxyServer(
            forwarder,
            asyncio.get_running_loop(),
            trusted=self.trusted,
            idle_timeout=settings.idle_timeout,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            request_buffer=settings.request_buffer,
        )
        bound = await self._server.start(host, port)
        self.url = f"http://{host}:{bound}"
        return self.url

    async def aclose(self, drain_timeout: float = 0.0) -> None:
        """Stops taking connections, lets requests in flight finish for up to ``drain_timeout`` s, then stops."""
        if self._server is not None:
            await self._server.shutdown(drain_timeout)
            self._server.forwarder.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.upstreams.close()
        if self._session is not None:
            await self._session.close()
        if self._admin is not None:
            await self._admin.aclose()


@contextlib.asynccontextmanager
async def running(settings: ProxySettings, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Proxy]:
    """A started proxy (``.url``, ``.pool``), closed on exit."""
    proxy = Proxy(settings)
    try:
        await proxy.start(host, port)
        yield proxy
    finally:
        await proxy.aclose()
