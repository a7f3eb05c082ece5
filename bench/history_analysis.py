"""How long the checks take on a long run's history, and how much memory they need.

    .venv/bin/python bench/history_analysis.py [--seconds 600] [--rate 3000] [--keys 1000] [--slice 200000]

Writes a history.jsonl of a ``--seconds`` run at ``--rate`` requests/s (10 minutes at 3,000/s: 1.8 M requests):
3 nodes, reads and writes (5 %) over ``--keys`` keys, 90 % hits, a few refused writes and failed reads, and one
stale read planted every 20,000 reads (a read that returns the version before the newest acknowledged one).
Every other read returns the newest version acknowledged before it started, so the analysis must find exactly
the planted ones; it fails loudly otherwise (a figure that measured nothing never passes).

Then, each in a fresh process so that its peak RSS is its own:
- ``file``: the figures straight from history.jsonl (what a reader of a run's history does);
- ``run``: as the runner does: every record kept in compact columns, then the whole run's figures from them.
Goals: under 30 s and under 500 MB each. For reference, the stale-read check as it was before (every read
against every write of its key) and as it is now, on the first ``--slice`` requests.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from farm.scenario.checks import coherence_violations
from farm.scenario.columns import RecordColumns
from farm.scenario.figures import SourceCount, measure
from farm.scenario.history import Record, read_history

GOAL_S, GOAL_MB = 30.0, 500.0
NODES = ("node-1", "node-2", "node-3")
STARTED = "2026-01-01T00:00:00.000000Z"
PLANT_EVERY = 20_000


def generate(path: Path, seconds: float, rate: float, keys: int, seed: int = 1) -> int:
    """Writes the history; returns how many stale reads it planted. Records are written in the order their
    requests ended, as the runner appends them."""
    rng = random.Random(seed)
    acknowledged: dict[int, list[tuple[float, int]]] = {}  # key: (ack time, version), newest last
    next_version = dict.fromkeys(range(1, keys + 1), 1)
    pending: list[tuple[float, str]] = []  # (end, line), flushed in end order once no earlier end can come
    planted = reads = 0
    count = int(seconds * rate)
    with path.open("w") as out:
        for i in range(count):
            start = i / rate
            latency = rng.expovariate(1 / 0.004)
            end = start + latency
            key = rng.randint(1, keys)
            node = NODES[i % len(NODES)]
            if rng.random() < 0.05:
                status = 503 if rng.random() < 0.01 else 200
                version = None
                if status == 200:
                    version = next_version[key] = next_version[key] + 1
                    acknowledged.setdefault(key, []).append((end, version))
                line = _line(start, end, node, key, "PUT", status, version, None)
            else:
                reads += 1
                status = 0 if rng.random() < 0.001 else 200
                known = [v for at, v in acknowledged.get(key, []) if at <= start][-2:]
                version = known[-1] if known else 1
                if status == 200 and reads % PLANT_EVERY == 0 and len(known) == 2:
                    version, planted = known[0], planted + 1
                hit = rng.random() < 0.9 if status == 200 else None
                line = _line(start, end, node, key, "GET", status, version if status == 200 else None, hit)
            pending.append((end, line))
            if len(pending) >= 4096:
                pending.sort()
                ready = [p for p in pending if p[0] < start]
                pending = [p for p in pending if p[0] >= start]
                out.writelines(text for _, text in ready)
            if len(acknowledged.get(key, ())) > 8:
                del acknowledged[key][:-4]  # older writes no longer decide what a read returns
        pending.sort()
        out.writelines(text for _, text in pending)
    return planted


def _line(
    start: float, end: float, node: str, key: int, method: str, status: int, version: int | None, hit: bool | None
) -> str:
    record = {
        "cache": "redis",
        "start": start,
        "end": end,
        "node": node,
        "key": key,
        "method": method,
        "status": status,
        "version": version,
        "hit": hit,
        "step": "1. load 600 s 3000/s",
        "last_start": STARTED,
        "cached_time": None,
        "latency_ms": round((end - start) * 1000, 3),
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def analyse(path: Path, mode: str) -> dict[str, float | None]:
    """The whole run's figures, with the seconds and peak RSS it took (run in a process of its own)."""
    began = time.perf_counter()
    if mode == "file":
        figures = measure(read_history(path), source=SourceCount())
    else:
        columns = RecordColumns(read_history(path))
        figures = measure(iter(columns), source=SourceCount())
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    values = figures.values
    return {
        "seconds": seconds,
        "peak_mb": peak_mb,
        **{k: values[k] for k in ("requests", "stale_reads", "max_staleness_ms", "refused_writes", "failed_reads")},
    }


