"""A run judged phase by phase on recorded histories: what the runner does at each ``expect`` and at the end."""

from __future__ import annotations

import io
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from farm.scenario import history
from farm.scenario.columns import RecordColumns
from farm.scenario.history import HistoryStream, Record, read_history
from farm.scenario.phases import Phases
from farm.scenario.report.html_report import render_html
from farm.scenario.report.junit import junit_tree
from farm.scenario.report.table import print_summary
from farm.scenario.result import CacheResult, NodeSample, SourceSample
from farm.scenario.spec import parse_scenario

TWO_PHASES = """
name: two-phases
expected_to_fail: [none]
steps:
  - write: {keys: [5]}
  - expect: {errors: 0}
  - load: {requests: 10}
  - expect: {stale_reads: 0, hit_ratio: {min: 0.9, expected_to_fail: [memory]}}
"""


def read(start: float, key: int, version: int, hit: bool = True) -> Record:
    return Record(start, start + 0.01, "node-1", key, "GET", 200, version, hit, "load")


def write(start: float, end: float, key: int, version: int) -> Record:
    return Record(start, end, "node-2", key, "PUT", 200, version, None, "write")


def run_phases(cache: str, second_phase: list[Record]) -> CacheResult:
    """Two phases as the runner drives them: a write of key 5 (v2), then ``second_phase``."""
    scenario = parse_scenario(TWO_PHASES)
    result = CacheResult(cache, expected_to_fail=cache in scenario.expected_to_fail)
    result.source_samples.append(SourceSample(0, 0, 0))
    phases = Phases(result)
    phases.begin()
    phases.append(write(0.5, 1.0, 5, 2))
    phases.expect({"errors": 0}, 5, now=1.1)
    for record in second_phase:
        phases.append(record)
    phases.expect(scenario.steps[3].thresholds, 7, now=5.0)  # type: ignore[attr-defined]
    result.seconds = 5.0
    result.figures = phases.whole_run()
    return result


def test_a_read_older_than_a_write_of_an_earlier_phase_fails_its_phase_and_the_run() -> None:
    result = run_phases("redis", [read(2.0, 5, 1), read(2.1, 5, 2), read(2.2, 6, 1)])
    stale = next(v for v in result.verdicts if v.metric == "stale_reads")
    assert (stale.value, stale.passed) == (1, False), "judged against the write of the first phase"
    assert result.figures is not None
    assert result.figures.values["stale_reads"] == 1, "the final table counts the same read"
    assert not result.acceptable, "so the exit code says what the table shows"


def test_the_phases_stale_reads_add_up_to_the_whole_runs() -> None:
    second = [read(2.0 + i / 10, 5, 1 + i % 2) for i in range(10)]
    result = run_phases("redis", second)
    assert result.figures is not None
    phase = next(v for v in result.verdicts if v.metric == "stale_reads")
    assert phase.value == result.figures.values["stale_reads"] == 5


def test_an_expectation_known_to_fail_for_one_cache_does_not_hide_its_others() -> None:
    misses = [read(2.0 + i / 10, 5, 2, hit=False) for i in range(10)]
    memory = run_phases("memory", misses)
    assert [(v.metric, v.passed, v.expected_to_fail) for v in memory.verdicts] == [
        ("errors", True, False),
        ("stale_reads", True, False),
        ("hit_ratio", False, True),
    ]
    assert memory.acceptable, "its one known shortfall"
    stale_memory = run_phases("memory", [*misses, read(3.5, 5, 1, hit=False)])
    assert not stale_memory.acceptable, "a stale read is not the shortfall the scenario expects of it"
    redis = run_phases("redis", misses)
    assert not redis.acceptable, "redis is not expected to miss"
    everything = run_phases("none", [*misses, read(3.5, 5, 1, hit=False)])
    assert everything.acceptable, "the scenario-wide form still covers every expectation"


def test_the_reports_mark_each_row_expected_to_fail_or_not() -> None:
    scenario = parse_scenario(TWO_PHASES)
    misses = [read(2.0 + i / 10, 5, 2, hit=False) for i in range(10)]
    results = [run_phases("memory", misses), run_phases("redis", misses)]
    out = io.StringIO()
    print_summary(Console(file=out, width=200), results, scenario.name)
    row = next(line for line in out.getvalue().splitlines() if "hit_ratio >= 0.9" in line)
    assert "fail 0 (expected)" in row
    assert "FAIL 0" in row
    html = render_html(scenario, results, "now")
    assert 'class="n xfail">fail (expected) 0<' in html
    assert 'class="n fail">FAIL 0<' in html
    suites = junit_tree(scenario, results).getroot()
    memory, redis = (suite for suite in suites.iter("testsuite"))
    assert (memory.get("failures"), memory.get("skipped"), redis.get("failures")) == ("0", "1", "1")
    assert ET.tostring(memory).count(b"<skipped") == 1


