"""Coherence under cache faults, on real nodes over HTTP with a real source store and a private redis-server.

The contract: a write answered 2xx is never followed, on any node, by a read that starts after the answer and
returns an older version. These tests pause the cache (SIGSTOP) at the worst moments of a write.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web

from farm.cache import DistributedCache, RedisCache, SqlCache
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess, start_redis
from nodes.app import create_app as create_node
from nodes.settings import NodeSettings
from tests.http import serve
from tests.pausing import paused

ITEM = "/items/5"


@pytest.fixture(scope="module")
def pausable_redis() -> Iterator[ServerProcess]:
    """A redis-server of this module's own: pausing the session's shared one would stall other tests."""
    with start_redis() as server:
        yield server


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str


class Farm:
    """A source store and nodes in this process, sharing one cache server."""

    def __init__(
        self,
        stack: AsyncExitStack,
        source_url: str,
        open_cache: Callable[[], DistributedCache],
        http: aiohttp.ClientSession,
        instance: str = "",
    ) -> None:
        self.stack, self.source_url, self.open_cache, self.http = stack, source_url, open_cache, http
        self.instance = instance
        """The prefix of its keys in a shared Redis."""

    async def node(self, name: str, **settings: Any) -> str:
        cache = self.open_cache()
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
    """Farms on this module's Redis."""
    instance = f"coherence-{time.monotonic_ns()}:"
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())

        async def make(latency_ms: float = 0.0, middleware: Any = None) -> Farm:
            source_url = await stack.enter_async_context(serve(source_app(tmp_path, latency_ms, middleware)))
            return Farm(
                stack, source_url, lambda: RedisCache(pausable_redis.url, instance_name=instance), http, instance
            )

        yield make


@pytest.fixture(params=["redis", "postgresql"])
def cache_server(
    request: pytest.FixtureRequest, pausable_redis: ServerProcess
) -> Iterator[tuple[ServerProcess, Callable[[], DistributedCache]]]:
    """A cache server of either kind that a test may pause, and how a node opens its cache there. A plain
    fixture: starting a server and creating a table block, so they happen before the test's event loop runs."""
    if request.param == "redis":
        instance = f"coherence-{time.monotonic_ns()}:"
        yield pausable_redis, lambda: RedisCache(pausable_redis.url, instance_name=instance)
        return
    server: ServerProcess = request.getfixturevalue("postgresql_server")
    table = f"coherence_{uuid.uuid4().hex[:12]}"
    with SqlCache(server.url, table=table) as sql:
        sql.create_table()
        # As a node opens its SQL cache (nodes.app.open_cache), with the tests' short cache timeout.
        yield server, lambda: SqlCache(server.url, table=table, statement_timeout=1.0, pool_wait=0.1)
        sql.drop_table()


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
    tmp_path: Path, cache_server: tuple[ServerProcess, Callable[[], DistributedCache]]
) -> None:
    server, open_cache = cache_server
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        source_url = await stack.enter_async_context(serve(source_app(tmp_path, 0.0)))
        await refused_while_paused(Farm(stack, source_url, open_cache, http), server)


async def refused_while_paused(farm: Farm, server: ServerProcess) -> None:
    a, b = await farm.node("node-1", cache_timeout=0.1), await farm.node("node-2", cache_timeout=0.1)
    assert await farm.version(a) == (1, "MISS")
    assert await farm.version(b) == (1, "HIT")
    with paused(server):
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


async def test_a_lock_attempt_that_reaches_a_paused_cache_late_takes_nothing(
    make_farm: Callable[..., Awaitable[Farm]], pausable_redis: ServerProcess
) -> None:
    """The attempt is buffered by the paused server and executed on SIGCONT, after the node gave up on it: it
    must not take the lock, or the item's next writer would wait for a whole lease."""
    farm = await make_farm()
    node = await farm.node("node-1", cache_timeout=0.1)
    assert (await farm.version(node))[0] == 1
    with paused(pausable_redis):
        refused = await farm.put(node)
    assert refused.status == 503
    put = await farm.put(node)
    assert (put.status, json.loads(put.text)["version"]) == (200, 2)
    async with farm.http.get(node + "/stats") as reply:
        stats = await reply.json()
    assert (stats["busy_writes"], stats["refused_writes"]) == (0, 1)

    async def nothing_owed() -> bool:
        async with farm.http.get(node + "/stats") as reply:
            return bool((await reply.json())["debts"] == 0)

    await until(nothing_owed)  # a release that timed out is owed, and paid as soon as the cache answers
    with closing(redis.Redis.from_url(pausable_redis.url)) as raw:
        assert not raw.keys(f"{farm.instance}*lock*item:5"), "no lock left behind"


