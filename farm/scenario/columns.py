"""A run's records in compact columns: about 50 bytes a request instead of about 400 as objects.

The runner keeps every record of a run (the reports' per-second series and the whole run's figures read them
at the end); two million requests then take about 100 MB, not gigabytes. Strings (nodes, steps, start times)
are stored once each.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

from farm.scenario.history import Record

NO_VERSION = -(2**63)


class RecordColumns:
    """Append-only; reads give back ``Record`` objects, made on the fly."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._start: array[float] = array("d")
        self._end: array[float] = array("d")
        self._key: array[int] = array("q")
        self._version: array[int] = array("q")
        self._status: array[int] = array("h")
        self._hit: array[int] = array("b")
        self._shed: array[int] = array("b")
        self._texts: array[int] = array("i")
        """Five string ids a record: node, method, step, last start, cached time."""
        self._strings: list[str | None] = [None]
        self._ids: dict[str | None, int] = {None: 0}
        self.errors = 0
        """Requests that failed so far (the live view shows it without counting again)."""
        for record in records:
            self.append(record)

    def _id(self, text: str | None) -> int:
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self._strings)
            self._strings.append(text)
        return found

    def append(self, r: Record) -> None:
        self._start.append(r.start)
        self._end.append(r.end)
        self._key.append(r.key)
        self._version.append(NO_VERSION if r.version is None else r.version)
        self._status.append(r.status)
        self._hit.append(-1 if r.hit is None else int(r.hit))
        self._shed.append(r.shed)
        self._texts.extend(map(self._id, (r.node, r.method, r.step, r.last_start, r.cached_time)))
        self.errors += not r.ok

    def ended_since(self, since: float) -> tuple[int, int, int]:
        """Requests that ended at ``since`` or later (records arrive roughly in end order, so the scan goes back
        from the newest until one ended before), the reads among them answered 2xx as a hit or a miss, and the
        hits. From the columns themselves: the live view asks four times a second, and making a ``Record`` of each
        took 12 ms a time at 6,000 requests/s (5% of a core, from the process that runs the load)."""
        ends, statuses, hits = self._end, self._status, self._hit
        get = self._ids.get("GET")
        count = reads = hit_count = 0
        for index in range(len(ends) - 1, -1, -1):
            if ends[index] < since:
                break
            count += 1
            if 200 <= statuses[index] < 300 and hits[index] >= 0 and self._texts[5 * index + 1] == get:
                reads += 1
                hit_count += hits[index]
        return count, reads, hit_count

    def __len__(self) -> int:
        return len(self._start)

    def __getitem__(self, index: int) -> Record:
        version, hit, texts = self._version[index], self._hit[index], self._texts[5 * index : 5 * index + 5]
        node, method, step, last_start, cached_time = (self._strings[i] for i in texts)
        return Record(
            self._start[index],
            self._end[index],
            node,
            self._key[index],
            method or "",
            self._status[index],
            None if version == NO_VERSION else version,
            None if hit < 0 else bool(hit),
            step or "",
            last_start,
            cached_time,
            bool(self._shed[index]),
        )

    def since(self, first: int) -> Iterator[Record]:
        """The records from ``first`` on, as far as there are now."""
        return (self[i] for i in range(first, len(self)))

    def __iter__(self) -> Iterator[Record]:
        return self.since(0)

    def __reversed__(self) -> Iterator[Record]:
        return (self[i] for i in range(len(self) - 1, -1, -1))
