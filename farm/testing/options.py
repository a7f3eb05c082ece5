"""How a test's farm is built: what ``@pytest.mark.farm(...)``, an indirect parameter and ``running_farm`` take.

Kept apart from the farm itself so that the pytest plugin can read it without importing the farm.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, kw_only=True)
class FarmOptions:
    nodes: int = 3
    cache: str | None = None
    """none, memory, redis (a private redis-server), sql (a private PostgreSQL), sqlite (a SQLite file of the farm's)
    or a cache URL."""
    environment: str | None = None
    """Without ``cache``: development (memory), staging (redis) or production (sql), as ``farm up --env``;
    neither: development."""
    source_latency_ms: float = 5.0
    item_sliding_s: float = 300.0
    item_absolute_s: float | None = None
    cache_persistence: bool = True
    """The farm's own cache server keeps its data across a stop and start (False: it starts empty)."""
    write_policy: str = "strict"
    """strict (a write the farm cannot make coherent is refused) or available, as ``farm up --write-policy``."""
    faults: bool = False
    """Put the fault proxy between each node and its cache and source store, as ``farm up --faults``."""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_keywords(cls, keywords: dict[str, Any]) -> FarmOptions:
        unknown = sorted(set(keywords) - set(cls.names()))
        if unknown:
            raise ValueError(f"farm options {unknown}: use {', '.join(cls.names())}")
        return cls(**keywords)

    def describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