def test_columns_give_back_the_records_they_were_given() -> None:
    records = [read(0.1, 1, 1), write(0.2, 0.3, 1, 2), Record(0.4, 0.5, None, 0, "GET", 0, None, None, "s", "x", None)]
    columns = RecordColumns(records)
    assert list(columns) == records
    assert list(reversed(columns)) == records[::-1]
    assert list(columns.since(1)) == records[1:]
    assert columns.errors == 1


def test_the_history_streams_to_its_file_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.jsonl"
    stream = HistoryStream(path, "redis")
    records = [read(i / 1000, 1, 1) for i in range(2 * HistoryStream.BATCH + 1)]
    writers: set[str] = set()
    real_write = history.write_history

    def write(*args: Any, **kwargs: Any) -> None:
        writers.add(threading.current_thread().name)
        real_write(*args, **kwargs)

    monkeypatch.setattr(history, "write_history", write)
    for record in records:
        stream.append(record)
    deadline = time.monotonic() + 10
    while (path.stat().st_size if path.exists() else 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), "full batches are written as the run goes, without a flush"
    stream.flush()
    assert list(read_history(path, "redis")) == records, "every record, in order, once flushed"
    assert threading.current_thread().name not in writers, "batches are encoded off the caller's thread"


def test_reads_by_node_are_judged_from_the_samples_taken_where_phases_end() -> None:
    """A steady sample (totals only) that lands after a phase's end is skipped for the reads by node."""
    result = CacheResult("redis")
    result.source_samples.append(SourceSample(0, 0, 0, {}))
    phases = Phases(result)
    phases.begin()
    phases.append(read(0.5, 1, 1, hit=False))
    result.source_samples.append(SourceSample(1.0, 2, 0, {"node-1": {"1": 2}}))
    result.source_samples.append(SourceSample(1.1, 2, 0))
    [first] = phases.expect({"max_source_reads_per_key_per_node": {"max": 1}}, 3, now=1.2)
    assert (first.value, first.passed) == (2, False)
    phases.append(read(1.5, 1, 1))
    result.source_samples.append(SourceSample(2.0, 3, 0, {"node-1": {"1": 2}, "node-2": {"1": 1}}))
    [second] = phases.expect({"max_source_reads_per_key_per_node": {"max": 1}}, 5, now=2.1)
    assert (second.value, second.passed) == (1, True)
    assert phases.whole_run().values["max_source_reads_per_key_per_node"] == 2


def test_the_nodes_cache_errors_are_counted_per_phase_and_a_restart_counts_from_zero() -> None:
    result = CacheResult("redis")
    result.source_samples.append(SourceSample(0, 0, 0))
    result.node_samples.append(NodeSample(0, {"node-1": ("t0", 5), "node-2": ("t0", 1)}))
    phases = Phases(result)
    phases.begin()
    phases.append(read(0.5, 1, 1))
    result.node_samples.append(NodeSample(1.0, {"node-1": ("t0", 7), "node-2": ("t1", 3)}))  # node-2 restarted
    [first] = phases.expect({"cache_errors": 0}, 3, now=1.1)
    assert (first.value, first.passed) == (2 + 3, False)
    phases.append(read(1.5, 1, 1))
    result.node_samples.append(NodeSample(2.0, {"node-1": ("t0", 7), "node-2": ("t1", 3), "node-3": ("t2", 0)}))
    [second] = phases.expect({"cache_errors": 0}, 5, now=2.1)
    assert (second.value, second.passed) == (0, True)
    assert phases.whole_run().values["cache_errors"] == 2 + 3


def test_without_the_nodes_counts_cache_errors_are_not_measured() -> None:
    result = CacheResult("redis")
    result.source_samples.append(SourceSample(0, 0, 0))
    phases = Phases(result)
    phases.begin()
    phases.append(read(0.5, 1, 1))
    [verdict] = phases.expect({"cache_errors": 0}, 3, now=1.0)
    assert (verdict.value, verdict.passed) == (None, False)


def test_a_closed_history_has_every_record_and_leaves_no_thread_behind(tmp_path: Path) -> None:
    """A process that runs scenario after scenario (a test session with the plugin) keeps no writer per run."""
    before = set(threading.enumerate())
    path = tmp_path / "history.jsonl"
    stream = HistoryStream(path, "redis")
    for i in range(HistoryStream.BATCH + 3):
        stream.append(read(i / 1000, 1, 1))
    stream.close()
    assert len(list(read_history(path))) == HistoryStream.BATCH + 3
    assert [t.name for t in set(threading.enumerate()) - before if t.name.startswith("history-writer")] == []
