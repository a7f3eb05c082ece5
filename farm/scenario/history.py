"""Every request a scenario makes, as a record; written to history.jsonl and read back by the checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HOME_KEY = 0
"""The key recorded for reads of the home page (``/``) rather than of an item."""


@dataclass(frozen=True)
class Record:
    """One client request. Times are seconds since the scenario started (a monotonic clock)."""

    start: float
    end: float
    node: str | None
    key: int
    method: str
    status: int
    version: int | None
    hit: bool | None
    step: str
    last_start: str | None = None
    """The ``Last-Server-Start-Time`` header: the farm's start time as this node read it from the cache."""
    cached_time: str | None = None
    """Home page reads only: the cached time shown, or None when the page said it had expired."""

    @property
    def latency_ms(self) -> float:
        return (self.end - self.start) * 1000

    @property
    def is_home(self) -> bool:
        return self.key == HOME_KEY

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_read(self) -> bool:
        return self.method == "GET"


NOTE = "note"
"""The kind of an event that only remarks on the run (a step that had nothing to act on); every other kind is the
step kind that acted."""


@dataclass(frozen=True)
class Event:
    """Something a step did to the farm, from ``start`` to ``end`` (seconds since the scenario started)."""

    start: float
    end: float
    kind: str
    node: str | None
    label: str


def write_history(path: Path, cache: str, records: Iterable[Record], *, append: bool = False) -> None:
    """One JSON object per request, with the cache it was run with and its latency in milliseconds."""
    with path.open("a" if append else "w") as out:
        for record in records:
            line = {"cache": cache, **asdict(record), "latency_ms": round(record.latency_ms, 3)}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def read_history(path: Path, cache: str | None = None) -> Iterator[Record]:
    with path.open() as lines:
        for line in lines:
            data = json.loads(line)
            recorded = data.pop("cache", None)
            data.pop("latency_ms", None)  # written for readers of the file; the record computes it
            if cache is None or recorded == cache:
                yield Record(**data)
