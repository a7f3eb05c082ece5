"""What a node is told at start: its name, where the source store and the cache are, how long items live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from farm.cache import EntryOptions

SHUTDOWN_TIMEOUT_S = 10.0
"""After SIGTERM, how long requests in flight get to finish before the node exits (supervisord waits as long)."""


@dataclass(frozen=True, kw_only=True)
class NodeSettings:
    name: str
    source_url: str
    cache_url: str | None
    """None: no cache at all, every read goes to the source store."""
    item_sliding: timedelta | None = timedelta(minutes=5)
    item_absolute: timedelta | None = None
    cache_timeout: float = 0.2
    """Seconds a cache call may take before the node serves from the source store instead."""

    def item_options(self) -> EntryOptions:
        return EntryOptions(
            absolute_expiration_relative_to_now=self.item_absolute, sliding_expiration=self.item_sliding
        )
