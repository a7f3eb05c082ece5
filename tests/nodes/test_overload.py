"""A node under a burst, over real HTTP with a real source store and a private redis-server: what it cannot take
it sheds at once (503, Retry-After, counted), its cache connections are waited for instead of failing, and the
source store reads an item once however many requests miss it, with or without an answer from the cache."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from farm.cache import DistributedCache, MemoryCache, RedisCache
from farm.ports import free_port
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from farm.testing.servers import ServerProcess
from nodes.admission import AdmissionLimits
from nodes.app import create_app as create_node
from nodes.settings import LISTEN_BACKLOG, NodeSettings
from tests.http import serve

BURST = 300
NEVER = 600.0
"""A timeout no test reaches: requests wait in line until the test lets the ones ahead of them finish."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]


class Gate:
    """Holds the source store's item reads until the test opens it: requests pile up behind a read in flight."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.held = 0

    @web.middleware
    async def hold(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path.startswith("/items/"):
            self.held += 1
            await self.opened.wait()
        response: web.StreamResponse = await handler(request)
        return response


@dataclass
class Bench:
    source_url: str
    gate: Gate
    http: aiohttp.ClientSession

    @asynccontextmanager
    async def node(self, cache: DistributedCache, **settings: Any) -> AsyncIterator[str]:
        options = NodeSettings(name="node-1", source_url=self.source_url, cache_url=None, **settings)
        async with serve(create_node(options, cache=cache), backlog=LISTEN_BACKLOG) as url:
            yield url

    async def get(self, url: str) -> Answer:
        async with self.http.get(url) as reply:
            await reply.read()
            return Answer(reply.status, dict(reply.headers))

    async def json(self, url: str) -> dict[str, Any]:
        async with self.http.get(url) as reply:
            found: dict[str, Any] = await reply.json()
            return found

    async def source_reads(self) -> int:
        return int((await self.json(f"{self.source_url}/stats"))["reads"])


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    gate = Gate()
    source = create_source(SourceSettings(tmp_path / "catalog.db", items=20, latency_ms=0))
    source.middlewares.append(gate.hold)
    connector = aiohttp.TCPConnector(limit=0)  # every request of a burst on a connection of its own
    async with serve(source) as source_url, aiohttp.ClientSession(connector=connector) as http:
        yield Bench(source_url, gate, http)
        gate.opened.set()  # nothing left held when the servers stop


@pytest.fixture
async def redis_cache(redis_server: ServerProcess) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_server.url, instance_name=f"overload-{time.monotonic_ns()}:")
    yield cache
    await cache.aclose()


async def answered(tasks: list[asyncio.Task[Answer]], count: int) -> None:
    """Returns once ``count`` of the requests are answered (a deadline turns a hang into a failure)."""
    async with asyncio.timeout(30):
        while sum(task.done() for task in tasks) < count:
            await asyncio.wait([t for t in tasks if not t.done()], return_when=asyncio.FIRST_COMPLETED)


def assert_shed(answer: Answer) -> None:
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "1"
    assert "X-Shed" in answer.headers


async def test_a_burst_beyond_the_limits_is_shed_at_once_and_the_rest_share_one_source_read(
    bench: Bench, redis_cache: RedisCache
) -> None:
    limits = AdmissionLimits(max_in_flight=8, max_queue=16, queue_timeout=NEVER)
    # A cache timeout no stall of a busy test machine reaches: what is shed here is shed by the limits alone.
    async with bench.node(redis_cache, admission=limits, cache_timeout=NEVER) as node:
        burst = [asyncio.create_task(bench.get(f"{node}/items/5")) for _ in range(BURST)]
        # The first request reads the source store, where the gate holds it; the other seven in flight share that
        # read, sixteen wait in line, and every other one is answered at once, before the read is done.
        shed = BURST - 8 - 16
        await answered(burst, shed)
        at_once = [task.result() for task in burst if task.done()]
        bench.gate.opened.set()
        answers = await asyncio.gather(*burst)
        stats = await bench.json(f"{node}/stats")
    assert len(at_once) == shed
    for answer in at_once:
        assert_shed(answer)
    assert sorted(a.status for a in answers) == [200] * 24 + [503] * shed
    assert (stats["shed"], stats["cache_errors"], stats["in_flight"], stats["queued"]) == (shed, 0, 0, 0)
    assert await bench.source_reads() == 1


async def test_a_burst_on_a_cached_item_waits_for_cache_connections_and_never_reads_the_source(
    bench: Bench, redis_server: ServerProcess
) -> None:
    """Four connections for a node that takes 64 requests at once: the requests wait for a connection in turn."""
    bench.gate.opened.set()
    cache = RedisCache(redis_server.url, instance_name=f"overload-{time.monotonic_ns()}:", max_connections=4)
    async with bench.node(cache) as node:
        assert (await bench.get(f"{node}/items/6")).headers["X-Cache"] == "MISS"
        answers = await asyncio.gather(*(bench.get(f"{node}/items/6") for _ in range(BURST)))
        stats = await bench.json(f"{node}/stats")
    await cache.aclose()
    for answer in answers:
        if answer.status != 200:
            assert_shed(answer)  # shed, if it comes to that, but never a miss
        else:
            assert answer.headers["X-Cache"] == "HIT"
    assert stats["cache_errors"] == 0
    assert stats["hits"] + stats["shed"] == BURST
    assert await bench.source_reads() == 1, "only the first read, before the burst"


async def test_with_the_cache_down_a_burst_of_misses_shares_source_reads(bench: Bench) -> None:
    """No observation to share a read by: requests whose cache read failed share a read that began after they
    arrived. The first request's read is under way when the others arrive, so they share the next one."""
    down = RedisCache(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.1)
    async with bench.node(down, cache_timeout=NEVER) as node:  # refused at once, not timed out
        first = asyncio.create_task(bench.get(f"{node}/items/7"))
        async with asyncio.timeout(30):
            while True:  # the first request's read is held at the source store
                if bench.gate.held == 1:
                    break
                await asyncio.sleep(0.01)
            burst = [asyncio.create_task(bench.get(f"{node}/items/7")) for _ in range(50)]
            while True:  # every other request missed too, and waits
                if (await bench.json(f"{node}/stats"))["misses"] == 51:
                    break
                await asyncio.sleep(0.01)
        bench.gate.opened.set()
        answers = await asyncio.gather(first, *burst)
        stats = await bench.json(f"{node}/stats")
    await down.aclose()
    assert [(a.status, a.headers["X-Cache"]) for a in answers] == [(200, "MISS")] * 51
    assert stats["cache_errors"] >= 51
    assert await bench.source_reads() == 2, "the first request's read, and one for the fifty that came after it"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that takes connections and never answers: a cache server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def read_while_the_loop_is_held(bench: Bench, silent_server: int, limits: AdmissionLimits) -> Answer:
    """One read of an item from a cache that never answers (100 ms timeout), while the loop is held throughout."""
    # Its socket timeout bounds how long a call the node gave up on (the background refresh) lingers at the end.
    hung = RedisCache(f"redis://127.0.0.1:{silent_server}/0", socket_timeout=0.5)
    async with bench.node(hung, cache_timeout=0.1, admission=limits) as node:
        loop = asyncio.get_running_loop()
        request = asyncio.create_task(bench.get(f"{node}/items/8"))

        def hold() -> None:
            """Slices well below the suite's 100 ms limit per callback: five a loop iteration."""
            for _ in range(5):
                loop.call_soon(time.sleep, 0.01)
            if not request.done():
                loop.call_soon(hold)

        loop.call_soon(hold)
        answer = await request
    await hung.aclose()
    return answer