def old_coherence_violations(records: Sequence[Record]) -> int:
    """The check as it was: each read against every write of its key (O(reads x writes of the key))."""
    writes: dict[int, list[tuple[float, int]]] = {}
    for r in records:
        if not r.is_read and r.ok and r.version is not None:
            writes.setdefault(r.key, []).append((r.end, r.version))
    found = 0
    for r in sorted(records, key=lambda r: r.start):
        if not r.is_read or not r.ok or r.version is None or r.key not in writes:
            continue
        expected = max((v for end, v in writes[r.key] if end <= r.start), default=None)
        found += expected is not None and r.version < expected
    return found


def reference(path: Path, size: int) -> tuple[float, float, int, int]:
    records = []
    for record in read_history(path):
        records.append(record)
        if len(records) >= size:
            break
    began = time.perf_counter()
    old = old_coherence_violations(records)
    old_s = time.perf_counter() - began
    began = time.perf_counter()
    new = len(coherence_violations(records))
    return old_s, time.perf_counter() - began, old, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=3000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--slice", type=int, default=200_000, help="requests for the old check's reference time")
    parser.add_argument("--analyse", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analyse:
        print(json.dumps(analyse(Path(args.analyse[1]), args.analyse[0])))
        return
    with tempfile.TemporaryDirectory(prefix="history-bench-") as folder:
        path = Path(folder) / "history.jsonl"
        began = time.perf_counter()
        planted = generate(path, args.seconds, args.rate, args.keys)
        size_mb = path.stat().st_size / 1e6
        print(
            f"history: {args.seconds * args.rate:,.0f} requests, {size_mb:,.0f} MB, {planted} stale reads planted "
            f"(written in {time.perf_counter() - began:.0f} s)"
        )
        failed = planted == 0
        for mode in ("file", "run"):
            out = subprocess.run(
                [sys.executable, __file__, "--analyse", mode, str(path)], capture_output=True, text=True, check=True
            )
            found = json.loads(out.stdout)
            ok_time, ok_memory = found["seconds"] < GOAL_S, found["peak_mb"] < GOAL_MB
            print(
                f"{mode:>4}: {found['seconds']:.1f} s (goal < {GOAL_S:.0f} s: {'met' if ok_time else 'MISSED'}), "
                f"peak RSS {found['peak_mb']:.0f} MB (goal < {GOAL_MB:.0f} MB: {'met' if ok_memory else 'MISSED'}); "
                f"stale reads {found['stale_reads']}, max staleness {found['max_staleness_ms']:.0f} ms, "
                f"refused writes {found['refused_writes']}, failed reads {found['failed_reads']}"
            )
            if found["stale_reads"] != planted:
                print(
                    f"FAILED: the analysis found {found['stale_reads']} stale reads; {planted} were planted",
                    file=sys.stderr,
                )
                failed = True
            failed = failed or not (ok_time and ok_memory)
        old_s, new_s, old, new = reference(path, args.slice)
        print(
            f"reference, first {args.slice:,} requests: the old check {old_s:.2f} s, the new one {new_s:.3f} s "
            f"({old_s / new_s:.1f}x); both found {old} and {new} stale reads. The old check on the whole history: "
            f"about {(args.seconds * args.rate / args.slice) ** 2 * old_s:.0f} s (reads and writes per key both grow "
            "with the run), with every record held as an object"
        )
        if old != new:
            print("FAILED: the old and the new check disagree", file=sys.stderr)
            failed = True
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
