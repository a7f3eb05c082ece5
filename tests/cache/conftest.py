"""One fixture, ``backend``, with a parameter per cache backend, each on a real server.

Memory and SQL compute expiry on the client, so their tests move an injected clock; Redis expires keys
itself, so its tests sleep for real (short, sub-second-precise TTLs).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pyodbc
import pytest
import redis

from farm.cache import DistributedCache, MemoryCache, RedisCache, SqlCache
from farm.testing.servers import ServerProcess
from tests.clock import ManualClock

SQL_BACKENDS = ["postgresql", "mariadb", "sqlite"] + (["sqlserver"] if os.environ.get("FARM_TEST_MSSQL") else [])
BACKENDS = ["memory", "redis", *SQL_BACKENDS]
SHARED_BACKENDS = ["redis", *SQL_BACKENDS]


@dataclass
class Backend:
    """A cache under test, how to move its time, how to open a second client on the same store, and whether
    the store holds anything under a key (expired or not), seen past the cache's own reads."""

    name: str
    cache: DistributedCache
    advance: Callable[[float], None]
    open_another: Callable[[], DistributedCache]
    stored: Callable[[str], bool]

    @property
    def is_sql(self) -> bool:
        return self.name in SQL_BACKENDS

    async def pass_time(self, seconds: float) -> None:
        """``advance`` for async tests: Redis's own clock is waited for without blocking the event loop."""
        if self.name == "redis":
            await asyncio.sleep(seconds)
        else:
            self.advance(seconds)


@dataclass(frozen=True)
class Store:
    """Where a backend keeps its entries, made ready before the test's event loop runs: starting a server and
    creating a table block, so they happen in a plain fixture."""

    name: str
    url: str
    table: str


def sql_connection(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if name == "postgresql":
        server: ServerProcess = request.getfixturevalue("postgresql_server")
        return server.url
    if name == "mariadb":
        mariadb: ServerProcess = request.getfixturevalue("mariadb_server")
        return mariadb.url
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'cache.db'}"
    return os.environ["FARM_TEST_MSSQL"]


def ready_store(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    table = f"cache_{uuid.uuid4().hex[:12]}"
    if name == "memory":
        yield Store(name, "memory://", table)
    elif name == "redis":
        server: ServerProcess = request.getfixturevalue("redis_server")
        yield Store(name, server.url, table)
    else:
        url = sql_connection(name, request, tmp_path)
        with SqlCache(url, table=table) as sql:
            sql.create_table()
            yield Store(name, url, table)
            sql.drop_table()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from ready_store(request.param, request, tmp_path)


@pytest.fixture(params=SHARED_BACKENDS)
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from ready_store(request.param, request, tmp_path)


async def open_backend(store: Store) -> AsyncIterator[Backend]:
    opened: list[DistributedCache] = []
    name, url, table = store.name, store.url, store.table
    if name == "memory":
        clock = ManualClock()
        memory = MemoryCache(clock=clock)
        yield Backend(name, memory, clock.advance, lambda: MemoryCache(clock=clock), lambda key: key in memory._entries)
        return
    if name == "redis":
        instance = f"test-{uuid.uuid4().hex[:8]}:"

        def another_redis() -> DistributedCache:
            opened.append(RedisCache(url, instance_name=instance))
            return opened[-1]

        def redis_stored(key: str) -> bool:
            with closing(redis.Redis.from_url(url)) as raw:
                return bool(raw.exists(instance + key))

        cache = RedisCache(url, instance_name=instance)
        yield Backend(name, cache, time.sleep, another_redis, redis_stored)
        await cache.aclose()
    else:
        clock = ManualClock()

        def another_sql() -> DistributedCache:
            opened.append(SqlCache(url, table=table, clock=clock))
            return opened[-1]

        sql = SqlCache(url, table=table, clock=clock)

        def sql_stored(key: str) -> bool:
            select = sql.dialect.select_by_key(sql.dialect.table_ref(sql.target.schema, sql.target.table))
            with closing(pyodbc.connect(sql.target.connection_string, autocommit=True)) as conn:
                return conn.execute(select, key).fetchone() is not None

        yield Backend(name, sql, clock.advance, another_sql, sql_stored)
        await sql.aclose()
    for other in opened:
        await other.aclose()


@pytest.fixture
async def backend(store: Store) -> AsyncIterator[Backend]:
    async for opened in open_backend(store):
        yield opened


@pytest.fixture
async def shared_backend(shared_store: Store) -> AsyncIterator[Backend]:
    async for opened in open_backend(shared_store):
        yield opened
