"""What only the Redis backend does: the .NET hash layout, TTLs, one-round-trip slides, script fallback."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from farm.cache import (
    CacheConfigError,
    CacheConnectionError,
    CacheError,
    EntryOptions,
    ForeignEntryError,
    RedisCache,
    from_url,
)
from farm.cache.coordination import coordination_for
from farm.cache.ticks import datetime_to_ticks
from farm.ports import free_port
from farm.testing.servers import ServerProcess, start_redis


@pytest.fixture
def raw(redis_server: ServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    yield client
    client.close()


@pytest.fixture
def instance() -> str:
    return f"Sample-{uuid.uuid4().hex[:6]}-"


@pytest.fixture
async def cache(redis_server: ServerProcess, instance: str) -> AsyncIterator[RedisCache]:
    opened = RedisCache(redis_server.url, instance_name=instance)
    yield opened
    await opened.aclose()


def _calls(raw: redis.Redis, command: str) -> int:
    stats = raw.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_set_writes_the_dotnet_hash_layout(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    before = datetime.now(UTC)
    absolute = before + timedelta(hours=1)
    cache.set("k", b"payload", EntryOptions(absolute_expiration=absolute, sliding_expiration=timedelta(minutes=5)))
    fields = raw.hgetall(f"{instance}k")
    assert list(fields) == [b"absexp", b"sldexp", b"data"]
    assert fields[b"absexp"] == str(datetime_to_ticks(absolute)).encode()
    assert fields[b"sldexp"] == str(5 * 60 * 10_000_000).encode()
    assert fields[b"data"] == b"payload"
    assert 299_000 < raw.pttl(f"{instance}k") <= 300_000  # the sliding window, the earlier limit


def test_set_without_options_writes_minus_one_and_no_ttl(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    cache.set("k", b"v", EntryOptions(absolute_expiration_relative_to_now=timedelta(seconds=30)))
    cache.set("k", b"forever")  # the overwrite must also drop the old TTL
    assert raw.hmget(f"{instance}k", ["absexp", "sldexp"]) == [b"-1", b"-1"]
    assert raw.pttl(f"{instance}k") == -1


def test_a_hash_written_by_dotnet_is_read_and_slid(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    now_ticks = datetime_to_ticks(datetime.now(UTC))
    absolute = now_ticks + 3600 * 10_000_000
    raw.hset(f"{instance}from-dotnet", mapping={"absexp": absolute, "sldexp": 20 * 10_000_000, "data": b"\x01\x02"})
    raw.expire(f"{instance}from-dotnet", 5)  # .NET sends whole seconds
    assert cache.get("from-dotnet") == b"\x01\x02"
    assert 19_000 < raw.pttl(f"{instance}from-dotnet") <= 20_000


def test_sub_second_ttls_are_kept_in_milliseconds(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    # .NET truncates to whole seconds, so 0.4 s would be EXPIRE 0: the key would vanish at once.
    cache.set("short", b"v", EntryOptions(absolute_expiration_relative_to_now=timedelta(milliseconds=400)))
    assert 300 < raw.pttl(f"{instance}short") <= 400
    assert cache.get("short") == b"v"
    time.sleep(0.5)
    assert cache.get("short") is None


def test_a_sliding_get_is_one_round_trip(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    cache.set("k", b"v", EntryOptions(sliding_expiration=timedelta(seconds=10)))
    cache.get("k")  # loads the script on a server that has not seen it yet
    raw.pexpire(f"{instance}k", 3000)
    evalsha, hmget, pexpire = _calls(raw, "evalsha"), _calls(raw, "hmget"), _calls(raw, "pexpire")
    assert cache.get("k") == b"v"
    assert _calls(raw, "evalsha") == evalsha + 1
    # The HMGET and PEXPIRE ran inside that one script call, not as commands of their own.
    assert (_calls(raw, "hmget"), _calls(raw, "pexpire")) == (hmget + 1, pexpire + 1)
    assert raw.pttl(f"{instance}k") > 9_000
    assert cache.scripts_allowed


async def test_refresh_slides_without_returning_data(cache: RedisCache, raw: redis.Redis, instance: str) -> None:
    await cache.aset("k", b"v" * 1000, EntryOptions(sliding_expiration=timedelta(seconds=10)))
    raw.pexpire(f"{instance}k", 3000)
    await cache.arefresh("k")
    assert raw.pttl(f"{instance}k") > 9_000


@pytest.fixture
def no_script_user(raw: redis.Redis) -> Iterator[str]:
    name = f"noscripts{uuid.uuid4().hex[:6]}"
    raw.acl_setuser(name, enabled=True, nopass=True, keys=["~*"], commands=["+@all", "-@scripting"])
    yield name
    raw.acl_deluser(name)


async def test_servers_that_refuse_scripts_get_separate_commands(
    redis_server: ServerProcess,
    raw: redis.Redis,
    instance: str,
    no_script_user: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://{no_script_user}@{redis_server.host}:{redis_server.port}/0"
    cache = RedisCache(url, instance_name=instance)
    cache.set("k", b"v", EntryOptions(sliding_expiration=timedelta(seconds=10)))
    raw.pexpire(f"{instance}k", 3000)
    with caplog.at_level(logging.WARNING, logger="farm.cache.redis_cache"):
        assert cache.get("k") == b"v"
        assert await cache.aget("k") == b"v"
        cache.refresh("k")
    assert not cache.scripts_allowed
    assert raw.pttl(f"{instance}k") > 9_000
    refusals = [r for r in caplog.records if "refuses scripts" in r.getMessage()]
    assert len(refusals) == 1, "the fallback is announced once, not on every read"
    await cache.aclose()


async def test_an_unreachable_server_raises_cache_errors_without_the_password() -> None:
    port = free_port()
    cache = RedisCache(f"redis://:hunter2@127.0.0.1:{port}/0", socket_connect_timeout=0.5)
    with pytest.raises(CacheConnectionError) as caught:
        cache.get("k")
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)
    with pytest.raises(CacheError):
        await cache.aset("k", b"v")
    await cache.aclose()


FOREIGN_VALUES: dict[str, Callable[[redis.Redis, str], object]] = {
    "string": lambda raw, key: raw.set(key, "not a hash"),
    "list": lambda raw, key: raw.rpush(key, "a", "b"),
    "hash without data": lambda raw, key: raw.hset(key, "name", "someone else's"),
    "hash with unreadable expiry": lambda raw, key: raw.hset(key, mapping={"sldexp": "soon", "data": "x"}),
}


@pytest.mark.parametrize("scripts", [True, False], ids=["script", "fallback"])
@pytest.mark.parametrize("foreign", list(FOREIGN_VALUES))
async def test_a_key_that_holds_something_else_fails_reads_until_a_write_replaces_it(
    cache: RedisCache, raw: redis.Redis, instance: str, foreign: str, scripts: bool
) -> None:
    cache.scripts_allowed = scripts
    for key in ("k", "a"):
        FOREIGN_VALUES[foreign](raw, f"{instance}{key}")
    if foreign == "hash without data":  # as .NET reads it: no entry, a miss
        assert cache.get("k") is None
        assert await cache.aget("k") is None
    else:
        with pytest.raises(ForeignEntryError, match=r"'k' .* holds a value of another type, not a cache entry") as got:
            cache.get("k")
        assert isinstance(got.value.__cause__, redis.ResponseError | None)
        with pytest.raises(ForeignEntryError):
            await cache.arefresh("k")
    # An add counts it as no entry and replaces it; so does a set.
    assert await cache.aadd("k", b"added") is True
    assert cache.add("k", b"not again") is False
    assert await cache.aget("k") == b"added"
    cache.set("a", b"set")
    assert cache.get("a") == b"set"
    assert raw.type(f"{instance}a") == raw.type(f"{instance}k") == b"hash"


async def test_from_url_reads_instance_name_and_db(redis_server: ServerProcess, raw: redis.Redis) -> None:
    cache = from_url(f"redis://{redis_server.host}:{redis_server.port}/3?instance_name=App1:")
    assert isinstance(cache, RedisCache)
    assert cache.instance_name == "App1:"
    cache.set("k", b"v")
    db3 = redis.Redis(host=redis_server.host, port=redis_server.port, db=3)
    assert db3.hget("App1:k", "data") == b"v"
    db3.delete("App1:k")
    db3.close()
    await cache.aclose()


def test_reads_recover_on_their_own_after_the_server_restarts() -> None:
    port = free_port()
    sliding = EntryOptions(sliding_expiration=timedelta(seconds=30))
    with start_redis(port=port):
        cache = RedisCache(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.5)
        cache.set("k", b"v", sliding)
        assert cache.get("k") == b"v"  # leaves a connection idle in the cache
    with start_redis(port=port):
        assert cache.get("k") is None  # a fresh, empty server: no error for the connection that went stale
        cache.set("k", b"again", sliding)
        assert cache.get("k") == b"again"
    with pytest.raises(CacheConnectionError):
        cache.get("k")
    cache.close()


async def test_callers_beyond_the_pool_wait_for_a_connection_in_turn(
    redis_server: ServerProcess, instance: str
) -> None:
    """Two connections for five hundred calls at once: every call waits its turn, none fails."""
    cache = RedisCache(redis_server.url, instance_name=instance, max_connections=2)
    await cache.aset("k", b"v")
    coordination = coordination_for(cache)
    calls = [cache.aget("k") for _ in range(250)] + [coordination.aget_observing("k") for _ in range(250)]
    answers = await asyncio.gather(*calls)
    assert answers == [b"v"] * 250 + [(b"v", None)] * 250
    await cache.aclose()


async def test_a_call_waits_for_a_pooled_connection_no_longer_than_pool_wait(
    redis_server: ServerProcess, instance: str
) -> None:
    cache = RedisCache(redis_server.url, instance_name=instance, max_connections=1, pool_wait=0.05)
    async with cache._slots:  # the only connection is in use
        with pytest.raises(CacheConnectionError, match=r"no free connection to .* in 0\.050 s \(1 in use\)"):
            await cache.aget("k")
    assert await cache.aget("k") is None
    await cache.aclose()
    with pytest.raises(CacheConfigError, match="pool_wait=0: must be a positive number of seconds"):
        RedisCache(redis_server.url, pool_wait=0)
