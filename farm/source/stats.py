"""Exact counters of what the source store served: the scenarios' measure of source load."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SourceStats:
    reads: int = 0
    writes: int = 0
    lost_write_replies: int = 0
    """Writes applied whose reply was then lost on purpose (``fail_writes_after_apply``)."""
    by_key: Counter[str] = field(default_factory=Counter)
    by_node: Counter[str] = field(default_factory=Counter)

    def count(self, *, write: bool, key: str, node: str) -> None:
        if write:
            self.writes += 1
        else:
            self.reads += 1
        self.by_key[key] += 1
        self.by_node[node] += 1

    def reset(self) -> None:
        self.reads = self.writes = self.lost_write_replies = 0
        self.by_key.clear()
        self.by_node.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.reads + self.writes,
            "reads": self.reads,
            "writes": self.writes,
            "lost_write_replies": self.lost_write_replies,
            "by_key": dict(self.by_key),
            "by_node": dict(self.by_node),
        }
