"""Write locks with fencing tokens, and cache writes that the server applies only while they are still safe.

Writers of one key take turns through a lock whose lease ends on its own; each acquisition gets a fencing
token larger than any earlier one of that key, so a holder whose lease ran out is told apart from the newer
one. Every call that changes something carries a deadline (unix seconds) that the *server* checks when it
executes the call, with its own clock: a call that the client gave up on (a paused server, a partitioned
link that heals later) cannot land afterwards. This assumes the clients and the cache server share a clock
(one machine, or hosts kept in step by NTP well within the deadlines used), as in the farm and in containers.

A reader that missed and read the source store may put what it read only if no writer took the key's lock
since it missed (see ``Observation``). The argument, which the node relies on:

1. Every write of the source goes through the lock and carries the lock's deadline: the source applies it
   only before the deadline, which falls inside the lease. So a write is applied only while its lock is held.
2. A reader observes the key's fence and lock state on its miss, at time t_m, with no lock held; it then reads
   the source (starting after t_m) and asks the cache to add its value only if the fence is unchanged and no
   lock is held, checked atomically when the add executes, at t_a.
3. Any write applied before t_m was applied while its lock was held, and that lock was released (or its lease
   ended) before t_m: the reader's source read sees it. Any write applied after t_m took the lock after t_m
   (nobody held it at t_m), which moved the fence before t_a: the add is refused.
So an entry that a reader adds is never older than a write applied before the add; a write that finishes later
replaces or removes the entry itself. A remove is always safe: it can only turn a hit into a miss.

The entries written here keep each backend's .NET layout (a Redis hash, a row of the cache table); the lock
and fence of a key live beside them (Redis keys ``__lock:``/``__fence:`` + key, a ``<table>_Fences`` table on
SQL) and are never read by .NET.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from farm.cache.base import DistributedCache
from farm.cache.errors import CacheConfigError, CacheConnectionError
from farm.cache.options import EntryOptions

if TYPE_CHECKING:
    from farm.cache.redis_cache import RedisCache
    from farm.cache.sql.cache import SqlCache

LOCK_PREFIX = "__lock:"
FENCE_PREFIX = "__fence:"


@dataclass(frozen=True)
class Observation:
    """What a reader saw of a key's writers when it missed: the fence (0 or below when the key never had a
    lock) and whether a lock was held. Only an observation with no lock held allows an add."""

    fence: int
    locked: bool
    foreign: str | None = None
    """What the key held instead of an entry, written by something else (on Redis: its type, such as ``list``);
    the miss is then a cache error for the reader to count, and the add replaces it."""


@dataclass(frozen=True)
class Lock:
    """A held lock: the key it guards, who holds it, and its fencing token."""

    key: str
    owner: str
    fence: int


class LateCallError(CacheConnectionError):
    """The server executed the call after its deadline, so it did nothing."""


@runtime_checkable
class Coordination(Protocol):
    """The primitives, per backend. ``deadline`` is in unix seconds; the server refuses the call after it."""

    shared: bool
    """Whether every process that opens the same store sees the same locks and fences (not a MemoryCache):
    only then may a fence be compared with another process's."""

    async def aget_observing(self, key: str) -> tuple[bytes | None, Observation | None]:
        """The value (sliding its window, as ``aget``); on a miss also the observation an add needs. A key that
        holds something else than an entry is a miss whose observation says what it holds."""
        ...

    async def aacquire(self, key: str, owner: str, lease: timedelta, deadline: float) -> Lock | None:
        """Takes the key's lock for ``lease`` if nobody holds it; None if someone does."""
        ...

    async def arelease(self, key: str, owner: str) -> bool:
        """Compare-and-delete: frees the lock only if ``owner`` still holds it. Safe to repeat."""
        ...

    async def aset_if_holder(self, lock: Lock, value: bytes, options: EntryOptions | None, deadline: float) -> bool:
        """Overwrites the entry only while ``lock`` is still held with its fence; False otherwise."""
        ...

    async def aadd_if_unchanged(
        self, key: str, value: bytes, options: EntryOptions | None, seen: Observation, deadline: float
    ) -> bool:
        """Adds the entry only if the key holds none, no lock is held and the fence is still ``seen.fence``. What a
        key holds that is not an entry (``Observation.foreign``) counts as none, and is replaced."""
        ...

    async def aremove(self, key: str) -> None:
        """Removes the entry (always safe: a remove can only cause a miss)."""
        ...


def deadline_after(seconds: float) -> float:
    """A deadline ``seconds`` from now, in unix seconds (the clock the server compares with)."""
    return time.time() + seconds


def micros(deadline: float) -> int:
    return int(deadline * 1_000_000)


def lease_milliseconds(lease: timedelta) -> int:
    milliseconds = int(lease.total_seconds() * 1000)
    if milliseconds < 1:
        raise ValueError(f"lease={lease!r}: a lock's lease must be at least 1 ms")
    return milliseconds


def coordination_for(cache: DistributedCache) -> Coordination:
    """The coordination primitives of ``cache``'s backend, on the same store and connections."""
    from farm.cache.memory import MemoryCache

    if isinstance(cache, MemoryCache):
        from farm.cache.memory_coordination import MemoryCoordination

        return MemoryCoordination(cache)
    # A backend whose class was never imported cannot be what ``cache`` is: no driver is imported here.
    redis_module, sql_module = sys.modules.get("farm.cache.redis_cache"), sys.modules.get("farm.cache.sql.cache")
    if redis_module is not None and isinstance(cache, redis_module.RedisCache):
        from farm.cache.redis_coordination import RedisCoordination

        return RedisCoordination(cast("RedisCache", cache))
    if sql_module is not None and isinstance(cache, sql_module.SqlCache):
        from farm.cache.sql.coordination import SqlCoordination

        return SqlCoordination(cast("SqlCache", cache))
    raise CacheConfigError(f"no write locks for a {type(cache).__name__}: use a memory, Redis or SQL cache")
