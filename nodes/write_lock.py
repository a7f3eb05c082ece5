"""The write lock of an item, taken through the cache by every node: writers of one item take turns."""

from __future__ import annotations

import asyncio
import secrets
import time

from farm.cache.coordination import Coordination, Lock, deadline_after
from nodes.cache_access import CacheUnavailable, GuardedCache
from nodes.settings import NodeSettings


class LockBusy(Exception):
    """Another write of the item held its lock for longer than this write may wait."""


class LockUnavailable(Exception):
    """The cache did not answer: the lock may have been taken for ``owner`` all the same."""

    def __init__(self, key: str, owner: str) -> None:
        super().__init__(f"the lock of {key!r} could not be taken: the cache does not answer")
        self.key = key
        self.owner = owner


async def take_lock(cache: GuardedCache, coordination: Coordination, key: str, settings: NodeSettings) -> Lock:
    """Waits up to ``settings.lock_wait`` for the lock; its lease is ``settings.lock_lease``.

    Each attempt carries a deadline of one write cache timeout, so an attempt the node gave up on cannot take the
    lock later (a paused cache, a link that heals): it would block the item's writers for a whole lease."""
    owner = secrets.token_hex(16)
    give_up = time.monotonic() + settings.lock_wait
    pause = 0.002
    while True:
        try:
            lock = await cache.call(
                coordination.aacquire(key, owner, settings.lock_lease, deadline_after(settings.write_cache_timeout)),
                f"lock of {key!r}",
                settings.write_cache_timeout,
            )
        except CacheUnavailable:
            raise LockUnavailable(key, owner) from None
        if lock is not None:
            return lock
        if time.monotonic() + pause > give_up:
            raise LockBusy(f"another write of {key!r} holds its lock")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)
