"""Write locks and guarded writes on a MemoryCache: one process, so one lock around each check and change."""

from __future__ import annotations

import time
from datetime import timedelta

from farm.cache.coordination import LateCallError, Lock, Observation, micros
from farm.cache.keys import validate_key
from farm.cache.memory import MemoryCache
from farm.cache.options import EntryOptions


class MemoryCoordination:
    """The ``Coordination`` primitives of a MemoryCache. Deadlines and leases use the wall clock (the one a
    shared server would use), not the cache's injected clock, which only ages entries."""

    shared = False

    def __init__(self, cache: MemoryCache) -> None:
        self.cache = cache

    def _check(self, deadline: float) -> float:
        now = time.time()
        if now > deadline:
            raise LateCallError(f"memory cache call executed {now - deadline:.3f} s after its deadline")
        return now

    def _locked(self, key: str, now: float) -> bool:
        holder = self.cache._write_locks.get(key)
        return holder is not None and holder[1] > now

    async def aget_observing(self, key: str) -> tuple[bytes | None, Observation | None]:
        cache = self.cache
        key = validate_key(key, None)
        with cache._lock:
            entry = cache._live_entry(key, cache._clock())
            if entry is not None:
                return entry.value, None
            return None, Observation(cache._fences.get(key, 0), self._locked(key, time.time()))

    async def aacquire(self, key: str, owner: str, lease: timedelta, deadline: float) -> Lock | None:
        cache = self.cache
        key = validate_key(key, None)
        with cache._lock:
            now = self._check(deadline)
            if self._locked(key, now):
                held = cache._write_locks[key][0] == owner  # sent again: the owner gets what it holds
                return Lock(key, owner, cache._fences[key]) if held else None
            fence = max(cache._fences.get(key, 0) + 1, micros(now))
            cache._fences[key] = fence
            cache._write_locks[key] = (owner, now + lease.total_seconds())
            return Lock(key, owner, fence)

    async def arelease(self, key: str, owner: str) -> bool:
        cache = self.cache
        with cache._lock:
            holder = cache._write_locks.get(key)
            if holder is None or holder[0] != owner:
                return False
            del cache._write_locks[key]
            return True

    async def aset_if_holder(self, lock: Lock, value: bytes, options: EntryOptions | None, deadline: float) -> bool:
        cache = self.cache
        key, value, expiry, now = cache._prepare_set(lock.key, value, options)
        with cache._lock:
            wall = self._check(deadline)
            holder = cache._write_locks.get(key)
            if holder is None or holder[0] != lock.owner or holder[1] <= wall or cache._fences.get(key) != lock.fence:
                return False
            cache._store(key, value, expiry, now)
            return True

    async def aadd_if_unchanged(
        self, key: str, value: bytes, options: EntryOptions | None, seen: Observation, deadline: float
    ) -> bool:
        cache = self.cache
        key, value, expiry, now = cache._prepare_set(key, value, options)
        with cache._lock:
            wall = self._check(deadline)
            if seen.locked or self._locked(key, wall) or cache._fences.get(key, 0) != seen.fence:
                return False
            entry = cache._entries.get(key)
            if entry is not None and not entry.expired(now):
                return False
            cache._store(key, value, expiry, now)
            return True

    async def aremove(self, key: str) -> None:
        await self.cache.aremove(key)
