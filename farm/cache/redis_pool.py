"""Redis connection pools that make a caller wait for a free connection, in turn, instead of failing.

redis-py's default pool raises "Too many connections" as soon as every connection is in use: a burst of callers
becomes a burst of errors. Its ``BlockingConnectionPool`` waits, but a connection given back wakes one waiter that
must then take it against any newcomer; under a sustained burst some waiters lose every time and fail when their
wait runs out. So async callers first take a slot of a FIFO semaphore with as many slots as connections: a freed
slot goes to the longest waiter, and the blocking pool under it then always has a connection to give.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from farm.cache.errors import CacheConnectionError


class ConnectionSlots:
    """``async with slots:`` around each use of one pooled connection; raises CacheConnectionError after
    ``wait`` seconds without a free one (None: waits as long as it takes, the caller's own timeout decides)."""

    def __init__(self, size: int, wait: float | None, where: str) -> None:
        self.size = size
        self.wait = wait
        self._where = where
        self._free = asyncio.Semaphore(size)

    async def __aenter__(self) -> None:
        free = self._free
        if not free.locked():  # a connection is free and nobody waits for one: no timer to set
            await free.acquire()
            return
        try:
            async with asyncio.timeout(self.wait):
                await free.acquire()
        except TimeoutError:
            raise CacheConnectionError(
                f"no free connection to {self._where} in {self.wait:.3f} s ({self.size} in use): give the cache "
                "more connections (max_connections) or its callers more time (pool_wait)"
            ) from None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._free.release()


CLOSED_TRANSPORT = "the handler is closed"
"""uvloop's words when a write meets a connection the peer has reset (MagicStack/uvloop#506): asyncio's own loop
drops the write and the read that follows fails; uvloop raises RuntimeError, which redis-py passes on as it is."""


class _LostConnectionIsAConnectionError:
    """Mixed into the pool's connection class: a write on a connection that is gone is a ConnectionError, whatever
    the event loop, so that callers treat it as every other lost connection (and the pool opens a new one)."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RuntimeError as exc:  # redis-py has already disconnected the connection
            if CLOSED_TRANSPORT not in str(exc):
                raise
            raise RedisConnectionError("the connection to Redis was lost (reset by the peer) while writing") from exc


def _with_lost_connections_as_errors(pool: redis.asyncio.ConnectionPool) -> redis.asyncio.ConnectionPool:
    base = pool.connection_class
    pool.connection_class = type(base.__name__, (_LostConnectionIsAConnectionError, base), {})
    return pool


def open_clients(
    url: str, max_connections: int, pool_wait: float | None, options: dict[str, Any]
) -> tuple[redis.Redis, redis.asyncio.Redis]:
    """A sync and an async client, each on a blocking pool of ``max_connections`` that waits ``pool_wait``."""
    if max_connections < 1:
        raise ValueError(f"max_connections={max_connections!r}: must be at least 1")
    if pool_wait is not None and pool_wait <= 0:
        raise ValueError(f"pool_wait={pool_wait!r}: must be a positive number of seconds, or None to wait as needed")
    pooled = {**options, "max_connections": max_connections, "timeout": pool_wait}
    sync_pool = redis.BlockingConnectionPool.from_url(url, **pooled)
    async_pool = _with_lost_connections_as_errors(redis.asyncio.BlockingConnectionPool.from_url(url, **pooled))
    return redis.Redis.from_pool(sync_pool), redis.asyncio.Redis.from_pool(async_pool)
