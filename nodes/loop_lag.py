"""How long the node's event loop was too busy to run what was due: the node's own share of a late answer.

A cache read that times out is either the cache's fault (slow, paused, cut off: serve from the source store) or
the node's (its loop had so much to do that the answer sat unread in the socket: going to the source store then
would turn the node's backlog into source reads). A task wakes every ``interval`` and notes how late it woke; the
lateness summed over a call's time is how long the loop could not have read the answer. The same measure as
Node.js's event-loop delay, which Fastify's under-pressure and toobusy use to shed load.

A loop is also late when the machine does not run the process at all (other processes hold the cores): that is
no work of the node's, and shedding would only turn a slow answer into a failed one. The CPU time the process got
cannot tell the two apart on a crowded machine (a swamped node gets a fifth of a core too), but its own load can:
the node counts a late answer against itself only while it has as many requests in flight as it takes
(nodes.admission), see nodes.app.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

BUSY_SHARE = 0.5
"""A call that timed out while the loop was late for at least this share of its time timed out because the loop
could not read its answer. A loop that keeps up answers a cache reply within an iteration or two: only a loop busy
for most of a call's time makes it miss a deadline of tens of milliseconds."""


class LoopLag:
    """Wakes every ``interval`` seconds (``run()``, a task of the node's) and keeps how late each wake-up was."""

    def __init__(self, interval: float = 0.01, keep: int = 1000) -> None:
        """``keep`` wake-ups: at least ``keep * interval`` seconds back, longer than any call is given."""
        self.interval = interval
        self._wakes: deque[tuple[float, float]] = deque(maxlen=keep)
        """(when the task woke, how late it was), both on ``time.monotonic()``."""
        self._due: float | None = None

    async def run(self) -> None:
        while True:
            self._due = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)
            woke = time.monotonic()
            self._wakes.append((woke, max(0.0, woke - self._due)))

    def busy_since(self, start: float) -> float:
        """Seconds since ``start`` (``time.monotonic()``) the loop ran late, the wake-up now overdue included."""
        now = time.monotonic()
        busy = 0.0 if self._due is None else min(max(0.0, now - self._due), now - start)
        for woke, late in reversed(self._wakes):
            if woke <= start:
                break
            busy += min(late, woke - start)
        return busy

    def was_late(self, start: float) -> bool:
        """Whether the loop ran late for most of the time since ``start``: see BUSY_SHARE."""
        return self.busy_since(start) >= BUSY_SHARE * (time.monotonic() - start)
