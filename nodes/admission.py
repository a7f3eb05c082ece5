"""Admission: at most ``max_in_flight`` item requests at once, a short FIFO queue, and an explicit 503 beyond it.

A node that takes every request it is sent turns its backlog into latency, then into cache timeouts, then into
source reads: the overload spreads to what the cache protects. So the node answers what it cannot start soon with
503 and ``Retry-After`` before doing any work for it, and counts it (``shed``). The rule is the one of ASP.NET
Core's concurrency limiter, Undertow's request limit or Envoy's circuit breakers: a bound on requests in flight,
a bounded queue (a request that finds it full is turned away at once), and a bound on how long a request may
wait in it (what keeps closed-loop clients from being answered with a flood of instant 503s).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass

SHED_HEADER = "X-Shed"
"""Set on a response the node shed, with the reason: clients and scenarios tell a shed request from other 503s."""


QUEUE_TIMEOUT_MS_RANGE = (1, 3_600_000)
"""What a farm accepts as a queue timeout: under 1 ms a line is no line (``max_queue`` 0 says that), and a request
that waited an hour has no client left to answer."""


MOST_REQUESTS = 1_000_000
"""The most requests a node lets in at once or in line (``max_in_flight``, ``max_queue``)."""


class Overloaded(Exception):
    """The node turned a request away before doing any work for it; ``reason`` says which bound it hit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class AdmissionLimits:
    max_in_flight: int = 64
    """Item requests handled at once (0: no limit). Sized so one core stays busy even when every request waits
    on a 20 ms source read; the Redis pool gets as many connections, so admitted requests never wait for one."""
    max_queue: int = 1024
    """Requests waiting for a slot; one more is turned away at once."""
    queue_timeout: float = 0.5
    """Seconds a request may wait for a slot before it is turned away: a backlog the node works off in this time
    is a burst, a longer one is overload. A turned-away request still costs the node its HTTP work, and clients
    that do not wait for ``Retry-After`` send the next one at once: with 512 such clients on one node, 200 ms
    turned a third of them away and cost both goodput and latency (0.52-0.62 of the 32-client rate, p99 about
    500 ms), where 500 ms turned none away (0.91-0.97, p99 about 350 ms; bench/overload.py --node-args)."""

    def __post_init__(self) -> None:
        for name in ("max_in_flight", "max_queue"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r}: must be a whole number, 0 or more")
        if not isinstance(self.queue_timeout, int | float) or not 0 < self.queue_timeout < math.inf:  # NaN too
            raise ValueError(f"queue_timeout={self.queue_timeout!r}: must be a positive number of seconds")

    def node_arguments(self) -> list[str]:
        """The flags of ``python -m nodes`` that set these limits: what a farm puts on each node's command line."""
        return [
            "--max-in-flight",
            str(self.max_in_flight),
            "--max-queue",
            str(self.max_queue),
            "--queue-timeout-ms",
            f"{self.queue_timeout * 1000:g}",
        ]

    def as_json(self) -> dict[str, float]:
        """As a node's ``/stats`` shows them (the queue timeout in ms, as the flag gives it)."""
        return {
            "max_in_flight": self.max_in_flight,
            "max_queue": self.max_queue,
            "queue_timeout_ms": self.queue_timeout * 1000,
        }


class Admission:
    """Slots for requests in flight; a freed slot goes to the longest waiter (no newcomer overtakes it).

    Requests wait in line only while every slot is taken: a slot is freed either to a waiter or, with nobody
    waiting, back to the pool, so no slot is ever lost to a waiter whose time ran out just then."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.in_flight = 0
        self.queued = 0
        """Requests waiting for a slot now."""
        self._line: deque[asyncio.Future[bool]] = deque()
        """Each resolves True when handed a slot, False when its wait ran out; resolved ones are dropped lazily."""

    @property
    def full(self) -> bool:
        """Every slot is taken (never without a limit): the node is doing as much as it takes on."""
        limit = self.limits.max_in_flight
        return limit != 0 and self.in_flight >= limit

    def try_enter(self) -> bool:
        """Takes a slot if one is free and nobody waits for one: the path of a node that keeps up."""
        limit = self.limits.max_in_flight
        if limit == 0 or (self.in_flight < limit and not self.queued):
            self.in_flight += 1
            return True
        return False

    async def wait(self) -> None:
        """Waits in line for a slot; Overloaded when the line is full or the wait too long. The wait's end is a
        timer on the waiter itself, not a cancellation of the request: a turned-away request costs little."""
        limits = self.limits
        if self.queued >= limits.max_queue:
            raise Overloaded(f"{self.in_flight} requests in flight and {self.queued} waiting")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        line = self._line
        while line and line[0].done():  # those whose wait ran out first, in a line nobody left
            line.popleft()
        line.append(waiter)
        self.queued += 1
        expiry = loop.call_later(limits.queue_timeout, self._expire, waiter)
        try:
            admitted = await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():  # the request was cancelled while it waited
                self.queued -= 1
            elif waiter.result():
                self.leave()  # handed a slot it will not use: pass it on
            raise
        finally:
            expiry.cancel()
        if not admitted:
            raise Overloaded(f"no free slot in {limits.queue_timeout * 1000:.0f} ms")

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            waiter.set_result(False)
            self.queued -= 1

    def leave(self) -> None:
        """Frees a slot: handed to the first waiter still waiting, if any."""
        line = self._line
        while line:
            waiter = line.popleft()
            if not waiter.done():
                waiter.set_result(True)
                self.queued -= 1
                return
        self.in_flight -= 1
