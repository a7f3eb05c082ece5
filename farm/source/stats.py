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
    reads_by_node: dict[str, Counter[str]] = field(default_factory=dict)
    """Reads by node, then by key: how well each node shares its reads of one item. Served on its own
    (``GET /stats/reads-by-node``): with many keys it is too large to be polled with the totals."""

    def count(self, *, write: bool, key: str, node: str) -> None:
        if write:
            self.writes += 1
        else:
            self.reads += 1
            node_reads = self.reads_by_node.get(node)
            if node_reads is None:
                node_reads = self.reads_by_node[node] = Counter()
            node_reads[key] += 1
        self.by_key[key] += 1
        self.by_node[node] += 1

    def reset(self) -> None:
        self.reads = self.writes = self.lost_write_replies = 0
        self.by_key.clear()
        self.by_node.clear()
        self.reads_by_node.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.reads + self.writes,
            "reads": self.reads,
            "writes": self.writes,
            "lost_write_replies": self.lost_write_replies,
            "by_key": dict(self.by_key),
            "by_node": dict(self.by_node),
        }
