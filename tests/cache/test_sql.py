"""What only the SQL backend does: the .NET table layout, lazy slides, batched sweeps, errors, threads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyodbc
import pytest

from farm.cache import CacheConfigError, CacheConnectionError, CacheError, EntryOptions, SqlCache, from_url
from farm.cache.sql.dialects import IDLE_TRANSACTION_S
from farm.ports import free_port
from tests.cache.conftest import SQL_BACKENDS, Store, ready_store
from tests.clock import ManualClock


class Sql:
    def __init__(self, cache: SqlCache, clock: ManualClock) -> None:
        self.cache, self.clock = cache, clock
        self.ref = cache.dialect.table_ref(cache.target.schema, cache.target.table)
        self.conn = pyodbc.connect(cache.target.connection_string, autocommit=True)
        for statement in cache.dialect.session_setup():
            self.conn.execute(statement)

    def row(self, key: str) -> tuple[bytes, datetime, int | None, datetime | None] | None:
        found = self.conn.execute(self.cache.dialect.select_by_key(self.ref), key).fetchone()
        if found is None:
            return None
        read = self.cache.dialect.read_time
        return (found[1], read(found[2]), found[3], None if found[4] is None else read(found[4]))

    def insert(self, key: str, value: bytes, expires: datetime, sliding: int | None, absolute: datetime | None) -> None:
        """A row as the .NET cache writes it."""
        param = self.cache.dialect.time_param
        self.conn.execute(
            f"INSERT INTO {self.ref} ({self.cache.dialect.columns()}) VALUES (?, ?, ?, ?, ?)",
            key,
            value,
            param(expires),
            sliding,
            None if absolute is None else param(absolute),
        )

    def count(self) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {self.ref}").fetchone()[0])


@pytest.fixture(params=SQL_BACKENDS)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from ready_store(request.param, request, tmp_path)


@pytest.fixture
async def sql(sql_store: Store) -> AsyncIterator[Sql]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    cache = SqlCache(sql_store.url, table=sql_store.table, clock=clock)
    helper = Sql(cache, clock)
    yield helper
    helper.conn.close()
    await cache.aclose()


def test_set_writes_the_dotnet_columns(sql: Sql) -> None:
    now = sql.clock.now
    absolute = now + timedelta(hours=1)
    sql.cache.set("k", b"payload", EntryOptions(absolute_expiration=absolute, sliding_expiration=timedelta(minutes=5)))
    assert sql.row("k") == (b"payload", now + timedelta(minutes=5), 300, absolute)
    sql.cache.set("abs", b"x", EntryOptions(absolute_expiration=absolute))
    assert sql.row("abs") == (b"x", absolute, None, absolute)


def test_without_options_a_twenty_minute_sliding_window_applies(sql: Sql) -> None:
    sql.cache.set("k", b"v")
    sql.cache.set("e", b"v", EntryOptions())
    assert sql.row("k") == (b"v", sql.clock.now + timedelta(minutes=20), 1200, None)
    assert sql.row("e") == sql.row("k")
    sql.clock.advance(19 * 60)
    assert sql.cache.get("k") == b"v"
    sql.clock.advance(21 * 60)
    assert sql.cache.get("k") is None


def test_a_row_written_by_dotnet_is_read_and_slid(sql: Sql) -> None:
    now = sql.clock.now
    sql.insert("dotnet", b"\x00\xff", now + timedelta(seconds=20), 20, now + timedelta(hours=1))
    sql.clock.advance(10)
    assert sql.cache.get("dotnet") == b"\x00\xff"
    assert sql.row("dotnet") == (b"\x00\xff", sql.clock.now + timedelta(seconds=20), 20, now + timedelta(hours=1))


def test_a_dotnet_row_past_its_absolute_expiration_is_not_read(sql: Sql) -> None:
    """.NET writes ExpiresAtTime = now + sliding even when the absolute limit is sooner, and caps it at the
    absolute limit only when it reads: a read after that limit finds nothing, however far ExpiresAtTime is."""
    now = sql.clock.now
    sql.insert("dotnet", b"v", now + timedelta(minutes=10), 600, now + timedelta(minutes=1))
    sql.clock.advance(30)
    assert sql.cache.get("dotnet") == b"v"
    sql.clock.advance(60)
    assert sql.cache.get("dotnet") is None
    sql.cache.refresh("dotnet")
    assert sql.cache.get("dotnet") is None


def test_sliding_seconds_are_truncated_as_dotnet_does(sql: Sql) -> None:
    sql.cache.set("k", b"v", EntryOptions(sliding_expiration=timedelta(seconds=2.9)))
    assert sql.row("k") == (b"v", sql.clock.now + timedelta(seconds=2.9), 2, None)


def test_a_sub_second_sliding_window_is_refused_with_a_clear_error(sql: Sql) -> None:
    with pytest.raises(CacheConfigError, match=r"sliding_expiration=.*whole seconds.*at least 1 second"):
        sql.cache.set("k", b"v", EntryOptions(sliding_expiration=timedelta(milliseconds=500)))
    assert sql.row("k") is None


def test_reads_write_the_slide_only_when_it_moves_expiry_enough(sql: Sql) -> None:
    sql.cache.set("hot", b"v", EntryOptions(sliding_expiration=timedelta(seconds=100)))
    written = sql.row("hot")
    for _ in range(20):  # 20 reads within 4 s: under 5% of the window, so no write
        sql.clock.advance(0.2)
        assert sql.cache.get("hot") == b"v"
    assert sql.cache.slide_writes == 0
    assert sql.row("hot") == written
    sql.clock.advance(2)
    assert sql.cache.get("hot") == b"v"
    assert sql.cache.slide_writes == 1
    assert sql.row("hot")[1] == sql.clock.now + timedelta(seconds=100)  # type: ignore[index]


def test_reads_of_entries_without_sliding_window_never_write(sql: Sql) -> None:
    sql.cache.set("k", b"v", EntryOptions(absolute_expiration_relative_to_now=timedelta(seconds=100)))
    for _ in range(5):
        sql.clock.advance(10)
        assert sql.cache.get("k") == b"v"
    assert sql.cache.slide_writes == 0


def test_expired_rows_are_deleted_in_bounded_batches(sql: Sql) -> None:
    now = sql.clock.now
    for i in range(25):
        sql.insert(f"old-{i}", b"x", now - timedelta(seconds=1 + i), None, now - timedelta(seconds=1))
    sql.cache.set("live", b"v", EntryOptions(sliding_expiration=timedelta(minutes=1)))
    one_batch = sql.cache.dialect.delete_expired_batch(sql.ref, 10)
    assert sql.conn.execute(one_batch, sql.cache.dialect.time_param(now)).rowcount == 10
    assert sql.count() == 16
    small = SqlCache(sql.cache.target, clock=sql.clock, sweep_batch_size=4)
    assert small.delete_expired() == 15
    small.close()
    assert sql.count() == 1
    assert sql.cache.get("live") == b"v"


async def test_a_sweep_starts_in_the_background_once_the_interval_has_passed(sql: Sql) -> None:
    now = sql.clock.now
    sql.insert("old", b"x", now + timedelta(minutes=1), None, now + timedelta(minutes=1))
    sql.clock.advance(29 * 60)
    await sql.cache.aget("anything")
    sql.cache.close()  # waits for sweeps in flight
    assert sql.count() == 1, "no sweep before 30 minutes"
    cache = SqlCache(sql.cache.target, clock=sql.clock)
    sql.clock.advance(31 * 60)
    await cache.aget("anything")
    cache.close()
    assert sql.count() == 0


def test_the_sweep_interval_has_the_dotnet_minimum(sql: Sql) -> None:
    with pytest.raises(CacheConfigError, match="cannot be less than the minimum value of 5 minutes"):
        SqlCache(sql.cache.target, expired_items_deletion_interval=timedelta(minutes=4))


def test_a_missing_table_says_how_to_create_it(sql: Sql) -> None:
    cache = SqlCache(sql.cache.target.connection_string, table="no_such_table")
    with pytest.raises(CacheError, match="farm sql-cache create") as caught:
        cache.get("k")
    assert isinstance(caught.value.__cause__, pyodbc.Error)
    cache.close()


def _lock_statements(dialect: str, ref: str) -> list[str]:
    """Statements that leave the row 'k' locked by another connection until it commits."""
    if dialect == "sqlite":
        return ["BEGIN IMMEDIATE"]
    if dialect == "postgresql":
        return ["BEGIN", f"SELECT 1 FROM {ref} WHERE \"Id\" = 'k' FOR UPDATE"]
    return ["START TRANSACTION", f"SELECT 1 FROM {ref} WHERE `Id` = 'k' FOR UPDATE"]


async def test_async_calls_do_not_block_the_event_loop(sql: Sql) -> None:
    sql.cache.set("k", b"before")
    locker = pyodbc.connect(sql.cache.target.connection_string, autocommit=True)
    for statement in _lock_statements(sql.cache.dialect.name, sql.ref):
        locker.execute(statement)
    write = asyncio.create_task(sql.cache.aset("k", b"after"))
    ticks = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        await asyncio.sleep(0.01)
        ticks += 1
    assert not write.done(), "the write should wait for the lock held by the other connection"
    assert ticks > 20, f"the event loop ran only {ticks} times in 0.5 s while a write waited"
    locker.execute("COMMIT")
    await asyncio.wait_for(write, 10)
    locker.close()
    assert await sql.cache.aget("k") == b"after"


async def test_an_unreachable_database_raises_without_the_password() -> None:
    cache = from_url(f"postgresql://cache:s3cret-pw@127.0.0.1:{free_port()}/db", connect_timeout=2)
    with pytest.raises(CacheConnectionError) as caught:
        await cache.aget("k")
    assert "s3cret-pw" not in str(caught.value)
    assert "Pwd=***" in str(caught.value)
    assert "s3cret-pw" not in repr(cache)
    await cache.aclose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'c.db'}"


def test_from_url_takes_table_and_schema_from_the_query(sqlite_url: str) -> None:
    cache = from_url(sqlite_url + "?table=MyCache")
    assert isinstance(cache, SqlCache)
    assert (cache.target.schema, cache.target.table) == ("main", "MyCache")
    cache.create_table()
    cache.set("k", b"v")
    with from_url(sqlite_url, table="MyCache") as other:
        assert other.get("k") == b"v"
    cache.close()


SLEEP_SQL = {"postgresql": "SELECT pg_sleep(5)", "mariadb": "SELECT SLEEP(5)"}


@pytest.fixture(params=sorted(SLEEP_SQL))
def server_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from ready_store(request.param, request, tmp_path)


async def test_the_server_abandons_a_statement_after_the_statement_timeout(server_store: Store) -> None:
    """A statement its caller gave up on must not run on: PostgreSQL's statement_timeout, MariaDB's
    max_statement_time."""
    cache = SqlCache(server_store.url, table=server_store.table, statement_timeout=0.2)
    sleep = SLEEP_SQL[server_store.name]
    with pytest.raises(CacheError, match=r"statement timeout|max_statement_time exceeded"):
        await asyncio.to_thread(cache._run, "sleep", None, lambda cursor: cursor.execute(sleep).fetchone())
    await cache.aclose()


async def test_the_server_ends_a_transaction_left_idle_so_its_commit_cannot_land_late(server_store: Store) -> None:
    """A partition can hold a transaction's COMMIT for as long as it lasts: the server ends the transaction first."""
    cache = SqlCache(server_store.url, table=server_store.table, statement_timeout=0.2)
    ref = cache.dialect.table_ref(cache.target.schema, cache.target.table)
    later = cache.dialect.time_param(datetime.now(UTC) + timedelta(hours=1))

    def insert_then_go_quiet(cursor: pyodbc.Cursor) -> None:
        cursor.connection.autocommit = False
        cursor.execute(
            f"INSERT INTO {ref} ({cache.dialect.columns()}) VALUES (?, ?, ?, NULL, ?)", "k", b"old", later, later
        )
        time.sleep(IDLE_TRANSACTION_S + 1)  # the COMMIT is held up, as by a partition
        cursor.connection.commit()

    with pytest.raises(CacheError):
        await asyncio.to_thread(cache._run, "late commit", "k", insert_then_go_quiet)
    assert await cache.aget("k") is None
    await cache.aclose()


