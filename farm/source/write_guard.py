"""What the source store checks before it applies a write: the writer's fencing token and deadline.

A node sends ``X-Fence`` (the token of the write lock it holds) and ``X-Deadline`` (unix seconds after which it
no longer waits for this write). A write whose fence is lower than one already applied to the item comes from
a holder whose lease ended: refused (409). A write still queued when its deadline passes is refused (412): its
node has given up on it, and it must not land behind the node's back. Both checks run in the catalog's one
thread, right before the update, so nothing can slip in between.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from multidict import CIMultiDictProxy

FENCE_HEADER = "X-Fence"
DEADLINE_HEADER = "X-Deadline"
FENCE = re.compile(r"-?[0-9]{1,19}")
"""A fence as nodes send it: ASCII digits, within a Redis integer's range."""


class WriteRefused(Exception):
    """The write was not applied; ``status`` is the HTTP answer that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WriteConditions:
    fence: int | None
    deadline: float | None

    @classmethod
    def from_headers(cls, headers: CIMultiDictProxy[str]) -> WriteConditions:
        """Raises ValueError naming the bad header."""
        fence, deadline = headers.get(FENCE_HEADER), headers.get(DEADLINE_HEADER)
        if fence is not None and not FENCE.fullmatch(fence):
            raise ValueError(f"{FENCE_HEADER} must be a whole number, not {fence!r:.80}")
        try:
            parsed_deadline = None if deadline is None else float(deadline)
        except ValueError:
            parsed_deadline = math.nan
        if parsed_deadline is not None and not math.isfinite(parsed_deadline):
            raise ValueError(f"{DEADLINE_HEADER} must be unix seconds, not {deadline!r:.80}")
        return cls(None if fence is None else int(fence), parsed_deadline)


@dataclass
class WriteGuard:
    """The highest fence applied per item, writes in flight per item, and counts of what was refused."""

    applied_fences: dict[int, int] = field(default_factory=dict)
    in_flight: Counter[int] = field(default_factory=Counter)
    overlapping_writes: int = 0
    """PUTs of an item that arrived while another PUT of the same item was in flight."""
    fenced_writes: int = 0
    late_writes: int = 0

    def arrived(self, item_id: int) -> None:
        if self.in_flight[item_id]:
            self.overlapping_writes += 1
        self.in_flight[item_id] += 1

    def left(self, item_id: int) -> None:
        self.in_flight[item_id] -= 1
        if not self.in_flight[item_id]:
            del self.in_flight[item_id]

    def check(self, item_id: int, conditions: WriteConditions) -> None:
        """Called in the catalog's thread right before the update; raises WriteRefused."""
        if conditions.deadline is not None and time.time() > conditions.deadline:
            self.late_writes += 1
            raise WriteRefused(412, f"the write's {DEADLINE_HEADER} passed before it could be applied")
        applied = self.applied_fences.get(item_id)
        if conditions.fence is not None and applied is not None and conditions.fence < applied:
            self.fenced_writes += 1
            raise WriteRefused(409, f"{FENCE_HEADER} {conditions.fence} is older than {applied}, already applied")

    def applied(self, item_id: int, conditions: WriteConditions) -> None:
        if conditions.fence is not None:
            self.applied_fences[item_id] = max(conditions.fence, self.applied_fences.get(item_id, 0))

    def reset(self) -> None:
        self.overlapping_writes = self.fenced_writes = self.late_writes = 0

    def to_json(self) -> dict[str, int]:
        return {
            "overlapping_writes": self.overlapping_writes,
            "fenced_writes": self.fenced_writes,
            "late_writes": self.late_writes,
        }
