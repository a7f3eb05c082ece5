"""What every request's exchange shares: the backends, the upstream connections, the timeout and its watchdog,
and where the admin API is."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.backends import BackendPool
from proxy.exchange import Exchange
from proxy.request import IncomingRequest
from proxy.upstream import Origin, UpstreamPool

if TYPE_CHECKING:
    from proxy.server import ClientConnection


class Forwarder:
    """What every exchange shares: the backends, the upstream connections, the timeout, the admin API's socket."""

    def __init__(self, pool: BackendPool, upstreams: UpstreamPool, timeout: float, admin: Origin | None = None) -> None:
        self.pool = pool
        self.upstreams = upstreams
        self.timeout = timeout
        self.admin = admin
        self.loop = asyncio.get_running_loop()
        self._active: set[Exchange] = set()
        self._watchdog: asyncio.TimerHandle | None = None
        self._tick = min(1.0, timeout / 4)
        """How often silent exchanges are looked for: a timeout fires up to this late, and costs no timer per
        request."""

    def exchange(self, client: ClientConnection, request: IncomingRequest) -> Exchange:
        return Exchange(self, client, request)

    def watch(self, exchange: Exchange) -> None:
        self._active.add(exchange)
        if self._watchdog is None:
            self._watchdog = self.loop.call_later(self._tick, self._look)

    def unwatch(self, exchange: Exchange) -> None:
        self._active.discard(exchange)

    def _look(self) -> None:
        limit = self.loop.time() - self.timeout
        for exchange in [e for e in self._active if e.last_active <= limit]:
            exchange.timed_out()
        self._watchdog = self.loop.call_later(self._tick, self._look) if self._active else None

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