def test_a_call_waits_for_a_pooled_connection_no_longer_than_pool_wait(sqlite_url: str) -> None:
    cache = SqlCache(sqlite_url, max_connections=1, pool_wait=0.05)
    with cache:
        held = cache._pool.acquire()
        with pytest.raises(CacheConnectionError, match=r"no free connection in 0\.050 s"):
            cache._pool.acquire()
        cache._pool.release(held)
    with pytest.raises(CacheConfigError, match="pool wait=0: must be a positive number of seconds"):
        SqlCache(sqlite_url, pool_wait=0)


async def test_warming_up_opens_every_pooled_connection_before_the_first_request(sql_store: Store) -> None:
    """A restarted node's first requests must not pay the ODBC connection setup inside their 200 ms deadline."""
    cache = SqlCache(sql_store.url, table=sql_store.table, max_connections=3)
    opened: list[int] = []
    connect = cache._connect

    def counted() -> pyodbc.Connection:
        opened.append(1)
        return connect()

    cache._pool._connect = counted
    await cache.awarm_up()
    assert len(opened) == 3, "every connection the pool may hold is open"
    await cache.awarm_up()
    await asyncio.gather(*(cache.aget(f"k{i}") for i in range(3)))
    assert len(opened) == 3, "warmed connections are reused: no request opened one, and a second warm-up neither"
    await cache.aclose()