async def test_a_cache_read_a_node_at_its_limit_was_too_busy_to_finish_is_shed_not_sent_to_the_source(
    bench: Bench, silent_server: int
) -> None:
    """The node takes one request at a time and has it: its loop, late for the whole of the read's 100 ms, is its
    own doing, so the request is shed rather than sent to the source store (test_node_app has the same read with an
    idle loop: served from the source store)."""
    bench.gate.opened.set()
    answer = await read_while_the_loop_is_held(bench, silent_server, AdmissionLimits(max_in_flight=1))
    assert_shed(answer)
    assert await bench.source_reads() == 0


async def test_a_late_loop_on_a_node_below_its_limit_is_the_machines_and_the_read_goes_to_the_source(
    bench: Bench, silent_server: int
) -> None:
    """One request of 64 it may take: a loop that late is not the node's own load (other processes held the
    cores), so the timeout is the cache's, and the source store answers."""
    bench.gate.opened.set()
    answer = await read_while_the_loop_is_held(bench, silent_server, AdmissionLimits())
    assert (answer.status, answer.headers["X-Cache"]) == (200, "MISS")
    assert await bench.source_reads() == 1


async def test_a_write_whose_body_trickles_in_holds_no_slot_while_it_does(bench: Bench) -> None:
    """A client that sends its body a byte at a time must not keep the node's slots from everyone else: the body
    is read before the request takes a slot."""
    bench.gate.opened.set()
    limits = AdmissionLimits(max_in_flight=1, max_queue=1, queue_timeout=0.05)
    async with bench.node(MemoryCache(), admission=limits) as node:
        host, port = node.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"PUT /items/3 HTTP/1.1\r\nHost: n\r\nContent-Length: 40\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(0.2)  # the node has the head and one byte of the body
        answers = [await bench.get(f"{node}/items/4") for _ in range(3)]
        writer.close()
        await writer.wait_closed()
        stats = await bench.json(f"{node}/stats")
    assert [a.status for a in answers] == [200, 200, 200]
    assert stats["shed"] == 0
