"""What a node owes the cache: invalidations and lock releases it could not make, paid as soon as it answers.

As FusionCache's auto-recovery queues the distributed-cache operations that failed and replays them when the
cache is back, a node keeps the few calls that keep the farm coherent. Both kinds are safe to repeat and to
run late: a remove can only turn a hit into a miss, and a release frees the lock only if this node still
holds it. While an invalidation is owed, the node reads only from the source store: the cache may hold an
entry older than what this node wrote.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from farm.cache.tasks import cancel_and_wait
from nodes.cache_access import CacheUnavailable, GuardedCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Debt:
    key: str
    owner: str | None
    """None: remove the entry under ``key``; else release the lock of ``key`` that ``owner`` took."""
    not_before: float = 0.0
    """time.monotonic() before which the call would be too early (a source write may still land until then)."""

    @property
    def is_invalidation(self) -> bool:
        return self.owner is None

    def describe(self) -> str:
        return f"remove of {self.key!r}" if self.owner is None else f"lock release of {self.key!r}"


class CacheDebts:
    def __init__(self, cache: GuardedCache, retry: float) -> None:
        self.cache = cache
        self.retry = retry
        self._owed: list[Debt] = []
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._owed)

    @property
    def blocking_reads(self) -> bool:
        """An invalidation is due: the cache may hold an entry older than a write of this node."""
        now = time.monotonic()
        return any(debt.is_invalidation and debt.not_before <= now for debt in self._owed)

    def owe(self, debt: Debt) -> None:
        if debt in self._owed:
            return
        if not self._owed:
            log.warning("the cache owes this node's writes their invalidation: reading from the source store")
        self._owed.append(debt)
        self.cache.counters.add("debts_owed")
        self._changed.set()

    def owe_invalidation(self, key: str, *, after: float = 0.0) -> None:
        self.owe(Debt(key, None, time.monotonic() + after))

    def owe_release(self, key: str, owner: str, *, after: float = 0.0) -> None:
        self.owe(Debt(key, owner, time.monotonic() + after))

    async def pay(self) -> bool:
        """Pays every debt that is due, invalidations first; False as soon as the cache fails."""
        coordination = self.cache.coordination
        if coordination is None:
            self._owed.clear()
            return True
        now = time.monotonic()
        due = sorted((d for d in self._owed if d.not_before <= now), key=lambda d: not d.is_invalidation)
        for debt in due:
            try:
                if debt.owner is None:
                    await self.cache.call(coordination.aremove(debt.key), debt.describe())
                else:
                    await self.cache.call(coordination.arelease(debt.key, debt.owner), debt.describe())
            except CacheUnavailable:
                return False
            self._owed.remove(debt)
            self.cache.counters.add("debts_paid")
        if not self._owed:
            log.warning("the node paid what it owed the cache: reading from the cache again")
        return True

    async def run(self) -> None:
        """Pays debts as they fall due, trying again every ``retry`` seconds while the cache fails."""
        while True:
            if not self._owed:
                self._changed.clear()
                await self._changed.wait()
            await self.pay()
            await asyncio.sleep(self.retry)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The payer runs inside this block (the app's ``cleanup_ctx``)."""
        task = asyncio.create_task(self.run(), name="cache-debts")
        try:
            yield
        finally:
            await cancel_and_wait(task)
