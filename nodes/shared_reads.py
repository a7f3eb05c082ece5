"""Source reads in flight, each shared by the requests whose answer it may be: a burst of misses of one item costs
the source store one read on this node, not one per request.

Who may share a read decides coherence: a read must not answer a request with a version older than a write that
finished before the request began.

- Requests that missed with the same observation (the item's fence, no lock held) share one read whenever they
  come: no write took the lock between the first of them missing and the last, so every write that finished
  before the last one missed was applied before the shared read began (farm.cache.coordination).
- A request whose cache read failed observed nothing. It may only share a read that began after it failed: that
  read sees every write that finished before the request began. A read already under way is waited for, and the
  requests that failed meanwhile share the next one. So with the cache down a burst of one item costs one read at
  a time, not one per request.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Read(Generic[T]):
    began: int
    """The tick at which it began (see SharedReads.tick)."""
    answer: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SharedReads(Generic[T]):
    """Reads in flight by slot: a slot is what makes two requests' reads interchangeable (an item and a fence)."""

    def __init__(self) -> None:
        self._reads: dict[Hashable, _Read[T]] = {}
        self._ticks = itertools.count()

    def __len__(self) -> int:
        return len(self._reads)

    def tick(self) -> int:
        """A point in this node's order of events: a read joined with ``began_after=tick`` began after it."""
        return next(self._ticks)

    async def read(self, slot: Hashable, read: Callable[[], Awaitable[T]], *, began_after: int | None = None) -> T:
        """The answer of the read in flight for ``slot``, or of a new one. ``began_after``: share only a read that
        began after that tick, and wait for one that began earlier to finish first; None: share any."""
        while (pending := self._reads.get(slot)) is not None:
            if began_after is not None and pending.began <= began_after:
                await asyncio.wait([pending.answer])  # its answer may predate this request: wait for the next read
                continue
            try:
                return await asyncio.shield(pending.answer)
            except asyncio.CancelledError:
                if not pending.answer.cancelled():
                    raise  # this request was cancelled
                # the request that was reading failed or was cancelled: another read, shared by those waiting
        own = self._reads[slot] = _Read[T](self.tick())
        try:
            answer = await read()
            own.answer.set_result(answer)
            return answer
        except BaseException:
            own.answer.cancel()  # waiters read again: an exception object is not shared between requests
            raise
        finally:
            if self._reads.get(slot) is own:
                del self._reads[slot]
