"""What one run of a scenario with one cache produced: what the reports, the live view and the checks read."""

from __future__ import annotations

from dataclasses import dataclass, field

from farm.scenario.columns import RecordColumns
from farm.scenario.expectations import Verdict
from farm.scenario.figures import Figures, NodeStart
from farm.scenario.history import Event


@dataclass(frozen=True)
class SourceSample:
    """The source store's own counters at ``at`` seconds since the scenario started."""

    at: float
    reads: int
    writes: int
    reads_by_node: dict[str, dict[str, int]] | None = None
    """Reads by node, then by item: read where phases begin and end only (the steady samples keep the totals)."""


@dataclass(frozen=True)
class NodeSample:
    """The nodes' own counts of cache errors at ``at`` seconds since the scenario started: by node, its start time
    (a restarted node counts from zero again) and its count. Read where phases begin and end."""

    at: float
    cache_errors: dict[str, tuple[str, int]]


@dataclass
class CacheResult:
    cache: str
    records: RecordColumns = field(default_factory=RecordColumns)
    events: list[Event] = field(default_factory=list)
    source_samples: list[SourceSample] = field(default_factory=list)
    node_samples: list[NodeSample] = field(default_factory=list)
    starts: list[NodeStart] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    figures: Figures | None = None
    epoch_wall: float = 0.0
    seconds: float = 0.0
    failure: str | None = None
    """Why the run stopped early (the farm failed); None when every step ran."""
    expected_to_fail: bool = False
    """The scenario expects this cache to fall short in every expectation: failures are shown, not counted."""

    @property
    def passed(self) -> bool:
        return self.failure is None and all(v.passed for v in self.verdicts)

    @property
    def acceptable(self) -> bool:
        """What the exit code goes by: passed, or failed only in expectations this cache was expected to fail."""
        return self.failure is None and all(v.acceptable for v in self.verdicts)
