"""The figures of one stretch of a scenario (a phase between two ``expect`` steps, or the whole run).

Everything comes from the recorded history, the farm's events and the source store's own counters. A figure
that measured nothing (no reads for a hit ratio, no write to judge reads against) is None: "not measured",
which no expectation accepts.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from farm.scenario.catalogue import FIRST_READS_AFTER, SIMULTANEOUS_S
from farm.scenario.coherence import Violation, WriteIndex
from farm.scenario.history import Event, Record
from farm.scenario.steps import STEP_TYPES
from farm.scenario.tally import NodeReads, Tally, parse_utc

RESTARTING = tuple(kind for kind, step in STEP_TYPES.items() if step.restarts_node)
ADDING = tuple(kind for kind, step in STEP_TYPES.items() if step.adds_node)
ENDING_FAULTS = tuple(kind for kind, step in STEP_TYPES.items() if step.ends_fault)
SHOWN_VIOLATIONS = 5

__all__ = ["Figures", "NodeStart", "SourceCount", "Tally", "measure", "parse_utc"]


@dataclass(frozen=True)
class NodeStart:
    node: str
    at: float
    """Seconds since the scenario started (may be negative: before it)."""


@dataclass(frozen=True)
class SourceCount:
    reads: int = 0
    writes: int = 0
    reads_by_node: Mapping[str, Mapping[str, int]] | None = None
    """The stretch's reads by node, then by item; None when the source store's counts were not read at its ends."""


@dataclass
class Figures:
    values: dict[str, float | None]
    first_violations: list[Violation] = field(default_factory=list)
    errors_by_step: dict[str, int] = field(default_factory=dict)


def first_reads_after(reads: dict[str, NodeReads], events: Sequence[Event], kinds: tuple[str, ...]) -> list[bool]:
    """For each event of ``kinds`` on a node: whether each of the first reads that node served once it was back
    was a hit."""
    chosen: list[bool] = []
    for event in events:
        served = reads.get(event.node or "") if event.kind in kinds else None
        if served is not None:
            after = ((s, h) for s, h in zip(served.starts, served.hits, strict=True) if s >= event.end)
            chosen += [bool(h) for _, h in heapq.nsmallest(FIRST_READS_AFTER, after)]
    return chosen


def start_time_mismatches(tally: Tally, starts: Sequence[NodeStart], epoch_wall: float) -> int:
    """Responses whose ``Last-Server-Start-Time`` is older than the start of the most recently started node.

    A read is judged against the nodes that had started at least ``SIMULTANEOUS_S`` before it began
    (a new node writes its start time to the cache as it comes up)."""
    ordered = sorted(s.at for s in starts)
    count = 0
    for began, shown in zip(tally.shown_starts, tally.shown_start_times, strict=True):
        known = bisect_right(ordered, began - SIMULTANEOUS_S)
        if known and shown - epoch_wall < ordered[known - 1] - SIMULTANEOUS_S:
            count += 1
    return count


@dataclass
class Staleness:
    judged: int = 0
    stale: int = 0
    max_ms: float = 0.0
    first: list[Violation] = field(default_factory=list)


def staleness(tally: Tally) -> Staleness:
    """Each read that returned a version, against every write acknowledged before it started (any phase)."""
    found = Staleness()
    reads = tally.judged
    names = list(reads.node_names)
    violations = []
    for began, key, seen, node in zip(reads.starts, reads.keys, reads.versions, reads.nodes, strict=True):
        judged, stale = tally.writes.judge(key, began, seen)
        found.judged += judged
        if stale is not None:
            found.stale += 1
            found.max_ms = max(found.max_ms, (began - stale.missed_acknowledged) * 1000)
            violations.append(Violation(began, key, names[node], seen, stale.expected))
            if len(violations) > 4 * SHOWN_VIOLATIONS:
                violations = heapq.nsmallest(SHOWN_VIOLATIONS, violations, key=lambda v: v.time)
    found.first = heapq.nsmallest(SHOWN_VIOLATIONS, violations, key=lambda v: v.time)
    return found


def recovery_s(tally: Tally, events: Sequence[Event]) -> float | None:
    """From each fault's end (an event of a kind that ends faults, or one marked so) to the start of the first
    read after it that the nodes answered from the cache; the longest. None without a fault end, or when a fault
    end was followed by no hit (it never recovered)."""
    ends = [e.end for e in events if e.ends_fault or e.kind in ENDING_FAULTS]
    if not ends:
        return None
    longest = 0.0
    for end in ends:
        first_hit = min((s for s in tally.hit_starts if s >= end), default=None)
        if first_hit is None:
            return None
        longest = max(longest, first_hit - end)
    return longest


def _most_reads(reads_by_node: Mapping[str, Mapping[str, int]] | None) -> float | None:
    if reads_by_node is None:
        return None
    return max((n for keys in reads_by_node.values() for n in keys.values()), default=0)


def _ratio(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def measure(
    records: Iterable[Record],
    *,
    source: SourceCount,
    events: Sequence[Event] = (),
    starts: Sequence[NodeStart] = (),
    epoch_wall: float = 0.0,
    seconds: float | None = None,
    writes: WriteIndex | None = None,
    cache_errors: int | None = None,
) -> Figures:
    """The catalogue's figures of ``records``. ``writes`` holds the writes acknowledged before this stretch (its
    reads are judged against them too); this stretch's writes are added to it. ``cache_errors``: the nodes' own
    count over the stretch (None: not read)."""
    tally = Tally(writes if writes is not None else WriteIndex())
    for record in records:
        tally.add(record)
    return finish(
        tally,
        source=source,
        events=events,
        starts=starts,
        epoch_wall=epoch_wall,
        seconds=seconds,
        cache_errors=cache_errors,
    )


def finish(
    tally: Tally,
    *,
    source: SourceCount,
    events: Sequence[Event] = (),
    starts: Sequence[NodeStart] = (),
    epoch_wall: float = 0.0,
    seconds: float | None = None,
    cache_errors: int | None = None,
) -> Figures:
    """The figures of a stretch whose records have all gone through ``tally``."""
    any_requests = tally.requests > 0
    if seconds is None:
        seconds = tally.last_end - tally.first_start if any_requests else 0
    stale = staleness(tally)
    after_restart = first_reads_after(tally.node_reads, events, RESTARTING)
    after_add = first_reads_after(tally.node_reads, events, ADDING)
    home = tally.home_reads > 0

    def percentile(p: float) -> float | None:
        return float(tally.latency.get_value_at_percentile(p)) / 1000 if any_requests else None

    values: dict[str, float | None] = {
        "requests": tally.requests,
        "requests_per_second": tally.requests / seconds if seconds > 0 else None,
        "errors": tally.errors,
        "shed_requests": tally.shed,
        "errors_not_shed": tally.errors - tally.shed,
        "failed_reads": tally.failed_reads if tally.reads else None,
        "refused_writes": tally.refused_writes if tally.writes_sent else None,
        "hit_ratio": tally.hits / tally.known_reads if tally.known_reads else None,
        "hit_ratio_after_restart": _ratio(after_restart),
        "misses_after_restart": after_restart.count(False) if after_restart else None,
        "hit_ratio_after_add": _ratio(after_add),
        "recovery_s": recovery_s(tally, events),
        "source_requests": source.reads,
        "source_writes": source.writes,
        "source_requests_per_key": source.reads / len(tally.read_keys) if tally.read_keys else None,
        "cache_errors": cache_errors,
        "max_source_reads_per_key_per_node": _most_reads(source.reads_by_node) if tally.read_keys else None,
        "coherence_violations": stale.stale if tally.acknowledged_writes else None,
        "stale_reads": stale.stale if stale.judged else None,
        "max_staleness_ms": stale.max_ms if stale.judged else None,
        "start_time_mismatches": start_time_mismatches(tally, starts, epoch_wall),
        "cached_time_values": len(tally.cached_times) if home else None,
        "cached_time_expired": tally.cached_time_expired if home else None,
        "p50_ms": percentile(50),
        "p95_ms": percentile(95),
        "p99_ms": percentile(99),
        "max_ms": float(tally.latency.get_max_value()) / 1000 if any_requests else None,
    }
    return Figures(values, stale.first, dict(tally.errors_by_step))
