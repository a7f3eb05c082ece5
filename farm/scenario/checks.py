"""The figures a scenario is judged by, computed from its recorded history alone."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from farm.scenario.coherence import Violation, WriteIndex
from farm.scenario.history import Record

MAX_LATENCY_US = 120_000_000


def coherence_violations(records: Sequence[Record]) -> list[Violation]:
    """Reads that began after a write of the same key had been acknowledged, and saw a version older than it."""
    writes = WriteIndex()
    for r in records:
        if not r.is_read and r.ok and r.version is not None:
            writes.add(r.key, r.end, r.version)
    found = []
    for r in sorted(records, key=lambda r: r.start):
        if r.is_read and r.ok and r.version is not None:
            _, stale = writes.judge(r.key, r.start, r.version)
            if stale is not None:
                found.append(Violation(r.start, r.key, r.node, r.version, stale.expected))
    return found


def hit_ratio(records: Sequence[Record]) -> float | None:
    reads = [r for r in records if r.is_read and r.ok and r.hit is not None]
    return sum(r.hit for r in reads) / len(reads) if reads else None  # type: ignore[misc]


def source_requests_per_key(source_reads: int, records: Sequence[Record]) -> float | None:
    """Source store reads (its own counter) per distinct key the clients read."""
    keys = {r.key for r in records if r.is_read and not r.is_home}
    return source_reads / len(keys) if keys else None


def errors_by_step(records: Sequence[Record]) -> dict[str, int]:
    return dict(Counter(r.step for r in records if not r.ok))


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def latency(records: Sequence[Record]) -> Latency | None:
    if not records:
        return None
    histogram = HdrHistogram(1, MAX_LATENCY_US, 3)
    for r in records:
        histogram.record_value(min(MAX_LATENCY_US, max(1, round((r.end - r.start) * 1_000_000))))

    def at(percentile: float) -> float:
        return float(histogram.get_value_at_percentile(percentile)) / 1000

    return Latency(at(50), at(95), at(99), float(histogram.get_max_value()) / 1000)


def per_second(records: Iterable[Record]) -> list[dict[str, float]]:
    """Requests, errors, hit ratio and p50/p99 latency for each second of the run, by the second a request
    ended in."""
    rows: list[dict[str, float]] = []
    latencies: list[array[float]] = []
    for r in records:
        second = int(r.end)
        while len(rows) <= second:
            rows.append({"second": len(rows), "requests": 0, "errors": 0, "hits": 0, "reads": 0})
            latencies.append(array("d"))
        row = rows[second]
        row["requests"] += 1
        row["errors"] += 0 if r.ok else 1
        latencies[second].append(r.latency_ms)
        if r.is_read and r.ok and r.hit is not None:
            row["reads"] += 1
            row["hits"] += int(r.hit)
    nan = float("nan")
    return [
        {
            **row,
            "hit_ratio": row["hits"] / row["reads"] if row["reads"] else nan,
            "p50_ms": _percentile(sorted(spent), 50) if spent else nan,
            "p99_ms": _percentile(sorted(spent), 99) if spent else nan,
        }
        for row, spent in zip(rows, latencies, strict=True)
    ]


def _percentile(ordered: Sequence[float], percent: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]
