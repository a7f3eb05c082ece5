"""Source reads in flight, each shared by the requests whose answer it may be: a burst of misses of one item costs
the source store one read on this node, not one per request.

Who may share a read decides coherence: a read must not answer a request with a version older than a write that
finished before the request began.

- Requests that missed with the same observation (the item's fence, no lock held) share one read whenever they
  come: no write took the lock between the first of them missing and the last, so every write that finished
  before the last one missed was applied before the shared read began (farm.cache.coordination).
- A request whose cache read failed observed nothing. It may share any read of the item that began after the
  request arrived: that read sees every write that finished before the request began. A read without an
  observation that is already under way and began earlier is waited for, and the requests that arrived meanwhile
  share the next one: with the cache down a burst of one item costs one read at a time, not one per request.

Neither rule needs the read to be still under way, so a read's answer stays on hand for ``linger`` seconds after
it ends: a request whose miss the cache served just before the read's own add landed finds it there instead of
reading again (with a cache that answers slowly, that window is a whole cache call).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

T = TypeVar("T")
BLIND = None
"""The fence of a read for requests that observed nothing."""


@dataclass
class _Read(Generic[T]):
    began: float = field(default_factory=time.monotonic)
    answer: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SharedReads(Generic[T]):
    """Reads in flight (or just ended) by item, then by the fence their requests observed (``BLIND``: none)."""

    def __init__(self, linger: float = 0.0) -> None:
        """``linger``: seconds a read's answer stays on hand after it ends (the node: its cache timeout)."""
        self.linger = linger
        self._reads: dict[str, dict[int | None, _Read[T]]] = {}

    def __len__(self) -> int:
        return sum(len(reads) for reads in self._reads.values())

    async def read(
        self, key: str, fence: int | None, read: Callable[[], Awaitable[T]], *, arrived: float | None = None
    ) -> T:
        """The answer of a read in flight that this request may share, or of a new one. ``fence``: what the request
        observed on its miss; None when its cache read failed, and then ``arrived``: ``time.monotonic()`` when the
        request arrived."""
        if fence is None and arrived is None:
            raise ValueError("fence=None: a request that observed nothing needs arrived, when it arrived")
        while True:
            reads = self._reads.get(key, {})
            if fence is not None:
                pending = reads.get(fence)
            else:
                pending = next((r for r in reads.values() if r.began > cast(float, arrived)), None)
                earlier = reads.get(BLIND)
                if pending is None and earlier is not None and not earlier.answer.done():
                    await asyncio.wait([earlier.answer])  # it may predate this request: wait for the next read
                    continue
            if pending is None:
                break
            try:
                return await asyncio.shield(pending.answer)
            except asyncio.CancelledError:
                if not pending.answer.cancelled():
                    raise  # this request was cancelled
                # the request that was reading failed or was cancelled: another read, shared by those waiting
        own = self._reads.setdefault(key, {})[fence] = _Read[T]()
        try:
            answer = await read()
        except BaseException:
            own.answer.cancel()  # waiters read again: an exception object is not shared between requests
            self._forget(key, fence, own)
            raise
        own.answer.set_result(answer)
        asyncio.get_running_loop().call_later(self.linger, self._forget, key, fence, own)
        return answer

    def _forget(self, key: str, fence: int | None, read: _Read[T]) -> None:
        reads = self._reads.get(key)
        if reads is not None and reads.get(fence) is read:  # not a later read of the same slot
            del reads[fence]
            if not reads:
                del self._reads[key]
