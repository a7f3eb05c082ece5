"""The figures of one stretch of a scenario (a phase between two ``expect`` steps, or the whole run).

Everything comes from the recorded history, the farm's events and the source store's own counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from farm.scenario.catalogue import FIRST_READS_AFTER, SIMULTANEOUS_S
from farm.scenario.checks import (
    Violation,
    coherence_violations,
    errors_by_step,
    hit_ratio,
    latency,
    source_requests_per_key,
)
from farm.scenario.history import Event, Record
from farm.scenario.steps import STEP_TYPES

RESTARTING = tuple(kind for kind, step in STEP_TYPES.items() if step.restarts_node)
ADDING = tuple(kind for kind, step in STEP_TYPES.items() if step.adds_node)
SHOWN_VIOLATIONS = 5


@dataclass(frozen=True)
class NodeStart:
    node: str
    at: float
    """Seconds since the scenario started (may be negative: before it)."""


@dataclass(frozen=True)
class SourceCount:
    reads: int = 0
    writes: int = 0


@dataclass
class Figures:
    values: dict[str, float | None]
    first_violations: list[Violation] = field(default_factory=list)
    errors_by_step: dict[str, int] = field(default_factory=dict)


def parse_utc(text: str) -> float:
    """Seconds since the Unix epoch of an ISO 8601 time as the nodes write it (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def first_reads_after(records: Sequence[Record], events: Sequence[Event], kinds: tuple[str, ...]) -> list[Record]:
    """For each event of ``kinds`` on a node: the first reads that node served once it was back."""
    chosen: list[Record] = []
    for event in events:
        if event.kind not in kinds or event.node is None:
            continue
        served = (r for r in records if r.node == event.node and r.start >= event.end and r.is_read and r.ok)
        chosen += sorted((r for r in served if r.hit is not None), key=lambda r: r.start)[:FIRST_READS_AFTER]
    return chosen


def start_time_mismatches(records: Sequence[Record], starts: Sequence[NodeStart], epoch_wall: float) -> int:
    """Responses whose ``Last-Server-Start-Time`` is older than the start of the most recently started node.

    A read is judged against the nodes that had started at least ``SIMULTANEOUS_S`` before it began
    (a new node writes its start time to the cache as it comes up)."""
    if not starts:
        return 0
    ordered = sorted(s.at for s in starts)
    count = 0
    for r in records:
        if not r.ok or r.last_start is None:
            continue
        known = [at for at in ordered if at <= r.start - SIMULTANEOUS_S]
        if not known:
            continue
        shown = parse_utc(r.last_start) - epoch_wall
        if shown < known[-1] - SIMULTANEOUS_S:
            count += 1
    return count


def measure(
    records: Sequence[Record],
    *,
    source: SourceCount,
    events: Sequence[Event] = (),
    starts: Sequence[NodeStart] = (),
    epoch_wall: float = 0.0,
    seconds: float | None = None,
) -> Figures:
    violations = coherence_violations(records)
    measured = latency(records)
    after_restart = first_reads_after(records, events, RESTARTING)
    after_add = first_reads_after(records, events, ADDING)
    home = [r for r in records if r.is_home and r.ok]
    if seconds is None:
        seconds = max((r.end for r in records), default=0) - min((r.start for r in records), default=0)
    values: dict[str, float | None] = {
        "requests": len(records),
        "requests_per_second": len(records) / seconds if seconds > 0 else None,
        "errors": sum(not r.ok for r in records),
        "hit_ratio": hit_ratio(records),
        "hit_ratio_after_restart": hit_ratio(after_restart),
        "misses_after_restart": sum(r.hit is False for r in after_restart) if after_restart else None,
        "hit_ratio_after_add": hit_ratio(after_add),
        "source_requests": source.reads,
        "source_writes": source.writes,
        "source_requests_per_key": source_requests_per_key(source.reads, records),
        "coherence_violations": len(violations),
        "start_time_mismatches": start_time_mismatches(records, starts, epoch_wall),
        "cached_time_values": len({r.cached_time for r in home if r.cached_time is not None}) if home else None,
        "cached_time_expired": sum(r.cached_time is None for r in home) if home else None,
        "p50_ms": measured.p50_ms if measured else None,
        "p95_ms": measured.p95_ms if measured else None,
        "p99_ms": measured.p99_ms if measured else None,
        "max_ms": measured.max_ms if measured else None,
    }
    return Figures(values, violations[:SHOWN_VIOLATIONS], errors_by_step(records))
