"""What a node is told at start: its name, where the source store and the cache are, how long items live, and
how it keeps the cache coherent with the source store when either fails."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from farm.cache import EntryOptions
from nodes.admission import AdmissionLimits

SHUTDOWN_TIMEOUT_S = 10.0
"""After SIGTERM, how long requests in flight get to finish before the node exits (supervisord waits as long)."""
LISTEN_BACKLOG = 1024
"""Connections the kernel holds for the node before it accepts them. With aiohttp's 128, a burst of clients
overflows the queue: their connections stall for seconds in the kernel (SYN retries) instead of getting an answer,
a 503 if need be."""
WRITE_POLICIES = ("strict", "available")
WritePolicy = Literal["strict", "available"]
LONGEST_TIMEOUT_S = 3600.0
"""The longest a node waits for its cache or source store: a client that waited an hour is long gone."""
LONGEST_ITEM_LIFETIME_S = 365 * 24 * 3600
"""The longest sliding or absolute expiration a node gives its items (a year)."""
LEASE_MARGIN_S = 1.0
"""Added to a lock's lease beyond the work it guards: scheduling delays of a busy machine."""


@dataclass(frozen=True, kw_only=True)
class NodeSettings:
    name: str
    source_url: str
    cache_url: str | None
    """None: no cache at all, every read goes to the source store."""
    item_sliding: timedelta | None = timedelta(minutes=5)
    item_absolute: timedelta | None = None
    cache_timeout: float = 0.2
    """Seconds a cache call of a read may take before the node serves from the source store instead."""
    write_cache_timeout: float = 2.0
    """Seconds a cache call of a write (its lock, its new version, the release) may take before the write is
    refused or left unconfirmed: longer than a read's, since a read falls back to the source store and a write
    only to a 503. Calls past it cannot land later: each carries a deadline the cache server checks."""
    source_timeout: float = 10.0
    """Seconds a call to the source store may take; a write also tells the source not to apply it later."""
    write_policy: WritePolicy = "strict"
    """strict: a write the cache cannot be kept coherent with is refused (503) before anything is written.
    available: it is applied, and the cache is repaired when it answers again (bounded staleness)."""
    lock_wait: float = 4.0
    """Seconds a write waits for another write of the same item before answering 503 (below the proxy's 5 s)."""
    debt_retry: float = 0.1
    """Seconds between attempts to pay what the node owes an unreachable cache."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """How many item requests the node takes at once and lets wait; the rest it sheds (503, ``Retry-After``)."""

    def __post_init__(self) -> None:
        for name in ("cache_timeout", "write_cache_timeout", "source_timeout", "lock_wait", "debt_retry"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < math.inf:  # NaN too
                raise ValueError(f"{name}={value!r}: must be a positive number of seconds")
        if self.write_policy not in WRITE_POLICIES:
            raise ValueError(f"write_policy={self.write_policy!r}: use one of {', '.join(WRITE_POLICIES)}")

    def item_options(self) -> EntryOptions:
        return EntryOptions(
            absolute_expiration_relative_to_now=self.item_absolute, sliding_expiration=self.item_sliding
        )

    @property
    def lock_lease(self) -> timedelta:
        """Outlives the work a lock guards: taking it, the source write (bounded by its deadline), the cache
        write, and a margin. A holder that overruns it is fenced off anyway."""
        return timedelta(seconds=self.source_timeout + 3 * self.write_cache_timeout + LEASE_MARGIN_S)

    @property
    def stale_window(self) -> float:
        """Seconds after which no reader that missed before a write can still add what it read: its source
        read ends within source_timeout and its add carries a deadline of cache_timeout."""
        return self.source_timeout + 2 * self.cache_timeout
