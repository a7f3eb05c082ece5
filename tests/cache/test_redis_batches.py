"""Reads made at the same moment share a pipelined round trip; each caller gets its own reply, or its own error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio

from farm.cache import EntryOptions, RedisCache
from farm.cache.coordination import Observation, coordination_for
from farm.testing.servers import ServerProcess
from tests.pausing import paused

ITEM = EntryOptions(sliding_expiration=timedelta(minutes=5))
KEYS = [f"item:{i}" for i in range(40)]


@pytest.fixture
async def raw(redis_server: ServerProcess) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis_server: ServerProcess) -> AsyncIterator[RedisCache]:
    opened = RedisCache(redis_server.url, instance_name=f"batches-{uuid.uuid4().hex[:6]}-")
    for key in KEYS:
        await opened.aset(key, key.encode(), ITEM)
    yield opened
    await opened.aclose()


async def _connected(raw: redis.asyncio.Redis) -> int:
    return int((await raw.info("clients"))["connected_clients"])


async def test_a_burst_of_reads_shares_one_connection_and_each_gets_its_own_entry(
    cache: RedisCache, raw: redis.asyncio.Redis
) -> None:
    coordination = coordination_for(cache)
    await raw.pexpire(cache.instance_name + KEYS[0], 10_000)
    before = await _connected(raw)
    replies = await asyncio.gather(*(coordination.aget_observing(key) for key in [*KEYS, "missing"]))
    assert replies[:-1] == [(key.encode(), None) for key in KEYS]
    value, seen = replies[-1]
    assert value is None
    assert isinstance(seen, Observation)
    assert not seen.locked
    assert await _connected(raw) - before <= 1, "one pipeline, not a connection per read"
    assert await raw.pttl(cache.instance_name + KEYS[0]) > 10_000, "the read slid its entry's window"


async def test_reads_after_the_server_forgot_the_script_are_run_again(
    cache: RedisCache, raw: redis.asyncio.Redis
) -> None:
    coordination = coordination_for(cache)
    assert await coordination.aget_observing(KEYS[0]) == (KEYS[0].encode(), None)
    await raw.script_flush()  # as a restart without its data would
    replies = await asyncio.gather(*(coordination.aget_observing(key) for key in KEYS))
    assert replies == [(key.encode(), None) for key in KEYS]


async def test_one_read_s_odd_reply_is_its_own(cache: RedisCache, raw: redis.asyncio.Redis) -> None:
    """A key of another type, read in the same pipeline as two entries: only its reader is told so."""
    await raw.set(cache.instance_name + "plain", "not a hash")
    coordination = coordination_for(cache)
    replies = await asyncio.gather(
        *(coordination.aget_observing(key) for key in [KEYS[0], "plain", KEYS[1]]), return_exceptions=True
    )
    assert [replies[0], replies[2]] == [(KEYS[0].encode(), None), (KEYS[1].encode(), None)]
    data, seen = replies[1]  # type: ignore[misc]
    assert data is None
    assert seen is not None
    assert seen.foreign == "string"


async def test_reads_abandoned_on_a_paused_server_leave_later_reads_their_own_replies(
    cache: RedisCache, redis_server: ServerProcess
) -> None:
    """The replies of the reads that gave up still arrive after the pause; none may reach a later read."""
    coordination = coordination_for(cache)
    assert await coordination.aget_observing(KEYS[0]) == (KEYS[0].encode(), None)  # a connection opened
    with paused(redis_server):
        abandoned = [asyncio.ensure_future(coordination.aget_observing(key)) for key in KEYS[:10]]
        done, _ = await asyncio.wait(abandoned, timeout=0.2)
        assert not done, "the server is paused: nothing answers"
        for read in abandoned:
            read.cancel()
    await asyncio.gather(*abandoned, return_exceptions=True)
    for _ in range(3):
        replies = await asyncio.gather(*(coordination.aget_observing(key) for key in reversed(KEYS)))
        assert replies == [(key.encode(), None) for key in reversed(KEYS)]


async def test_reads_that_all_gave_up_free_their_connection(redis_server: ServerProcess) -> None:
    """As with one command per read: a server that hangs holds no connection past its callers' deadlines."""
    cache = RedisCache(redis_server.url, max_connections=1)
    coordination = coordination_for(cache)
    try:
        await coordination.aget_observing("k")  # the connection opened
        with paused(redis_server):
            for _ in range(2):  # the second gets the one connection only if the first let it go
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await coordination.aget_observing("k")
        value, seen = await coordination.aget_observing("k")
        assert value is None
        assert seen is not None
    finally:
        await cache.aclose()
