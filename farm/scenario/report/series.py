"""Per-second series of one cache's run, the source store's included: the plots and report.json use them."""

from __future__ import annotations

import itertools

from farm.scenario.checks import per_second
from farm.scenario.result import CacheResult


def source_per_second(result: CacheResult, seconds: int) -> list[int]:
    """Source store reads in each second, from counters sampled every half second (a sample's reads count
    in the second it was taken)."""
    counts = [0] * seconds
    samples = result.source_samples
    for before, after in itertools.pairwise(samples):
        second = min(seconds - 1, max(0, int(after.at)))
        counts[second] += after.reads - before.reads
    return counts


def series(result: CacheResult) -> list[dict[str, float]]:
    rows = per_second(result.records)
    seconds = max(len(rows), int(result.seconds) + 1)
    nan = float("nan")
    empty = {"requests": 0, "errors": 0, "hits": 0, "reads": 0, "hit_ratio": nan, "p50_ms": nan, "p99_ms": nan}
    rows += [{"second": s, **empty} for s in range(len(rows), seconds)]
    for row, source in zip(rows, source_per_second(result, seconds), strict=True):
        row["source_requests"] = source
    return rows
