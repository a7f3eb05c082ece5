"""Every request a scenario makes, as a record; written to history.jsonl and read back by the checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path


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

    @property
    def latency_ms(self) -> float:
        return (self.end - self.start) * 1000

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_read(self) -> bool:
        return self.method == "GET"


def write_history(path: Path, records: Iterable[Record]) -> None:
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(asdict(record), separators=(",", ":")) + "\n")


def read_history(path: Path) -> Iterator[Record]:
    with path.open() as lines:
        for line in lines:
            yield Record(**json.loads(line))
