"""Cache operations per second on one connection, next to the raw driver on the same server, same run.

    .venv/bin/python bench/cache_ops.py [--seconds 1] [--rounds 7] [--size 1024]

Starts its own redis-server, PostgreSQL and MariaDB (and a SQLite file), then for each backend measures:
- ``get`` of an entry with a sliding window, against the raw read (redis-py GET; a primary-key SELECT);
- ``set`` with a sliding window, against the raw write (redis-py SET; a primary-key UPDATE of the value).
Within a round cache and raw take turns every 50 operations; the ratio printed is the median of the rounds'
ratios, so that a noisy machine's bursts fall on both sides or are dropped.
Targets: Redis get >= 0.9 of GET; SQL get >= 0.7 of SELECT.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyodbc
import redis

from farm.cache import EntryOptions, RedisCache, SqlCache
from farm.testing.servers import start_mariadb, start_postgres, start_redis

SLIDING = EntryOptions(sliding_expiration=timedelta(minutes=20))
TARGETS = {"redis": 0.9, "postgresql": 0.7, "mariadb": 0.7, "sqlite": 0.7}


SLICE = 50
"""Operations timed in one go, cache and raw taking turns: a few milliseconds at most, so that a burst of the
machine's other work falls on both sides of a ratio alike."""


def interleaved_rates(cache_op: Callable[[], object], raw_op: Callable[[], object], seconds: float) -> list[float]:
    """ops/s of the cache and of the raw driver, measured for ``seconds`` each in alternating slices."""
    operations, spent = (cache_op, raw_op), [0.0, 0.0]
    slices, first = 0, 0
    while spent[0] < seconds or spent[1] < seconds:
        for side in (first, 1 - first):
            operation = operations[side]
            started = time.perf_counter()
            for _ in range(SLICE):
                operation()
            spent[side] += time.perf_counter() - started
        slices, first = slices + 1, 1 - first
    return [slices * SLICE / spent[0], slices * SLICE / spent[1]]


@dataclass
class Pair:
    """One cache operation and its raw-driver reference."""

    label: str
    cache_op: Callable[[], object]
    raw_op: Callable[[], object]

    def measure(self, seconds: float, rounds: int) -> tuple[float, float, float]:
        """Best ops/s of each, and the median of the per-round ratios.

        Within a round the two take turns every few milliseconds, so that the machine's drifting load falls on
        both sides of a ratio; the median drops the rounds that a burst of noise hit anyway."""
        cache_rates, raw_rates, ratios = [], [], []
        for _ in range(rounds):
            cache_rate, raw_rate = interleaved_rates(self.cache_op, self.raw_op, seconds)
            cache_rates.append(cache_rate)
            raw_rates.append(raw_rate)
            ratios.append(cache_rate / raw_rate)
        return max(cache_rates), max(raw_rates), statistics.median(ratios)


def redis_pairs(url: str, value: bytes, stack: ExitStack) -> list[Pair]:
    cache = RedisCache(url, instance_name="bench:")
    stack.callback(cache.close)
    raw = redis.Redis.from_url(url)
    stack.callback(raw.close)
    cache.set("k", value, SLIDING)
    raw.set("raw-k", value)
    if cache.get("k") != value or raw.get("raw-k") != value:
        raise SystemExit("redis: the value read back differs from the value written")
    return [
        Pair("get (sliding)", lambda: cache.get("k"), lambda: raw.get("raw-k")),
        Pair("set (sliding)", lambda: cache.set("w", value, SLIDING), lambda: raw.set("raw-w", value)),
    ]


def sql_pairs(connection: str, value: bytes, stack: ExitStack) -> list[Pair]:
    cache = SqlCache(connection, table="BenchCache", max_connections=1)
    stack.callback(cache.close)
    cache.drop_table(if_exists=True)
    cache.create_table()
    stack.callback(cache.drop_table)
    cache.set("k", value, SLIDING)
    cache.set("w", value, SLIDING)
    dialect = cache.dialect
    ref = dialect.table_ref(cache.target.schema, cache.target.table)
    raw = pyodbc.connect(cache.target.connection_string, autocommit=True)
    stack.callback(raw.close)
    for statement in dialect.session_setup():
        raw.execute(statement)
    cursor = raw.cursor()
    select = f"SELECT {dialect.quote('Value')} FROM {ref} WHERE {dialect.quote('Id')} = ?"
    update = f"UPDATE {ref} SET {dialect.quote('Value')} = ? WHERE {dialect.quote('Id')} = ?"
    if cache.get("k") != value or bytes(cursor.execute(select, "k").fetchone()[0]) != value:
        raise SystemExit(f"{dialect.name}: the value read back differs from the value written")
    return [
        Pair("get (sliding)", lambda: cache.get("k"), lambda: cursor.execute(select, "k").fetchone()),
        Pair("set (sliding)", lambda: cache.set("w", value, SLIDING), lambda: cursor.execute(update, value, "w")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one measurement (default 1)")
    parser.add_argument("--rounds", type=int, default=7, help="paired measurements per operation (default 7)")
    parser.add_argument("--size", type=int, default=1024, help="value size in bytes (default 1024)")
    parser.add_argument("--backends", default=",".join(TARGETS), help=f"comma-separated subset of {','.join(TARGETS)}")
    args = parser.parse_args()
    value = bytes(range(256)) * (args.size // 256) + bytes(args.size % 256)
    print(
        f"value {len(value)} bytes, one connection, {args.rounds} rounds of {args.seconds:g} s of each, "
        f"cache and raw taking turns every {SLICE} operations"
    )
    print("ops/s: the best round; ratio: the median of the rounds' cache/raw ratios")
    print(f"{'backend':<11} {'operation':<14} {'cache ops/s':>12} {'raw ops/s':>11} {'ratio':>6}  target")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cachefarm-bench-") as tmp:
        backends: list[tuple[str, Callable[[], list[Pair]]]] = [
            ("redis", lambda: redis_pairs(stack.enter_context(start_redis()).url, value, stack)),
            ("postgresql", lambda: sql_pairs(stack.enter_context(start_postgres()).url, value, stack)),
            ("mariadb", lambda: sql_pairs(stack.enter_context(start_mariadb()).url, value, stack)),
            ("sqlite", lambda: sql_pairs(f"sqlite:///{Path(tmp) / 'bench.db'}", value, stack)),
        ]
        chosen = args.backends.split(",")
        unknown = set(chosen) - set(TARGETS)
        if unknown:
            parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
        for name, make_pairs in backends:
            if name not in chosen:
                continue
            for pair in make_pairs():
                cache_rate, raw_rate, ratio = pair.measure(args.seconds, args.rounds)
                target = ""
                if pair.label.startswith("get"):
                    verdict = "ok" if ratio >= TARGETS[name] else "MISSED"
                    target = f">= {TARGETS[name]:.1f} {verdict}"
                print(f"{name:<11} {pair.label:<14} {cache_rate:>12,.0f} {raw_rate:>11,.0f} {ratio:>6.2f}  {target}")


if __name__ == "__main__":
    main()
