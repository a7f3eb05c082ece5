"""Stale reads and the other fault figures on hand-made histories: pure logic."""

from __future__ import annotations

import pytest

from farm.scenario.coherence import Stale, WriteIndex
from farm.scenario.expectations import judge
from farm.scenario.figures import SourceCount, measure
from farm.scenario.history import Event, Record


def read(start: float, key: int, version: int | None, *, hit: bool | None = True, status: int = 200) -> Record:
    return Record(start, start + 0.01, "node-1", key, "GET", status, version, hit, "load")


def write(start: float, end: float, key: int, version: int | None, *, status: int = 200) -> Record:
    return Record(start, end, "node-2", key, "PUT", status, version, None, "write")


def test_a_read_is_judged_against_the_newest_write_acknowledged_before_it_started() -> None:
    writes = WriteIndex()
    writes.add(5, 2.0, 3)
    writes.add(5, 1.0, 2)  # acknowledged earlier, recorded later: the index sorts it in
    assert writes.judge(5, 0.5, 1) == (False, None), "no write acknowledged yet: nothing to judge against"
    assert writes.judge(6, 9.0, 1) == (False, None), "never written"
    assert writes.judge(5, 1.5, 2) == (True, None)
    assert writes.judge(5, 1.5, 1) == (True, Stale(expected=2, missed_acknowledged=1.0))
    assert writes.judge(5, 2.5, 1) == (True, Stale(expected=3, missed_acknowledged=1.0)), "the oldest write missed"
    assert writes.judge(5, 2.5, 2) == (True, Stale(expected=3, missed_acknowledged=2.0))


def test_stale_reads_and_how_long_after_the_missed_write_the_last_one_started() -> None:
    records = [
        write(0.9, 1.0, 5, 2),
        write(1.9, 2.0, 5, 3),
        read(0.95, 5, 1),  # started before any acknowledgement: judged against nothing
        read(2.5, 5, 1),  # missed v2 (acknowledged at 1.0): 1.5 s stale
        read(3.0, 5, 2),  # missed v3 (acknowledged at 2.0): 1.0 s stale
        read(3.1, 5, 3),
    ]
    values = measure(records, source=SourceCount()).values
    assert (values["stale_reads"], values["coherence_violations"]) == (2, 2)
    assert values["max_staleness_ms"] == pytest.approx(1500)


def test_a_phase_without_writes_measures_no_coherence_and_fails_its_expectation() -> None:
    figures = measure([read(1.0, 5, 1), read(2.0, 6, 1)], source=SourceCount())
    assert figures.values["coherence_violations"] is None
    assert figures.values["stale_reads"] is None, "no read could be judged"
    assert figures.values["max_staleness_ms"] is None
    assert [v.passed for v in judge({"coherence_violations": 0, "stale_reads": 0}, figures, line=3)] == [False, False]


def test_refused_writes_and_failed_reads_are_counted_and_not_measured_without_any() -> None:
    records = [write(0, 0.1, 1, None, status=503), write(0, 0.1, 2, 4), read(1, 1, None, status=0)]
    records += [read(1, 2, None, status=502), read(1, 2, 4)]
    values = measure(records, source=SourceCount()).values
    assert (values["refused_writes"], values["failed_reads"], values["errors"]) == (1, 2, 3)
    only_reads = measure([read(1, 2, 4)], source=SourceCount()).values
    assert (only_reads["refused_writes"], only_reads["failed_reads"]) == (None, 0)
    assert measure([write(0, 0.1, 1, 2)], source=SourceCount()).values["failed_reads"] is None


def test_recovery_runs_from_a_fault_end_to_the_first_hit_after_it() -> None:
    records = [read(4.0, 1, 1), read(5.1, 1, 1, hit=False), read(5.3, 1, 1), read(5.4, 1, 1)]
    back = Event(4.5, 5.0, "cache", None, "cache start", ends_fault=True)
    stopped = Event(3.0, 3.1, "cache", None, "cache stop")
    assert measure(records, source=SourceCount(), events=[stopped, back]).values["recovery_s"] == pytest.approx(0.3)
    assert measure(records, source=SourceCount(), events=[stopped]).values["recovery_s"] is None, "no fault end"
    never = Event(6.0, 6.0, "cache", None, "cache start", ends_fault=True)
    assert measure(records, source=SourceCount(), events=[back, never]).values["recovery_s"] is None, "no hit after"
    healed = Event(5.2, 5.2, "heal", "node-1", "partition node-1: healed by itself")
    assert measure(records, source=SourceCount(), events=[healed]).values["recovery_s"] == pytest.approx(0.1), (
        "a heal ends a fault by its kind"
    )


def test_a_cache_start_ends_a_fault_and_a_stop_does_not() -> None:
    from farm.scenario.steps import CacheStep, WaitStep

    assert CacheStep.parse("start", 1).ends_fault_event()
    assert not CacheStep.parse("stop", 1).ends_fault_event()
    assert not WaitStep(line=1, seconds=1).ends_fault_event()
