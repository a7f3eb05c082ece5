"""Stale reads: reads that returned a version older than a write acknowledged (2xx) before the read started.

Per key, the acknowledged writes in the order of their acknowledgements, with the running maximum of their
versions: a read is judged with two binary searches, so n requests are judged in O(n log n) and only the
writes (a few numbers each) are kept across phases. Concurrent writes are not a violation either way: a read
is judged only against writes acknowledged before it started.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """A read that started after a write of its key had been acknowledged, yet saw an older version."""

    time: float
    key: int
    node: str | None
    seen: int
    expected: int


@dataclass(frozen=True)
class Stale:
    """What a stale read missed: the newest version it should have seen, and when the oldest write it missed
    (the first one newer than what it saw) was acknowledged."""

    expected: int
    missed_acknowledged: float


@dataclass
class _KeyWrites:
    acknowledged: array[float] = field(default_factory=lambda: array("d"))
    versions: array[int] = field(default_factory=lambda: array("q"))
    newest: array[int] = field(default_factory=lambda: array("q"))
    """``newest[i]``: the highest version among the first i+1 acknowledgements."""
    in_order: bool = True

    def ready(self) -> None:
        """Sorts by acknowledgement if writes arrived out of order, and extends the running maximum."""
        if not self.in_order:
            pairs = sorted(zip(self.acknowledged, self.versions, strict=True))
            self.acknowledged = array("d", (a for a, _ in pairs))
            self.versions = array("q", (v for _, v in pairs))
            self.newest = array("q")
            self.in_order = True
        for i in range(len(self.newest), len(self.versions)):
            before = self.newest[i - 1] if i else self.versions[i]
            self.newest.append(max(before, self.versions[i]))


class WriteIndex:
    """Every acknowledged write of a run so far, per key: what reads of any later phase are judged against."""

    def __init__(self) -> None:
        self._keys: dict[int, _KeyWrites] = {}

    def add(self, key: int, acknowledged: float, version: int) -> None:
        writes = self._keys.get(key)
        if writes is None:
            writes = self._keys[key] = _KeyWrites()
        if writes.acknowledged and acknowledged < writes.acknowledged[-1]:
            writes.in_order = False
        writes.acknowledged.append(acknowledged)
        writes.versions.append(version)

    def judge(self, key: int, start: float, seen: int) -> tuple[bool, Stale | None]:
        """Whether a read of ``key`` that started at ``start`` and saw version ``seen`` can be judged (a write of
        the key was acknowledged before it started), and what it missed if it is stale."""
        writes = self._keys.get(key)
        if writes is None:
            return False, None
        writes.ready()
        last = bisect_right(writes.acknowledged, start) - 1
        if last < 0:
            return False, None
        expected = writes.newest[last]
        if seen >= expected:
            return True, None
        first_missed = bisect_right(writes.newest, seen)
        return True, Stale(expected, writes.acknowledged[first_missed])
