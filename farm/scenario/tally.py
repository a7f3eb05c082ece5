"""One pass over a stretch of history that keeps only what its figures need, a few numbers per request.

A ten-minute run at the farm's full rate is close to two million requests: as objects they would take gigabytes,
so the tally counts what can be counted as the records go by and keeps compact columns (``array``) of what can
only be judged at the end (a read's staleness needs every write acknowledged before it; the first reads after a
restart need the restart's event).
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hdrh.histogram import HdrHistogram

from farm.scenario.checks import MAX_LATENCY_US
from farm.scenario.coherence import WriteIndex
from farm.scenario.history import Record

REFUSED = 503
"""The status of a write the nodes refuse because they cannot make it coherent (with ``Retry-After``), and of a
request they shed (with ``X-Shed`` too)."""


def parse_utc(text: str) -> float:
    """Seconds since the Unix epoch of an ISO 8601 time as the nodes write it (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class NodeReads:
    """A node's successful reads whose cache outcome is known: when each started, and whether it was a hit."""

    starts: array[float] = field(default_factory=lambda: array("d"))
    hits: array[int] = field(default_factory=lambda: array("b"))


@dataclass
class JudgedReads:
    """Successful reads that returned a version: judged for staleness once the stretch is over."""

    starts: array[float] = field(default_factory=lambda: array("d"))
    keys: array[int] = field(default_factory=lambda: array("q"))
    versions: array[int] = field(default_factory=lambda: array("q"))
    nodes: array[int] = field(default_factory=lambda: array("i"))
    node_names: dict[str | None, int] = field(default_factory=dict)


class Tally:
    """Everything the figures of one stretch need, fed one record at a time."""

    def __init__(self, writes: WriteIndex) -> None:
        self.writes = writes
        """Acknowledged writes of earlier stretches; this stretch's are added as they go by."""
        self.requests = self.errors = self.shed = 0
        self.errors_by_step: Counter[str] = Counter()
        self.reads = self.failed_reads = 0
        self.writes_sent = self.refused_writes = self.acknowledged_writes = 0
        self.known_reads = self.hits = 0
        """Successful reads whose cache outcome is known (``X-Cache``), and the hits among them."""
        self.read_keys: set[int] = set()
        self.home_reads = self.cached_time_expired = 0
        self.cached_times: set[str] = set()
        self.first_start, self.last_end = float("inf"), float("-inf")
        self.latency = HdrHistogram(1, MAX_LATENCY_US, 3)
        self.node_reads: dict[str, NodeReads] = {}
        self.hit_starts: array[float] = array("d")
        self.shown_starts: array[float] = array("d")
        self.shown_start_times: array[float] = array("d")
        """For responses with ``Last-Server-Start-Time``: when the request started, and the start time it showed."""
        self.judged = JudgedReads()
        self._parsed: dict[str, float] = {}

    def add(self, r: Record) -> None:
        self.requests += 1
        self.first_start = min(self.first_start, r.start)
        self.last_end = max(self.last_end, r.end)
        self.latency.record_value(min(MAX_LATENCY_US, max(1, round((r.end - r.start) * 1_000_000))))
        ok = 200 <= r.status < 300
        if not ok:
            self.errors += 1
            self.errors_by_step[r.step] += 1
            self.shed += r.shed
        if ok and r.last_start is not None:
            shown = self._parsed.get(r.last_start)
            if shown is None:
                shown = self._parsed[r.last_start] = parse_utc(r.last_start)
            self.shown_starts.append(r.start)
            self.shown_start_times.append(shown)
        if r.method != "GET":
            self._add_write(r, ok)
        else:
            self._add_read(r, ok)

    def _add_write(self, r: Record, ok: bool) -> None:
        self.writes_sent += 1
        self.refused_writes += r.status == REFUSED and not r.shed
        if ok and r.version is not None:
            self.acknowledged_writes += 1
            self.writes.add(r.key, r.end, r.version)

    def _add_read(self, r: Record, ok: bool) -> None:
        self.reads += 1
        if r.is_home:
            if ok:
                self.home_reads += 1
                if r.cached_time is None:
                    self.cached_time_expired += 1
                else:
                    self.cached_times.add(r.cached_time)
        else:
            self.read_keys.add(r.key)
        if not ok:
            self.failed_reads += 1
            return
        if r.hit is not None:
            self.known_reads += 1
            self.hits += r.hit
            if r.hit:
                self.hit_starts.append(r.start)
            if r.node is not None:
                reads = self.node_reads.get(r.node)
                if reads is None:
                    reads = self.node_reads[r.node] = NodeReads()
                reads.starts.append(r.start)
                reads.hits.append(r.hit)
        if r.version is not None:
            judged = self.judged
            judged.starts.append(r.start)
            judged.keys.append(r.key)
            judged.versions.append(r.version)
            judged.nodes.append(judged.node_names.setdefault(r.node, len(judged.node_names)))
