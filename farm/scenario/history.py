"""Every request a scenario makes, as a record; written to history.jsonl and read back by the checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
    shed: bool = False
    """A node shed the request: a 503 with ``Retry-After`` and ``X-Shed``, before doing any work for it."""

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
    ends_fault: bool = False
    """The farm is whole again here (the cache is back): ``recovery_s`` counts from ``end``. Events of a step kind
    whose class ends faults (``heal``) count so whether marked or not."""


class RecordSink(Protocol):
    """Where a load puts each record as its request finishes."""

    def append(self, record: Record, /) -> None: ...


def write_history(path: Path, cache: str, records: Iterable[Record], *, append: bool = False) -> None:
    """One JSON object per request, with the cache it was run with and its latency in milliseconds."""
    with path.open("a" if append else "w") as out:
        for record in records:
            # vars(), not asdict(): a record holds no container to copy, and asdict's deep copy took 9 us a record,
            # a quarter of what the load generator's process spends on a request.
            line = {"cache": cache, **vars(record), "latency_ms": round(record.latency_ms, 3)}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


class HistoryStream:
    """Records on their way to history.jsonl: written in batches as the run goes, so a long run never holds
    more than a batch of them as lines to write, and a run cut short leaves its history so far.

    A batch is encoded and written by a thread of its own: thousands of records take tens of milliseconds to
    encode, which the load's event loop would otherwise spend between two requests (and measure as latency)."""

    BATCH = 2000

    def __init__(self, path: Path, cache: str) -> None:
        self.path = path
        self.cache = cache
        self._pending: list[Record] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-writer")
        self._writing: list[Future[None]] = []

    def append(self, record: Record) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.BATCH:
            self._send()

    def _send(self) -> None:
        pending, self._pending = self._pending, []
        if pending:  # one writer thread: batches land in the order they were sent
            self._writing.append(self._writer.submit(write_history, self.path, self.cache, pending, append=True))

    def flush(self) -> None:
        """Returns once every record appended so far is in the file (it waits: async code calls it in a thread)."""
        self._send()
        writing, self._writing = self._writing, []
        for batch in writing:
            batch.result()

    def close(self) -> None:
        """Flushes, then lets the writer thread go: a process that runs many scenarios keeps none per run."""
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)


def read_history(path: Path, cache: str | None = None) -> Iterator[Record]:
    with path.open() as lines:
        for line in lines:
            data = json.loads(line)
            recorded = data.pop("cache", None)
            data.pop("latency_ms", None)  # written for readers of the file; the record computes it
            if cache is None or recorded == cache:
                yield Record(**data)
