"""The checks on hand-made histories: pure logic, so the records are written out here."""

from __future__ import annotations

import json
import math
from pathlib import Path

from farm.scenario.checks import (
    coherence_violations,
    errors_by_step,
    hit_ratio,
    latency,
    per_second,
    source_requests_per_key,
)
from farm.scenario.coherence import Violation
from farm.scenario.history import Record, read_history, write_history


def read(
    start: float,
    key: int,
    version: int,
    node: str = "node-1",
    hit: bool = True,
    status: int = 200,
    end: float | None = None,
    step: str = "load",
) -> Record:
    return Record(start, end if end is not None else start + 0.01, node, key, "GET", status, version, hit, step)


def write(start: float, end: float, key: int, version: int) -> Record:
    return Record(start, end, "node-2", key, "PUT", 200, version, None, "write")


def test_a_read_after_a_completed_write_must_see_its_version() -> None:
    records = [
        write(1.0, 1.1, key=5, version=2),
        read(1.05, 5, version=1),  # started during the write: either version is fine
        read(1.2, 5, version=2, node="node-1"),
        read(1.3, 5, version=1, node="node-3"),  # stale: a violation
        read(1.3, 6, version=1),  # another key
    ]
    assert coherence_violations(records) == [Violation(1.3, 5, "node-3", seen=1, expected=2)]


def test_the_newest_completed_write_is_the_one_expected() -> None:
    records = [write(1.0, 1.1, 5, 2), write(2.0, 2.1, 5, 3), read(2.05, 5, 2), read(2.2, 5, 2)]
    assert coherence_violations(records) == [Violation(2.2, 5, "node-1", 2, 3)]


def test_the_hit_ratio_counts_successful_reads_only() -> None:
    records = [read(t, 1, 1, hit=t < 5 or t >= 5.2) for t in (1, 2, 3, 5.0, 5.1, 5.2, 5.3)]
    assert hit_ratio(records) == 5 / 7
    assert hit_ratio([*records, write(6, 6.1, 1, 2), Record(7, 7.1, "node-1", 1, "GET", 502, None, None, "s")]) == 5 / 7
    assert hit_ratio([]) is None


def test_source_requests_per_distinct_key_read() -> None:
    records = [read(1, k, 1) for k in (1, 2, 2, 3, 4)]
    assert source_requests_per_key(6, records) == 1.5
    assert source_requests_per_key(6, []) is None


def test_errors_are_counted_by_step_and_latency_percentiles_come_from_a_histogram() -> None:
    records = [read(0, 1, 1, end=0.001 * (i + 1), step="load") for i in range(100)]
    records += [read(1, 1, 1, status=502, step="restart"), read(1, 1, 1, status=504, step="restart")]
    assert errors_by_step(records) == {"restart": 2}
    measured = latency(records[:100])
    assert measured is not None
    assert abs(measured.p50_ms - 50) < 0.5
    assert abs(measured.p99_ms - 99) < 0.5


def test_per_second_series() -> None:
    records = [read(0.1, 1, 1, hit=False), read(0.5, 1, 1), read(1.5, 1, 1, status=500)]
    rows = per_second(records)
    assert [(r["requests"], r["errors"]) for r in rows] == [(2, 0), (1, 1)]
    assert rows[0]["hit_ratio"] == 0.5
    assert math.isnan(rows[1]["hit_ratio"])


def test_history_round_trips_through_jsonl(tmp_path: Path) -> None:
    records = [read(0.1, 1, 1), write(0.2, 0.3, 1, 2)]
    write_history(tmp_path / "history.jsonl", "redis", records)
    write_history(tmp_path / "history.jsonl", "sql", records[:1], append=True)
    assert list(read_history(tmp_path / "history.jsonl", "redis")) == records
    assert list(read_history(tmp_path / "history.jsonl", "sql")) == records[:1]
    assert len(list(read_history(tmp_path / "history.jsonl"))) == len(records) + 1
    first = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[0])
    assert (first["cache"], first["method"], first["latency_ms"]) == ("redis", "GET", 10.0)
