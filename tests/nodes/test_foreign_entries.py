"""A Redis key at an item's name that something else wrote (a list, a plain string, a hash that is no entry): the
node counts one cache error, answers from the source store, and its read-through add or its next write replaces
the key, so the farm heals instead of reading the source for that item forever."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import redis

from farm.cache import RedisCache
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess
from tests.http import serve
from tests.nodes.test_node_app import LocalFarm

WRITTEN_BY_SOMETHING_ELSE: dict[str, Callable[[redis.Redis, str], object]] = {
    "list": lambda raw, key: raw.rpush(key, "queued", "jobs"),
    "string": lambda raw, key: raw.set(key, '{"id": 1, "version": 0}'),
    "hash": lambda raw, key: raw.hset(key, mapping={"owner": "another app"}),
}


@pytest.fixture
async def farm_on_redis(tmp_path: Path, redis_server: ServerProcess) -> AsyncIterator[tuple[LocalFarm, str, str]]:
    """A source store and one node on the private redis-server; yields the farm, the node's URL and the
    cache's key prefix."""
    prefix = f"foreign-{time.monotonic_ns()}:"
    cache = RedisCache(redis_server.url, instance_name=prefix)
    async with AsyncExitStack() as stack:
        source = create_source(SourceSettings(tmp_path / "catalog.db", items=100, latency_ms=1))
        farm = LocalFarm(stack, await stack.enter_async_context(serve(source)))
        node = await farm.node("node-1", cache)
        yield farm, node, prefix
        await farm.http.close()
    await cache.aclose()


async def _get(farm: LocalFarm, url: str) -> tuple[int, str, dict[str, Any]]:
    async with farm.http.get(url) as reply:
        return reply.status, reply.headers["X-Cache"], await reply.json()


async def _stats(farm: LocalFarm, node: str) -> dict[str, Any]:
    async with farm.http.get(f"{node}/stats") as reply:
        stats: dict[str, Any] = await reply.json()
        return stats


@pytest.mark.parametrize("held", list(WRITTEN_BY_SOMETHING_ELSE))
async def test_a_read_counts_one_cache_error_and_its_add_replaces_the_key(
    farm_on_redis: tuple[LocalFarm, str, str], redis_server: ServerProcess, held: str
) -> None:
    farm, node, prefix = farm_on_redis
    with redis.Redis(host=redis_server.host, port=redis_server.port) as raw:
        WRITTEN_BY_SOMETHING_ELSE[held](raw, f"{prefix}item:7")
        status, cache, item = await _get(farm, f"{node}/items/7")
        assert (status, cache, item["id"]) == (200, "MISS", 7)
        assert [await _get(farm, f"{node}/items/7") for _ in range(3)] == [(200, "HIT", item)] * 3
        assert raw.type(f"{prefix}item:7") == b"hash"
    stats = await _stats(farm, node)
    assert (stats["cache_errors"], stats["misses"], stats["hits"]) == (1, 1, 3)
    assert await farm.source_reads() == 1


async def test_a_write_replaces_the_key(farm_on_redis: tuple[LocalFarm, str, str], redis_server: ServerProcess) -> None:
    farm, node, prefix = farm_on_redis
    with redis.Redis(host=redis_server.host, port=redis_server.port) as raw:
        raw.rpush(f"{prefix}item:8", "queued")
        async with farm.http.put(f"{node}/items/8", json={"price": 3.5}) as reply:
            assert reply.status == 200
            assert (await reply.json())["version"] == 2
        assert raw.type(f"{prefix}item:8") == b"hash"
    status, cache, item = await _get(farm, f"{node}/items/8")
    assert (status, cache, item["version"], item["price"]) == (200, "HIT", 2, 3.5)
    stats = await _stats(farm, node)
    assert (stats["cache_errors"], stats["uncertain_writes"], stats["refused_writes"]) == (0, 0, 0)
    assert await farm.source_reads() == 0
