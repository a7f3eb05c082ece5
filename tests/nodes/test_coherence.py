"""Coherence under cache faults, on real nodes over HTTP with a real source store and a private redis-server.

The contract: a write answered 2xx is never followed, on any node, by a read that starts after the answer and
returns an older version. These tests pause the cache (SIGSTOP) at the worst moments of a write.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from farm.cache import RedisCache
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess, start_redis
from nodes.app import create_app as create_node
from nodes.settings import NodeSettings
from tests.http import serve

ITEM = "/items/5"


@pytest.fixture(scope="module")
def pausable_redis() -> Iterator[ServerProcess]:
    """A redis-server of this module's own: pausing the session's shared one would stall other tests."""
    with start_redis() as server:
        yield server


@contextmanager
def paused(server: ServerProcess) -> Iterator[None]:
    server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str


class Farm:
    """A source store and nodes in this process, sharing one Redis."""

    def __init__(self, stack: AsyncExitStack, source_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
        self.stack, self.source_url, self.redis_url, self.http = stack, source_url, redis_url, http
        self.instance = f"coherence-{time.monotonic_ns()}:"

    async def node(self, name: str, **settings: Any) -> str:
        cache = RedisCache(self.redis_url, instance_name=self.instance, socket_timeout=5.0)
        self.stack.push_async_callback(cache.aclose)
        options = NodeSettings(name=name, source_url=self.source_url, cache_url=None, **settings)
        return await self.stack.enter_async_context(serve(create_node(options, cache=cache)))

    async def source_stats(self) -> dict[str, Any]:
        async with self.http.get(f"{self.source_url}/stats") as reply:
            stats: dict[str, Any] = await reply.json()
            return stats

    async def version(self, node: str) -> tuple[int, str]:
        async with self.http.get(node + ITEM) as reply:
            assert reply.status == 200, await reply.text()
            return int((await reply.json())["version"]), reply.headers["X-Cache"]

    async def put(self, node: str) -> Answer:
        async with self.http.put(node + ITEM, json={"price": 2.5}) as reply:
            return Answer(reply.status, dict(reply.headers), await reply.text())


async def until(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


def source_app(tmp_path: Path, latency_ms: float, middleware: Any = None) -> web.Application:
    app = create_source(SourceSettings(tmp_path / "catalog.db", items=20, latency_ms=latency_ms))
    if middleware is not None:
        app.middlewares.append(middleware)
    return app


@pytest.fixture
async def make_farm(tmp_path: Path, pausable_redis: ServerProcess) -> AsyncIterator[Callable[..., Awaitable[Farm]]]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(latency_ms: float = 0.0, middleware: Any = None) -> Farm:
            source_url = await stack.enter_async_context(serve(source_app(tmp_path, latency_ms, middleware)))
            return Farm(stack, source_url, pausable_redis.url, http)

        yield make


async def assert_no_stale_read(farm: Farm, nodes: list[str], put: Answer) -> None:
    """Every read that starts after the write's answer returns the written version or a newer one, if the
    write was acknowledged; and the version in the source store otherwise, once the node has recovered."""
    in_source = (await farm.source_stats())["writes"] + 1
    for node in nodes:
        for _ in range(3):
            version, cache = await farm.version(node)
            if put.status < 300:
                assert version >= 2, f"{node} read version {version} ({cache}) after an acknowledged write"
            assert version == in_source, f"{node} read version {version} ({cache}); the source holds {in_source}"


async def test_a_write_while_the_cache_is_paused_is_refused_before_the_source_is_touched(
    make_farm: Callable[..., Awaitable[Farm]], pausable_redis: ServerProcess
) -> None:
    farm = await make_farm()
    a, b = await farm.node("node-1", cache_timeout=0.1), await farm.node("node-2", cache_timeout=0.1)
    assert await farm.version(a) == (1, "MISS")
    assert await farm.version(b) == (1, "HIT")
    with paused(pausable_redis):
        put = await farm.put(a)
    assert put.status == 503, "strict: the cache cannot be kept coherent, so nothing is written"
    assert "Retry-After" in put.headers
    assert (await farm.source_stats())["writes"] == 0
    await assert_no_stale_read(farm, [a, b], put)
    async with farm.http.get(a + "/stats") as reply:
        assert (await reply.json())["refused_writes"] == 1


async def test_a_write_whose_cache_update_times_out_is_not_acknowledged_and_is_repaired(
    make_farm: Callable[..., Awaitable[Farm]], pausable_redis: ServerProcess
) -> None:
    """The source counts the write on arrival, then sleeps its latency: the cache is paused in that sleep, so
    the write reaches the source but its cache update cannot."""
    farm = await make_farm(latency_ms=300)
    a, b = await farm.node("node-1", cache_timeout=0.1), await farm.node("node-2", cache_timeout=0.1)
    assert (await farm.version(a))[0] == 1
    writing = asyncio.create_task(farm.put(a))

    async def source_counted_it() -> bool:
        return bool((await farm.source_stats())["writes"] == 1)

    await until(source_counted_it)
    with paused(pausable_redis):
        put = await writing
    assert put.status == 503, "the write reached the source but not the cache: it is not acknowledged"
    assert "may have been applied" in put.text
    await assert_no_stale_read(farm, [a, b], put)


async def test_a_write_whose_source_reply_is_lost_leaves_no_stale_entry(
    make_farm: Callable[..., Awaitable[Farm]],
) -> None:
    @web.middleware
    async def lose_write_replies(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.method == "PUT" and response.status == 200:
            assert request.transport is not None
            request.transport.close()  # applied, and the reply never leaves
        return response

    farm = await make_farm(middleware=lose_write_replies)
    a, b = await farm.node("node-1", cache_timeout=0.1), await farm.node("node-2", cache_timeout=0.1)
    assert (await farm.version(b))[0] == 1
    put = await farm.put(a)
    assert put.status >= 500
    assert (await farm.source_stats())["writes"] == 1
    await assert_no_stale_read(farm, [a, b], put)
