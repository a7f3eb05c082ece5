"""A run judged phase by phase, as its records come in; and the whole run at the end.

Each ``expect`` judges the records since the previous one, but a read is judged against every write
acknowledged before it started, whatever phase that write was in: the writes are kept, compactly, across
phases. Each stale read is so counted in exactly one phase, and the whole run's figure (the final table) is the
sum of the phases': the table and the exit code cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from farm.scenario.coherence import WriteIndex
from farm.scenario.expectations import Verdict, judge
from farm.scenario.figures import Figures, SourceCount, measure
from farm.scenario.history import Event, HistoryStream, Record
from farm.scenario.result import CacheResult, NodeSample, SourceSample


def reads_between(
    before: dict[str, dict[str, int]] | None, after: dict[str, dict[str, int]] | None
) -> dict[str, dict[str, int]] | None:
    """The reads by node and item from one count of the source store to a later one (None if either is missing)."""
    if before is None or after is None:
        return None
    return {
        node: {key: n - before.get(node, {}).get(key, 0) for key, n in keys.items()} for node, keys in after.items()
    }


def cache_errors_between(before: NodeSample | None, after: NodeSample | None) -> int | None:
    """The nodes' cache errors from one sample to a later one; a node that started meanwhile counts from its start
    (None if either sample is missing)."""
    if before is None or after is None:
        return None
    total = 0
    for node, (started, count) in after.cache_errors.items():
        earlier = before.cache_errors.get(node)
        total += count - earlier[1] if earlier is not None and earlier[0] == started else count
    return total


class Phases:
    """Where the loads put their records (and a test its recorded ones): kept in the result's compact columns,
    and streamed to history.jsonl when ``history`` is given."""

    def __init__(self, result: CacheResult, history: HistoryStream | None = None) -> None:
        self.result = result
        self.history = history
        self._writes = WriteIndex()
        self._first_record = self._first_event = 0
        self._source_before = SourceSample(0, 0, 0)
        self._nodes_before: NodeSample | None = None

    def begin(self) -> None:
        """The first phase starts here, from the source store's (and the nodes') first sample."""
        self._source_before = self.result.source_samples[-1]
        self._nodes_before = self._last_nodes()

    def _last_nodes(self) -> NodeSample | None:
        return self.result.node_samples[-1] if self.result.node_samples else None

    def append(self, record: Record) -> None:
        self.result.records.append(record)
        if self.history is not None:
            self.history.append(record)

    def flush(self) -> None:
        """Writes out the records still waiting for a batch."""
        if self.history is not None:
            self.history.flush()

    def close(self) -> None:
        """Writes out the records still waiting, and ends the history's writer: the run is over."""
        if self.history is not None:
            self.history.close()

    def expect(self, thresholds: dict[str, Any], line: int, now: float) -> list[Verdict]:
        """Judges everything since the previous ``expect`` (or the start), ``now`` seconds into the run, with the
        source store's counters as last sampled."""
        result = self.result
        phase_start = result.records[self._first_record].start if len(result.records) > self._first_record else now
        figures = self._measure(
            result.records.since(self._first_record),
            result.events[self._first_event :],
            self._source_before,
            now - phase_start,
            self._writes,
            cache_errors_between(self._nodes_before, self._last_nodes()),
        )
        verdicts = judge(thresholds, figures, line, cache=result.cache, cache_falls_short=result.expected_to_fail)
        result.verdicts += verdicts
        self._first_record, self._first_event = len(result.records), len(result.events)
        self._source_before = result.source_samples[-1]
        self._nodes_before = self._last_nodes()
        return verdicts

    def _by_node_before(self, sample: SourceSample) -> dict[str, dict[str, int]] | None:
        """The reads by node of ``sample``, or of the last sample before it that has them: a steady sample may land
        between the one a phase's end took and the phase's judgement."""
        if sample.reads_by_node is not None:
            return sample.reads_by_node
        earlier = (s for s in reversed(self.result.source_samples) if s.at <= sample.at)
        return next((s.reads_by_node for s in earlier if s.reads_by_node is not None), None)

    def whole_run(self) -> Figures:
        result = self.result
        since = result.source_samples[0] if result.source_samples else SourceSample(0, 0, 0)
        first_nodes = result.node_samples[0] if result.node_samples else None
        cache_errors = cache_errors_between(first_nodes, self._last_nodes())
        return self._measure(iter(result.records), result.events, since, result.seconds, WriteIndex(), cache_errors)

    def _measure(
        self,
        records: Iterable[Record],
        events: Sequence[Event],
        since: SourceSample,
        seconds: float,
        writes: WriteIndex,
        cache_errors: int | None = None,
    ) -> Figures:
        result = self.result
        last = result.source_samples[-1] if result.source_samples else since
        by_node = reads_between(self._by_node_before(since), self._by_node_before(last))
        return measure(
            records,
            source=SourceCount(last.reads - since.reads, last.writes - since.writes, by_node),
            events=events,
            starts=result.starts,
            epoch_wall=result.epoch_wall,
            seconds=seconds,
            writes=writes,
            cache_errors=cache_errors,
        )
