"""Cache calls with a deadline: a cache that is down or slow costs a request its speed, never its answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from farm.cache import CacheError, DistributedCache, EntryOptions
from farm.cache.coordination import Coordination, coordination_for
from nodes.counters import NodeCounters

log = logging.getLogger(__name__)
T = TypeVar("T")


class CacheUnavailable(Exception):
    """A cache call failed or did not answer in time: whether it was applied is unknown."""


class NodeBusy(CacheUnavailable):
    """A cache call ran out of time because the node's own event loop was too busy to read the answer: not the
    cache's failure (no cache error is counted), and no reason to read the source store instead."""


class GuardedCache:
    """Wraps the node's cache (or its absence): failures and timeouts count as cache errors.

    ``call`` raises CacheUnavailable for the callers that must know (writes, what the node owes the cache);
    ``get``/``set`` turn a failure into a miss / nothing, for what is only a convenience."""

    def __init__(
        self,
        cache: DistributedCache | None,
        timeout: float,
        counters: NodeCounters,
        node_busy: Callable[[float], bool] | None = None,
    ) -> None:
        """``node_busy(started)``: whether a call that began at ``started`` (``time.monotonic()``) and timed out did
        so because of the node itself (NodeBusy) rather than the cache."""
        self.cache = cache
        self.node_busy = node_busy
        self.coordination: Coordination | None = None if cache is None else coordination_for(cache)
        self.timeout = timeout
        self.counters = counters
        self._failing = False

    async def call(self, call: Awaitable[T], what: str, seconds: float | None = None) -> T:
        """``seconds``: a write's own (longer) limit; a read's cache timeout by default."""
        limit = self.timeout if seconds is None else seconds
        started = time.monotonic()
        try:
            # Not asyncio.wait_for: on Python 3.11 it runs the call in a task of its own, which a hit pays for.
            async with asyncio.timeout(limit):
                result = await call
        except (CacheError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError) and self.node_busy is not None and self.node_busy(started):
                raise NodeBusy(what) from exc
            self.counters.add("cache_errors")
            if not self._failing:  # log the first failure of a run of them, not every one
                self._failing = True
                reason = f"no answer in {limit * 1000:.0f} ms" if isinstance(exc, TimeoutError) else str(exc)
                log.warning("cache %s failed, serving from the source store: %s", what, reason)
            raise CacheUnavailable(what) from exc
        if self._failing:
            self._failing = False
            log.warning("cache answers again")
        return result

    def note_foreign(self, key: str, held: str) -> None:
        """The item's key held something else than an entry (another Redis type, written by something else): a
        cache error. The read goes to the source store, and its add replaces what the key held."""
        self.counters.add("cache_errors")
        log.warning(
            "cache get of %r found a %s, not a cache entry: reading the source store, whose value replaces it",
            key,
            held,
        )

    async def _guard(self, call: Awaitable[T], what: str) -> T | None:
        try:
            return await self.call(call, what)
        except CacheUnavailable:
            return None

    async def warm_up(self, seconds: float) -> None:
        """The cache's connections opened ahead of the first requests; a cache that is down now is opened later,
        by the requests, as before."""
        if self.cache is not None:
            try:
                await self.call(self.cache.awarm_up(), "warm-up", seconds)
            except CacheUnavailable:
                return

    async def get(self, key: str) -> bytes | None:
        if self.cache is None:
            return None
        return await self._guard(self.cache.aget(key), f"get of {key!r}")

    async def set(self, key: str, value: bytes, options: EntryOptions | None = None) -> None:
        if self.cache is not None:
            await self._guard(self.cache.aset(key, value, options), f"set of {key!r}")
