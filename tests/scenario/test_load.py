"""The load generator against real nodes and a real proxy (in this process, over real HTTP)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

import pytest

from farm.cache import DistributedCache, MemoryCache, RedisCache
from farm.cache.options import Expiry
from farm.scenario.checks import coherence_violations, hit_ratio
from farm.scenario.history import Record
from farm.scenario.keys import KeyChooser
from farm.scenario.load import LoadRun, LoadSpec
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess
from nodes.admission import AdmissionLimits
from nodes.app import create_app as create_node
from nodes.settings import NodeSettings
from proxy.app import ProxySettings, running
from tests.http import serve


def test_keys_repeat_with_a_seed_and_zipf_favours_the_first() -> None:
    assert [KeyChooser(50, seed=3).next() for _ in range(5)] == [KeyChooser(50, seed=3).next() for _ in range(5)]
    first = KeyChooser(1000, "zipf", 1.2, seed=1)
    counts = Counter(first.next() for _ in range(5000))
    assert counts[1] > counts[10] > counts[100]
    assert all(1 <= k <= 1000 for k in counts)
    with pytest.raises(ValueError, match="distribution='pareto'"):
        KeyChooser(10, "pareto")


async def farm_url(
    stack: AsyncExitStack, tmp_path: Path, caches: list[DistributedCache], jitter_ms: float = 0.0
) -> str:
    source_settings = SourceSettings(tmp_path / "c.db", items=100, latency_ms=2, jitter_ms=jitter_ms, seed=1)
    source = await stack.enter_async_context(serve(create_source(source_settings)))
    backends = {}
    for i, cache in enumerate(caches, 1):
        settings = NodeSettings(name=f"node-{i}", source_url=source, cache_url=None)
        backends[f"node-{i}"] = await stack.enter_async_context(serve(create_node(settings, cache=cache)))
    proxy = await stack.enter_async_context(running(ProxySettings(admin_token="t", backends=backends)))
    return proxy.url


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as opened:
        yield opened


async def test_a_counted_mixed_load_is_recorded_whole(
    stack: AsyncExitStack, tmp_path: Path, redis_server: ServerProcess
) -> None:
    cache = RedisCache(redis_server.url, instance_name=f"load-{time.monotonic_ns()}:")
    url = await farm_url(stack, tmp_path, [cache, cache])
    records: list[Record] = []
    spec = LoadSpec(requests=300, concurrency=8, keys=20, read_ratio=0.8, seed=5)
    await LoadRun(url, spec, "load-1", records, time.monotonic()).run()
    await cache.aclose()
    assert len(records) == 300
    assert {r.status for r in records} == {200}
    methods = Counter(r.method for r in records)
    assert 30 < methods["PUT"] < 90
    assert {r.node for r in records} == {"node-1", "node-2"}
    assert coherence_violations(records) == [], "a shared cache: no read saw an older version than a finished write"
    assert (hit_ratio(records) or 0) > 0.3


async def test_per_node_memory_caches_show_coherence_violations(stack: AsyncExitStack, tmp_path: Path) -> None:
    url = await farm_url(stack, tmp_path, [MemoryCache(), MemoryCache()])
    records: list[Record] = []
    spec = LoadSpec(requests=400, concurrency=4, keys=5, read_ratio=0.8, seed=1)
    await LoadRun(url, spec, "load-1", records, time.monotonic()).run()
    assert len(coherence_violations(records)) > 0


async def test_a_fixed_rate_holds_its_schedule(stack: AsyncExitStack, tmp_path: Path) -> None:
    url = await farm_url(stack, tmp_path, [MemoryCache()])
    records: list[Record] = []
    await LoadRun(url, LoadSpec(duration_s=1.0, rate=200, keys=10), "load-1", records, time.monotonic()).run()
    assert 150 <= len(records) <= 205  # 200 scheduled; a stalled loop may start the last few late


class SlowWritesRedisCache(RedisCache):
    """A real Redis cache whose writes take 0-5 ms longer, as over a busy network: it widens the window
    in which a reader's write can land after another node's."""

    async def _aset(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        await asyncio.sleep(random.uniform(0, 0.005))
        await super()._aset(key, value, expiry, now)

    async def _aadd(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool:
        await asyncio.sleep(random.uniform(0, 0.005))
        return await super()._aadd(key, value, expiry, now)


async def test_concurrent_reads_and_writes_of_few_items_stay_coherent_on_a_shared_cache(
    stack: AsyncExitStack, tmp_path: Path, redis_server: ServerProcess
) -> None:
    """The cache-aside race: a read that missed must not put the version it read after a write put a newer
    one, and two writers of one item must leave the newest version. Few keys, many writers, and writes to
    the cache that take a varying time: plain set-on-miss and remove-on-write show hundreds of violations."""
    prefix = f"race-{time.monotonic_ns()}:"
    caches = [SlowWritesRedisCache(redis_server.url, instance_name=prefix) for _ in range(3)]
    url = await farm_url(stack, tmp_path, list(caches), jitter_ms=4)
    records: list[Record] = []
    # A count, not a duration: how many writes the race gets must not depend on how fast the machine is.
    spec = LoadSpec(requests=1000, concurrency=24, keys=4, read_ratio=0.7, seed=2)
    await LoadRun(url, spec, "race", records, time.monotonic()).run()
    for cache in caches:
        await cache.aclose()
    writes = sum(r.method == "PUT" for r in records)
    assert writes > 200
    assert {r.status for r in records} == {200}
    assert coherence_violations(records) == []


async def test_requests_a_node_sheds_are_recorded_as_shed(stack: AsyncExitStack, tmp_path: Path) -> None:
    """One request at a time and no line: while the first waits 200 ms on the source store, the others are shed."""
    source_settings = SourceSettings(tmp_path / "c.db", items=10, latency_ms=200)
    source = await stack.enter_async_context(serve(create_source(source_settings)))
    limits = AdmissionLimits(max_in_flight=1, max_queue=0)
    settings = NodeSettings(name="node-1", source_url=source, cache_url=None, admission=limits)
    node = await stack.enter_async_context(serve(create_node(settings, cache=MemoryCache())))
    records: list[Record] = []
    await LoadRun(node, LoadSpec(requests=8, concurrency=8, keys=1), "burst", records, time.monotonic()).run()
    assert sorted((r.status, r.shed) for r in records) == [(200, False)] + [(503, True)] * 7
