"""Checks that run inside a fresh virtualenv where cachefarm was installed from its wheel.

tests/cache/test_packaging.py runs this file there with that virtualenv's Python (``base`` or ``redis URL``)
and judges the one JSON object it prints. It imports nothing from the tests, which are not installed there.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import farm.cache
from farm.cache import CacheConfigError, EntryOptions, MemoryCache, from_url

# What the extras bring: none of it may be importable unless its extra was installed.
EXTRA_MODULES = ("redis", "hiredis", "pyodbc", "aiohttp", "yaml", "jsonschema", "rich", "matplotlib", "supervisor")
SECOND = timedelta(seconds=1)


class Clock:
    """A clock the checks move by hand, so that expiry is checked without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds * SECOND


def environment() -> dict[str, Any]:
    return {
        "farm.cache": farm.cache.__file__,
        "distributions": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
        "requires": importlib.metadata.requires("cachefarm") or [],
        "importable": sorted(name for name in EXTRA_MODULES if importlib.util.find_spec(name) is not None),
    }


def memory() -> dict[str, Any]:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    seen: dict[str, Any] = {}
    cache.set("k", b"\x00bytes")
    seen["get"] = cache.get("k") == b"\x00bytes"
    cache.set_string("s", "Grüße")
    seen["get_string"] = cache.get_string("s")
    cache.remove("k")
    seen["after remove"] = cache.get("k")
    seen["add"] = [cache.add("a", b"1"), cache.add("a", b"2"), cache.get_string("a")]

    cache.set("absolute", b"v", EntryOptions(absolute_expiration_relative_to_now=10 * SECOND))
    clock.advance(9)
    seen["absolute at 9 s of 10"] = cache.get_string("absolute")
    clock.advance(2)
    seen["absolute at 11 s of 10"] = cache.get_string("absolute")

    cache.set("sliding", b"v", EntryOptions(sliding_expiration=10 * SECOND))
    readings = []
    for _ in range(3):  # each read starts the 10 s window again
        clock.advance(8)
        readings.append(cache.get_string("sliding"))
    clock.advance(11)
    readings.append(cache.get_string("sliding"))
    seen["sliding read every 8 s, then after 11 s"] = readings

    async def async_round_trip() -> str | None:
        await cache.aset_string("async", "v")
        return await cache.aget_string("async")

    seen["async"] = asyncio.run(async_round_trip())
    seen["zero sliding window"] = error_of(lambda: EntryOptions(sliding_expiration=timedelta(0)))
    return seen


def error_of(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def missing_driver(url: str) -> dict[str, Any]:
    try:
        from_url(url)
    except CacheConfigError as exc:
        return {"error": type(exc).__name__, "message": str(exc), "import error": isinstance(exc, ImportError)}
    return {"error": None}


def base() -> dict[str, Any]:
    def import_redis_cache() -> None:
        from farm.cache import RedisCache  # noqa: F401

    return {
        **environment(),
        "memory": memory(),
        "memory url": type(from_url("memory://?size_limit=1024")).__name__,
        "redis url": missing_driver("redis://:secret@127.0.0.1:6379/0"),
        "postgresql url": missing_driver("postgresql://app:secret@127.0.0.1/shop"),
        "from farm.cache import RedisCache": error_of(import_redis_cache),
    }


def redis(url: str) -> dict[str, Any]:
    import redis as redis_py
    from redis.utils import HIREDIS_AVAILABLE

    from farm.cache import RedisCache

    instance = f"packaging-{uuid.uuid4().hex[:8]}:"
    cache = from_url(f"{url}?instance_name={instance}")
    cache.set("k", b"payload", EntryOptions(sliding_expiration=timedelta(minutes=5)))

    async def async_round_trip() -> bytes | None:
        await cache.aset("async", b"async payload")
        value = await cache.aget("async")
        await cache.aclose()
        return value

    async_value = asyncio.run(async_round_trip())
    with from_url(f"{url}?instance_name={instance}") as another:  # a second client reads what the first wrote
        read_back = another.get("k")
    raw = redis_py.Redis.from_url(url, decode_responses=True)
    fields = {str(name): str(value) for name, value in raw.hgetall(f"{instance}k").items()}
    seen = {
        **environment(),
        "class": type(cache).__name__,
        "is RedisCache": isinstance(cache, RedisCache),
        "hiredis": HIREDIS_AVAILABLE,
        "instance": instance,
        "read back": (read_back or b"").decode(),
        "async read back": (async_value or b"").decode(),
        "hash": fields,
        "ttl ms": raw.pttl(f"{instance}k"),
        "postgresql url": missing_driver("postgresql://app:secret@127.0.0.1/shop"),
    }
    raw.close()
    return seen


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    print(json.dumps(base() if mode == "base" else redis(*args)))
