"""A per-process cache: the development default and the "not shared" baseline of the scenarios."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from farm.cache.base import DistributedCache
from farm.cache.clock import Clock, system_clock
from farm.cache.options import Expiry

DEFAULT_SIZE_LIMIT = 200 * 1024 * 1024


@dataclass
class _Entry:
    value: bytes
    expiry: Expiry
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class MemoryCache(DistributedCache):
    """Keeps values in this process, least recently used evicted first once ``size_limit`` bytes are held.

    A value larger than the whole limit is not stored, as in .NET. One lock guards the table; no operation
    awaits while holding it, so the cache is safe from threads and tasks alike.
    """

    def __init__(self, *, size_limit: int = DEFAULT_SIZE_LIMIT, clock: Clock = system_clock) -> None:
        super().__init__(clock=clock)
        if not isinstance(size_limit, int) or size_limit <= 0:
            raise ValueError(f"size_limit={size_limit!r}: must be a positive number of bytes")
        self.size_limit = size_limit
        self.size = 0
        self.evictions = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._write_locks: dict[str, tuple[str, float]] = {}
        """Per key, the holder of its write lock and when the lease ends (see MemoryCoordination)."""
        self._fences: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"MemoryCache(size_limit={self.size_limit}, entries={len(self._entries)}, size={self.size})"

    def __len__(self) -> int:
        return len(self._entries)

    def _live_entry(self, key: str, now: datetime) -> _Entry | None:
        """The entry if it has not expired, slid and marked most recently used; caller holds the lock."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expired(now):
            self._drop(key)
            return None
        entry.expires_at = entry.expiry.expires_at(now)
        self._entries.move_to_end(key)
        return entry

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry.value)

    def _make_room(self, needed: int, now: datetime) -> None:
        if self.size + needed <= self.size_limit:
            return
        for key in [k for k, e in self._entries.items() if e.expired(now)]:
            self._drop(key)
        while self._entries and self.size + needed > self.size_limit:
            _, entry = self._entries.popitem(last=False)
            self.size -= len(entry.value)
            self.evictions += 1

    def _get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._live_entry(key, self._clock())
            return None if entry is None else entry.value

    def _set(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        with self._lock:
            self._store(key, value, expiry, now)

    def _add(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.expired(now):
                return False
            self._store(key, value, expiry, now)
            return True

    def _store(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        """Caller holds the lock."""
        self._drop(key)
        if len(value) > self.size_limit:
            self.evictions += 1
            return
        self._make_room(len(value), now)
        self._entries[key] = _Entry(value, expiry, expiry.expires_at(now))
        self.size += len(value)

    def _refresh(self, key: str) -> None:
        with self._lock:
            self._live_entry(key, self._clock())

    def _remove(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    async def _aget(self, key: str) -> bytes | None:
        return self._get(key)

    async def _aset(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        self._set(key, value, expiry, now)

    async def _aadd(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool:
        return self._add(key, value, expiry, now)

    async def _arefresh(self, key: str) -> None:
        self._refresh(key)

    async def _aremove(self, key: str) -> None:
        self._remove(key)

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    async def aclose(self) -> None:
        self.close()
