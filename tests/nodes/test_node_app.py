"""A node over real HTTP, with a real source store and a real Redis: cache-aside, invalidation, fallback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio

from farm.cache import DistributedCache, MemoryCache, RedisCache
from farm.ports import free_port
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess
from nodes.app import LAST_START_KEY
from nodes.app import create_app as create_node
from nodes.settings import NodeSettings
from tests.http import serve


class LocalFarm:
    """A source store and nodes in this process, each on its own port."""

    def __init__(self, stack: AsyncExitStack, source_url: str) -> None:
        self.stack, self.source_url = stack, source_url
        self.http = aiohttp.ClientSession()

    async def node(self, name: str, cache: DistributedCache | None, cache_timeout: float = 0.2) -> str:
        settings = NodeSettings(name=name, source_url=self.source_url, cache_url=None, cache_timeout=cache_timeout)
        return await self.stack.enter_async_context(serve(create_node(settings, cache=cache)))

    async def source_reads(self) -> int:
        async with self.http.get(f"{self.source_url}/stats") as reply:
            return int((await reply.json())["reads"])


@pytest.fixture
async def local_farm(tmp_path: Path) -> AsyncIterator[LocalFarm]:
    async with AsyncExitStack() as stack:
        source = create_source(SourceSettings(tmp_path / "catalog.db", items=100, latency_ms=5))
        built = LocalFarm(stack, await stack.enter_async_context(serve(source)))
        yield built
        await built.http.close()


@pytest.fixture
async def redis_cache(redis_server: ServerProcess) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_server.url, instance_name=f"node-test-{time.monotonic_ns()}:")
    yield cache
    await cache.aclose()


async def test_reads_are_cache_aside(local_farm: LocalFarm, redis_cache: RedisCache) -> None:
    node = await local_farm.node("node-1", redis_cache)
    async with local_farm.http.get(f"{node}/items/5") as first:
        assert first.headers["X-Cache"] == "MISS"
        assert (await first.json())["id"] == 5
    async with local_farm.http.get(f"{node}/items/5") as second:
        assert second.headers["X-Cache"] == "HIT"
        assert second.headers["X-Node"] == "node-1"
    assert await local_farm.source_reads() == 1
    async with local_farm.http.get(f"{node}/items/999") as missing:
        assert missing.status == 404


async def test_a_write_through_one_node_is_read_at_once_through_another(
    local_farm: LocalFarm, redis_cache: RedisCache
) -> None:
    a, b = await local_farm.node("node-1", redis_cache), await local_farm.node("node-2", redis_cache)
    async with local_farm.http.get(f"{b}/items/3"):
        pass  # warm
    async with local_farm.http.put(f"{a}/items/3", json={"price": 1.0}) as reply:
        assert (await reply.json())["version"] == 2
    async with local_farm.http.get(f"{b}/items/3") as reply:
        assert (await reply.json())["version"] == 2
        assert reply.headers["X-Cache"] == "HIT", "the writer put the new version in the shared cache"
    assert await local_farm.source_reads() == 1, "only the warm-up read reached the source store"


async def test_per_node_memory_caches_serve_stale_versions(local_farm: LocalFarm) -> None:
    a, b = await local_farm.node("node-1", MemoryCache()), await local_farm.node("node-2", MemoryCache())
    async with local_farm.http.get(f"{b}/items/3"):
        pass
    async with local_farm.http.put(f"{a}/items/3", json={"price": 1.0}):
        pass
    async with local_farm.http.get(f"{b}/items/3") as reply:
        assert (await reply.json())["version"] == 1, "node-2's own memory still holds the old version"


async def test_a_cache_that_is_down_never_fails_a_request(local_farm: LocalFarm) -> None:
    down = RedisCache(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.1)
    node = await local_farm.node("node-1", down)
    for _ in range(3):
        async with local_farm.http.get(f"{node}/items/4") as reply:
            assert reply.status == 200
            assert reply.headers["X-Cache"] == "MISS"
    async with local_farm.http.get(f"{node}/stats") as reply:
        stats = await reply.json()
    assert stats["misses"] == 3
    assert stats["cache_errors"] >= 3  # a get per read; after a failed get the node adds nothing
    await down.aclose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung cache server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_cache_that_hangs_costs_no_more_than_the_timeout(local_farm: LocalFarm, silent_server: int) -> None:
    hung = RedisCache(f"redis://127.0.0.1:{silent_server}/0")
    node = await local_farm.node("node-1", hung, cache_timeout=0.1)
    started = time.monotonic()
    async with local_farm.http.get(f"{node}/items/8") as reply:
        assert reply.status == 200
    # get (0.1 s) + set (0.1 s) + the middleware's get (0.1 s) + the source's 5 ms: well under a second.
    assert time.monotonic() - started < 1.0
    await hung.aclose()


async def test_every_response_carries_the_farm_headers(local_farm: LocalFarm, redis_cache: RedisCache) -> None:
    first = await local_farm.node("node-1", redis_cache)
    await asyncio.sleep(0.01)
    second = await local_farm.node("node-2", redis_cache)
    started = {}
    for node in (first, second):
        async with local_farm.http.get(f"{node}/stats") as reply:
            stats = await reply.json()
            started[stats["node"]] = stats["started_at"]
    assert started["node-1"] < started["node-2"]
    for node, name in ((first, "node-1"), (second, "node-2")):
        # The start time comes from the cache, where the most recent node to start wrote its own; each node
        # reads it in the background, once a second.
        deadline = time.monotonic() + 5
        while True:
            async with local_farm.http.get(f"{node}/items/1") as reply:
                assert reply.headers["X-Node"] == name
                if reply.headers["Last-Server-Start-Time"] == started["node-2"]:
                    break
            assert time.monotonic() < deadline, f"{name} never read node-2's start time"
            await asyncio.sleep(0.05)
    assert await redis_cache.aget("LastServerStartTime") == started["node-2"].encode()
    async with local_farm.http.get(f"{first}/items/x") as reply:
        assert (reply.status, reply.headers["X-Node"]) == (400, "node-1"), "errors say which node answered, too"


async def test_home_page_and_reset_cached_time(local_farm: LocalFarm, redis_cache: RedisCache) -> None:
    node = await local_farm.node("node-1", redis_cache)
    async with local_farm.http.get(f"{node}/") as reply:
        page = await reply.text()
    assert 'id="node">node-1<' in page
    assert "Reset Cached Time" in page
    await redis_cache.aremove("CachedTime")
    async with local_farm.http.get(f"{node}/") as reply:
        assert "Cached Time Expired" in await reply.text()
    async with local_farm.http.post(f"{node}/reset-cached-time") as reply:
        assert reply.status == 200  # followed the 303 back to the page
        assert "Cached Time Expired" not in await reply.text()


async def test_stats_and_prometheus_metrics(local_farm: LocalFarm, redis_cache: RedisCache) -> None:
    node = await local_farm.node("node-7", redis_cache)
    for _ in range(2):
        async with local_farm.http.get(f"{node}/items/2"):
            pass
    async with local_farm.http.get(f"{node}/stats") as reply:
        stats = await reply.json()
    assert (stats["hits"], stats["misses"], stats["source_calls"], stats["cache_errors"]) == (1, 1, 1, 0)
    assert stats["requests"] == 2, "the two reads: a request is counted once answered"
    async with local_farm.http.get(f"{node}/metrics") as reply:
        text = await reply.text()
    assert 'farm_node_hits_total{node="node-7"} 1.0' in text
    assert 'farm_node_misses_total{node="node-7"} 1.0' in text
    assert 'farm_node_requests_total{node="node-7"} 3.0' in text, "the reads and /stats"
    assert 'farm_node_requests_created{node="node-7"} ' in text


async def test_concurrent_misses_of_one_item_on_a_node_share_one_source_read(
    local_farm: LocalFarm, redis_cache: RedisCache
) -> None:
    node = await local_farm.node("node-1", redis_cache)

    async def read() -> tuple[int, int]:
        async with local_farm.http.get(f"{node}/items/8") as reply:
            return reply.status, (await reply.json())["version"]

    assert await asyncio.gather(*(read() for _ in range(12))) == [(200, 1)] * 12
    assert await local_farm.source_reads() == 1


async def test_concurrent_misses_all_fail_when_the_source_store_is_down(local_farm: LocalFarm) -> None:
    settings = NodeSettings(name="node-1", source_url=f"http://127.0.0.1:{free_port()}", cache_url=None)
    node = await local_farm.stack.enter_async_context(serve(create_node(settings, cache=MemoryCache())))

    async def read() -> int:
        async with local_farm.http.get(f"{node}/items/8") as reply:
            assert "source store unavailable" in await reply.text()
            return reply.status

    assert await asyncio.gather(*(read() for _ in range(6))) == [502] * 6


async def test_without_a_cache_concurrent_reads_each_go_to_the_source_store(local_farm: LocalFarm) -> None:
    """Sharing a read in flight is safe only when writes leave their version in a cache: here none does."""
    node = await local_farm.node("node-1", None)

    async def read() -> int:
        async with local_farm.http.get(f"{node}/items/8") as reply:
            return reply.status

    assert await asyncio.gather(*(read() for _ in range(12))) == [200] * 12
    assert await local_farm.source_reads() == 12


async def test_a_hit_costs_one_cache_round_trip(
    local_farm: LocalFarm, redis_cache: RedisCache, redis_server: ServerProcess
) -> None:
    """What Redis's MONITOR shows of ten hits: ten commands from clients (each a script, whose own commands
    MONITOR marks as run by Lua), and nothing else."""
    node = await local_farm.node("node-1", redis_cache)
    async with local_farm.http.get(f"{node}/items/6") as reply:
        assert reply.headers["X-Cache"] == "MISS"
    watcher, marker = redis.asyncio.Redis.from_url(redis_server.url), redis.asyncio.Redis.from_url(redis_server.url)
    await marker.ping()  # its connection is open before MONITOR starts
    async with watcher.monitor() as monitor:
        for _ in range(10):
            async with local_farm.http.get(f"{node}/items/6") as reply:
                assert reply.headers["X-Cache"] == "HIT"
        await marker.echo("end of the hits")
        sent = []
        while (command := await monitor.next_command())["command"] != "ECHO end of the hits":
            # The node's own background read of the farm's start time (twice a second) is not the hits' cost.
            if command["client_type"] != "lua" and LAST_START_KEY not in command["command"]:
                sent.append(command["command"].split(" ")[0])
    await watcher.aclose()
    await marker.aclose()
    assert sent == ["EVALSHA"] * 10


async def test_one_item_has_one_cache_entry_however_its_id_is_spelled(
    local_farm: LocalFarm, redis_cache: RedisCache
) -> None:
    node = await local_farm.node("node-1", redis_cache)
    http = local_farm.http
    async with http.get(f"{node}/items/7") as reply:
        assert (await reply.json())["version"] == 1
    async with http.put(f"{node}/items/007", json={"name": "seven"}) as reply:
        assert reply.status == 200
    async with http.get(f"{node}/items/7") as reply:
        assert (await reply.json())["version"] == 2, "not the entry cached before the write"


@pytest.mark.parametrize(
    ("item", "status"),
    [("500", 404), ("99999999999999999999999", 404), ("%D9%A1", 400), ("-1", 400), ("%C2%B2", 400)],
)
async def test_an_item_that_is_not_there_is_answered_as_text(
    local_farm: LocalFarm, redis_cache: RedisCache, item: str, status: int
) -> None:
    node = await local_farm.node("node-1", redis_cache)
    for method in ("GET", "PUT"):
        async with local_farm.http.request(method, f"{node}/items/{item}", json={"name": "x"}) as reply:
            assert reply.status == status, await reply.text()
            assert reply.content_type == "text/plain", "what the source store answered, as it answered it"