async def test_writers_of_one_item_on_several_nodes_take_turns_at_the_source(
    make_farm: Callable[..., Awaitable[Farm]],
) -> None:
    """The lease outlives the source timeout: however slow the source is, a writer keeps its lock until its
    source write is done or refused, so the source never sees two writes of one item at once."""
    farm = await make_farm(latency_ms=400)
    nodes = [await farm.node(f"node-{n}", source_timeout=1.0, cache_timeout=0.1) for n in range(1, 4)]
    answers = await asyncio.gather(*(farm.put(node) for node in nodes))
    assert sorted(json.loads(answer.text)["version"] for answer in answers) == [2, 3, 4]
    stats = await farm.source_stats()
    assert (stats["writes"], stats["overlapping_writes"]) == (3, 0)
    await assert_no_stale_read(farm, nodes, answers[0])


def test_the_lock_lease_outlives_the_work_it_guards() -> None:
    settings = NodeSettings(name="n", source_url="http://s", cache_url=None, source_timeout=10.0, cache_timeout=0.2)
    assert settings.lock_lease.total_seconds() > settings.source_timeout + 2 * settings.cache_timeout
    assert settings.lock_wait < 5.0, "a waiting writer answers before the proxy's 5 s timeout"


async def test_the_available_policy_writes_while_the_cache_is_paused_and_repairs_it_after(
    make_farm: Callable[..., Awaitable[Farm]], pausable_redis: ServerProcess
) -> None:
    farm = await make_farm()
    options = {"cache_timeout": 0.1, "source_timeout": 0.5, "write_policy": "available"}
    a, b = await farm.node("node-1", **options), await farm.node("node-2", **options)
    assert await farm.version(a) == (1, "MISS")
    assert await farm.version(b) == (1, "HIT")
    with paused(pausable_redis):
        put = await farm.put(a)
        assert put.status == 200
        assert (await farm.version(a))[0] == 2, "the writer reads from the source while it owes an invalidation"

    async def invalidated() -> bool:
        async with farm.http.get(a + "/stats") as reply:
            stats = await reply.json()
        # Owed: the release of the lock attempt that timed out, and the invalidation twice (now, and once every
        # reader that missed before the write is past its add); the first two are paid once the cache answers.
        return bool(stats["debts_paid"] >= 2 and stats["unguarded_writes"] == 1)

    await until(invalidated)
    await assert_no_stale_read(farm, [a, b], put)


@pytest.fixture
def sql_cache(postgresql_server: ServerProcess) -> Iterator[tuple[SqlCache, Callable[[], DistributedCache]]]:
    """A cache table of the test's own on the session's PostgreSQL (not paused here), and how a node opens it."""
    table = f"coherence_{uuid.uuid4().hex[:12]}"
    with SqlCache(postgresql_server.url, table=table) as sql:
        sql.create_table()
        yield sql, lambda: SqlCache(postgresql_server.url, table=table, statement_timeout=1.0, pool_wait=0.2)
        sql.drop_table()


def forget(sql: SqlCache) -> None:
    """What a farm without persistence does when its PostgreSQL starts again (farm.cache_server.PostgresServer)."""
    sql.drop_table(if_exists=True)
    sql.create_table(if_not_exists=False)


async def test_writes_go_on_after_the_sql_cache_starts_empty(
    tmp_path: Path, sql_cache: tuple[SqlCache, Callable[[], DistributedCache]]
) -> None:
    """The table of locks and fences goes with the cache table: a node that had made it makes it again."""
    sql, open_cache = sql_cache
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        source_url = await stack.enter_async_context(serve(source_app(tmp_path, 0.0)))
        farm = Farm(stack, source_url, open_cache, http)
        a, b = await farm.node("node-1"), await farm.node("node-2")
        assert await farm.version(a) == (1, "MISS")
        await asyncio.to_thread(forget, sql)
        assert (await farm.put(a)).status == 200
        assert await farm.version(b) == (2, "HIT")


async def test_a_read_that_missed_before_the_sql_cache_started_empty_adds_nothing(
    tmp_path: Path, sql_cache: tuple[SqlCache, Callable[[], DistributedCache]]
) -> None:
    """The reader misses while the item was never locked, and its source read answers the old version after an
    acknowledged write and a restart that forgot the write's fence: its add must not land."""
    sql, open_cache = sql_cache
    read_done, let_go = asyncio.Event(), asyncio.Event()

    @web.middleware
    async def hold_first_read(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.method == "GET" and request.path == ITEM and not read_done.is_set():
            read_done.set()  # read, and the reply held back until the test lets it go
            await let_go.wait()
        return response

    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        source_url = await stack.enter_async_context(serve(source_app(tmp_path, 0.0, hold_first_read)))
        farm = Farm(stack, source_url, open_cache, http)
        a, b = await farm.node("node-1"), await farm.node("node-2")
        reading = asyncio.create_task(farm.version(b))
        await read_done.wait()
        put = await farm.put(a)
        assert put.status == 200
        await asyncio.to_thread(forget, sql)
        let_go.set()
        assert (await reading)[0] == 1, "it read before the write"
        await assert_no_stale_read(farm, [a, b], put)
