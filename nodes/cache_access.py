"""Cache calls with a deadline: a cache that is down or slow costs a request its speed, never its answer."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TypeVar

from farm.cache import CacheError, DistributedCache, EntryOptions
from nodes.counters import NodeCounters

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_LIFETIME = timedelta(seconds=5)
"""A lock's entry expires on its own: a writer that dies holding it blocks the item's writes this long at most."""
LOCK_OPTIONS = EntryOptions(absolute_expiration_relative_to_now=LOCK_LIFETIME)


class GuardedCache:
    """Wraps the node's cache (or its absence): failures and timeouts count as cache errors and read as misses."""

    def __init__(self, cache: DistributedCache | None, timeout: float, counters: NodeCounters) -> None:
        self.cache = cache
        self.timeout = timeout
        self.counters = counters
        self._failing = False

    @property
    def trusted(self) -> bool:
        """A cache that is there and answering: what a write put in it can be relied on."""
        return self.cache is not None and not self._failing

    async def _guard(self, call: Awaitable[T], what: str) -> T | None:
        try:
            result = await asyncio.wait_for(call, self.timeout)
        except (CacheError, TimeoutError) as exc:
            self.counters.add("cache_errors")
            if not self._failing:  # log the first failure of a run of them, not every one
                self._failing = True
                reason = f"no answer in {self.timeout * 1000:.0f} ms" if isinstance(exc, TimeoutError) else str(exc)
                log.warning("cache %s failed, serving from the source store: %s", what, reason)
            return None
        if self._failing:
            self._failing = False
            log.warning("cache answers again")
        return result

    async def get(self, key: str) -> bytes | None:
        if self.cache is None:
            return None
        return await self._guard(self.cache.aget(key), f"get of {key!r}")

    async def set(self, key: str, value: bytes, options: EntryOptions | None = None) -> None:
        if self.cache is not None:
            await self._guard(self.cache.aset(key, value, options), f"set of {key!r}")

    async def remove(self, key: str) -> None:
        if self.cache is not None:
            await self._guard(self.cache.aremove(key), f"remove of {key!r}")

    async def add(self, key: str, value: bytes, options: EntryOptions | None = None) -> bool | None:
        """True if stored, False if the key held an entry, None without a cache (or when it failed)."""
        if self.cache is None:
            return None
        return await self._guard(self.cache.aadd(key, value, options), f"add of {key!r}")

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Mutual exclusion across every node that shares the cache: an entry added under ``name``.

        Writers of one item take it so that their writes reach the source store and the cache in the
        same order. Without a cache (or with one that fails) there is nothing to order, and no lock."""
        token = secrets.token_bytes(16)
        deadline = time.monotonic() + LOCK_LIFETIME.total_seconds()
        pause = 0.001
        while True:
            taken = await self.add(name, token, LOCK_OPTIONS)
            if taken is None:
                yield  # no cache to keep in order
                return
            if taken:
                break
            if time.monotonic() > deadline:  # the holder must have died; its entry has expired by now
                log.warning("lock %r still held after %s: taking it over", name, LOCK_LIFETIME)
                await self.set(name, token, LOCK_OPTIONS)
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
        try:
            yield
        finally:
            if await self.get(name) == token:  # not ours any more if it expired and another writer took it
                await self.remove(name)
