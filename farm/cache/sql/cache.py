"""A SQL cache in the table layout of Microsoft.Extensions.Caching.SqlServer, through pyodbc."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

import pyodbc

from farm.cache.base import DistributedCache
from farm.cache.clock import Clock, system_clock
from farm.cache.errors import CacheConfigError, CacheConnectionError, CacheError
from farm.cache.options import EntryOptions, Expiry
from farm.cache.secrets import mask_secrets
from farm.cache.sql.dialects import KEY_COLUMN_LENGTH, SQL_SS_TIMESTAMPOFFSET, read_datetimeoffset
from farm.cache.sql.pool import ConnectionPool
from farm.cache.sql.target import SqlTarget, parse_sql_target
from farm.cache.ticks import epoch_micros, epoch_micros_span, from_epoch_micros

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_SLIDING = timedelta(minutes=20)
DEFAULT_SWEEP_INTERVAL = timedelta(minutes=30)
MINIMUM_SWEEP_INTERVAL = timedelta(minutes=5)
FENCES_SUFFIX = "_Fences"
"""The table of a cache table's write locks and fences is named after it with this suffix."""
CONFLICT_RETRIES = 5
"""Runs of an add statement that the database rolled back as a deadlock victim, before giving up."""
_MISSING_TABLE_STATES = {"42S02", "42P01"}
_CONNECTION_STATES_PREFIX = ("08", "HYT")


class SqlCache(DistributedCache):
    """Entries as rows of ``Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration``.

    Differences from .NET, on purpose: a read writes the slid expiry only when it moves it by more than
    ``slide_tolerance`` of the sliding window (so an entry read without pause may expire up to that share
    of its window early, and hot keys are not written on every read); expired rows are swept in batches of
    ``sweep_batch_size``; keys longer than 449 characters are refused instead of truncated.
    """

    max_key_length = KEY_COLUMN_LENGTH
    nul_in_keys = False  # PostgreSQL's and SQLite's drivers cut a key at its first NUL

    def __init__(
        self,
        connection: str | SqlTarget,
        *,
        table: str | None = None,
        schema: str | None = None,
        dialect: str | None = None,
        clock: Clock = system_clock,
        default_sliding_expiration: timedelta = DEFAULT_SLIDING,
        expired_items_deletion_interval: timedelta = DEFAULT_SWEEP_INTERVAL,
        sweep_batch_size: int = 1000,
        slide_tolerance: float = 0.05,
        max_connections: int = 8,
        connect_timeout: int = 5,
        statement_timeout: float | None = None,
        pool_wait: float | None = None,
    ) -> None:
        """``statement_timeout``: seconds after which the server abandons a statement (PostgreSQL
        ``statement_timeout``, MariaDB ``max_statement_time``); ``pool_wait``: seconds a call may wait for a
        free connection. Both keep a call that its caller gave up on from running on long after."""
        super().__init__(clock=clock, default_options=EntryOptions(sliding_expiration=default_sliding_expiration))
        if expired_items_deletion_interval < MINIMUM_SWEEP_INTERVAL:
            raise CacheConfigError(
                f"expired_items_deletion_interval={expired_items_deletion_interval} cannot be less than the "
                "minimum value of 5 minutes"
            )
        if not 0.0 <= slide_tolerance < 1.0:
            raise CacheConfigError(f"slide_tolerance={slide_tolerance!r}: must be at least 0 and below 1")
        if sweep_batch_size < 1:
            raise CacheConfigError(f"sweep_batch_size={sweep_batch_size!r}: must be at least 1")
        self.target = (
            connection
            if isinstance(connection, SqlTarget)
            else parse_sql_target(connection, table=table, schema=schema, dialect=dialect)
        )
        self.dialect = self.target.dialect
        self.sweep_interval = expired_items_deletion_interval
        self.sweep_batch_size = sweep_batch_size
        self.slide_tolerance = slide_tolerance
        self._slide_margin_us = slide_tolerance * 1_000_000
        """Per second of sliding window: how far a read's slide must move the expiry to be written."""
        self._connect_timeout = connect_timeout
        if statement_timeout is not None and statement_timeout <= 0:
            raise CacheConfigError(f"statement_timeout={statement_timeout!r}: must be a positive number of seconds")
        self.statement_timeout = statement_timeout
        try:
            self._pool = ConnectionPool(self._connect, max_connections, pool_wait)
        except ValueError as exc:
            raise CacheConfigError(str(exc)) from None
        self._executor = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="sql-cache")
        ref = self.dialect.table_ref(self.target.schema, self.target.table)
        self._sql_select = self.dialect.select_entry(ref)
        self._sql_select_expiry = self.dialect.select_expiry(ref)
        self._sql_slide = self.dialect.slide(ref)
        self._sql_upsert = self.dialect.upsert(ref)
        self._sql_delete = self.dialect.delete(ref)
        self._sql_insert_if_absent = self.dialect.insert_if_absent(ref)
        self._sql_delete_if_expired = self.dialect.delete_if_expired(ref)
        self._sql_sweep = self.dialect.delete_expired_batch(ref, sweep_batch_size)
        self._sweep_lock = threading.Lock()
        self._now_micros = _micros_clock(clock)
        self._sweep_interval_us = epoch_micros_span(expired_items_deletion_interval)
        self._last_sweep_us = self._now_micros()
        self._sweeps: set[Future[int]] = set()
        self.slide_writes = 0

    def __repr__(self) -> str:
        return f"SqlCache({self.target.masked!r}, schema={self.target.schema!r}, table={self.target.table!r})"

    # -- connections and errors --------------------------------------------------------------------
    def _connect(self) -> pyodbc.Connection:
        try:
            conn = pyodbc.connect(self.target.connection_string, autocommit=True, timeout=self._connect_timeout)
        except pyodbc.Error as exc:
            raise CacheConnectionError(f"cannot connect to {self.target.masked}: {_driver_message(exc)}") from exc
        if self.dialect.name == "sqlserver":
            conn.add_output_converter(SQL_SS_TIMESTAMPOFFSET, read_datetimeoffset)
        if self.dialect.binds_text_as_utf8:
            conn.setencoding(encoding="utf-8")
        setup = self.dialect.session_setup()
        if self.statement_timeout is not None:
            setup += self.dialect.statement_timeout(self.statement_timeout)
        for statement in setup:
            conn.execute(statement).close()
        return conn

    def _run(
        self,
        operation: str,
        key: str | None,
        work: Callable[Concatenate[pyodbc.Cursor, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Runs ``work(cursor, *args)`` on a pooled cursor; driver errors become CacheErrors, password masked."""
        pool = self._pool
        try:
            cursor = pool.acquire()
        except pyodbc.Error as exc:
            raise _wrap(exc, _what(operation, key), self.target) from exc
        try:
            result = work(cursor, *args, **kwargs)
        except pyodbc.Error as exc:
            pool.discard(cursor)
            raise _wrap(exc, _what(operation, key), self.target) from exc
        except BaseException:
            pool.discard(cursor)
            raise
        pool.release(cursor)
        return result

    def _in_thread(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))

    # -- primitives --------------------------------------------------------------------------------
    def _get(self, key: str) -> bytes | None:
        # _run's steps written out: a read is the hottest call, and on SQLite, which answers it in about 10 us, the
        # generic call was a sixth of the Python the read adds to its statement.
        now_us = self._now_micros()
        pool = self._pool
        try:
            cursor = pool.acquire()
        except pyodbc.Error as exc:
            raise _wrap(exc, _what("get", key), self.target) from exc
        try:
            value = self._read(cursor, key, now_us, True)
        except pyodbc.Error as exc:
            pool.discard(cursor)
            raise _wrap(exc, _what("get", key), self.target) from exc
        except BaseException:
            pool.discard(cursor)
            raise
        pool.release(cursor)
        self._maybe_sweep(now_us)
        return value

    def _refresh(self, key: str) -> None:
        now_us = self._now_micros()
        self._run("refresh", key, self._read, key, now_us, False)
        self._maybe_sweep(now_us)

    def _read(self, cursor: pyodbc.Cursor, key: str, now_us: int, with_value: bool) -> bytes | None:
        """Reads the row and slides it, in whole microseconds since the epoch (see Dialect.epoch_micros).

        Expiry is compared here, with this client's clock, as .NET does with the "now" it sends; the row
        is not filtered in SQL, which would cost a parameter and a conversion on every read."""
        row = cursor.execute(self._sql_select if with_value else self._sql_select_expiry, key).fetchone()
        if row is None:
            return None
        expires, sliding, absolute = self.dialect.read_expiry(row)
        if expires is None:
            return None
        if absolute is not None and absolute < expires:
            # .NET writes ExpiresAtTime = now + sliding without capping it, and caps it when it reads.
            expires = absolute
        if expires < now_us:
            return None
        if sliding is not None:
            new_expiry = now_us + sliding * 1_000_000
            if absolute is not None and absolute < new_expiry:
                new_expiry = absolute
            # A read (not a refresh) writes only a slide worth writing: see the class docstring.
            if new_expiry - expires > (sliding * self._slide_margin_us if with_value else 0):
                param = self.dialect.time_param(from_epoch_micros(new_expiry))
                cursor.execute(self._sql_slide, param, key, param)
                self.slide_writes += 1
        return bytes(row[0]) if with_value else None

    def _row(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> tuple[object, ...]:
        """The parameters of a row: id, value, expires at, sliding seconds, absolute expiration."""
        expires_at = expiry.expires_at(now)
        if expires_at is None:  # unreachable: empty options get the default sliding window
            raise CacheError(f"set of {key!r}: a SQL cache entry needs an absolute or a sliding expiration")
        sliding = None if expiry.sliding is None else whole_seconds(expiry.sliding)
        absolute = None if expiry.absolute is None else self.dialect.time_param(expiry.absolute)
        return (key, value, self.dialect.time_param(expires_at), sliding, absolute)

    def _set(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        self._run("set", key, _execute, self._sql_upsert, *self._row(key, value, expiry, now))
        self._maybe_sweep(epoch_micros(now))

    def _add(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool:
        """The insert that a row of the key stops; if one stopped it and has expired (it counts as no entry),
        that row is deleted and the insert tried once more. Each statement is atomic on its own: if another
        add slips in between, its row stops ours. A statement the database chose as a deadlock victim is
        run again, as the database asks (MariaDB's gap locks make that possible under contention)."""
        row = self._row(key, value, expiry, now)
        now_param = self.dialect.time_param(now)

        def add(cursor: pyodbc.Cursor) -> bool:
            for attempt in range(1, CONFLICT_RETRIES + 1):
                try:
                    if _execute(cursor, self._sql_insert_if_absent, *row) == 1:
                        return True
                    if _execute(cursor, self._sql_delete_if_expired, key, now_param) == 0:
                        return False  # a live entry
                    return _execute(cursor, self._sql_insert_if_absent, *row) == 1
                except pyodbc.Error as exc:
                    if attempt == CONFLICT_RETRIES or not _is_transaction_conflict(exc):
                        raise
            raise AssertionError("unreachable")

        added = self._run("add", key, add)
        self._maybe_sweep(epoch_micros(now))
        return added

    def _remove(self, key: str) -> None:
        self._run("remove", key, _execute, self._sql_delete, key)
        self._maybe_sweep(self._now_micros())

    async def _aget(self, key: str) -> bytes | None:
        return await self._in_thread(self._get, key)

    async def _aset(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> None:
        await self._in_thread(self._set, key, value, expiry, now)

    async def _aadd(self, key: str, value: bytes, expiry: Expiry, now: datetime) -> bool:
        return await self._in_thread(self._add, key, value, expiry, now)

    async def _arefresh(self, key: str) -> None:
        await self._in_thread(self._refresh, key)

    async def _aremove(self, key: str) -> None:
        await self._in_thread(self._remove, key)

    # -- expired rows ------------------------------------------------------------------------------
    def delete_expired(self) -> int:
        """Deletes every expired row, one bounded batch per statement; returns how many went."""
        now_param = self.dialect.time_param(self._clock())
        deleted = 0
        while True:
            count = self._run("delete of expired rows", None, _execute, self._sql_sweep, now_param)
            deleted += max(count, 0)
            if count < self.sweep_batch_size:
                return deleted

    async def adelete_expired(self) -> int:
        return await self._in_thread(self.delete_expired)

    def _maybe_sweep(self, now_us: int) -> None:
        """Starts a background sweep once the interval has passed since the last one, as .NET does."""
        if now_us - self._last_sweep_us < self._sweep_interval_us:
            return
        with self._sweep_lock:
            if now_us - self._last_sweep_us < self._sweep_interval_us:
                return
            self._last_sweep_us = now_us
            future = self._executor.submit(self.delete_expired)
            self._sweeps.add(future)
            future.add_done_callback(self._sweep_done)

    def _sweep_done(self, future: Future[int]) -> None:
        self._sweeps.discard(future)
        exc = future.exception()
        if exc is not None:
            log.warning("sweep of expired rows in %s failed: %s", self.target.table, exc)

    # -- table management --------------------------------------------------------------------------
    def create_table(self, *, if_not_exists: bool = True) -> None:
        """Creates the table and its index, as ``farm sql-cache create`` does."""
        self._run_all("create table", self.dialect.create_table(*self._where, if_not_exists=if_not_exists))

    def drop_table(self, *, if_exists: bool = True) -> None:
        """Drops the table and, if there is one, the table of its write locks (farm.cache.coordination)."""
        statements = self.dialect.drop_table(*self._where, if_exists=if_exists)
        fences = f"{self.target.table}{FENCES_SUFFIX}"
        if len(fences) <= self.dialect.max_identifier_length:
            statements += self.dialect.drop_table(self.target.schema, fences, if_exists=True)
        self._run_all("drop table", statements)

    @property
    def _where(self) -> tuple[str | None, str]:
        return self.target.schema, self.target.table

    def _run_all(self, operation: str, statements: list[str]) -> None:
        def run(cursor: pyodbc.Cursor) -> None:
            for statement in statements:
                cursor.execute(statement)

        self._run(operation, None, run)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._pool.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def awarm_up(self) -> None:
        """Every pooled connection opened now: an ODBC connection takes several round trips to set up, which a
        node's first requests after a restart would otherwise pay inside their deadlines."""
        try:
            await self._in_thread(self._pool.fill)
        except pyodbc.Error as exc:
            raise _wrap(exc, "opening the pool's connections", self.target) from exc


def _micros_clock(clock: Clock) -> Callable[[], int]:
    """``clock`` as epoch microseconds: the system clock's without making a datetime (a read's time is mostly
    spent on its statement, and what Python adds to it counts)."""
    if clock is system_clock:
        return lambda: time.time_ns() // 1000
    return lambda: epoch_micros(clock())


def whole_seconds(sliding: timedelta) -> int:
    """The sliding window as .NET stores it: whole seconds, truncated. A window under a second would be stored as
    0 and expire at the first read, so it is refused instead."""
    seconds = int(sliding.total_seconds())
    if seconds < 1:
        raise CacheConfigError(
            f"sliding_expiration={sliding!r}: the SQL cache stores sliding windows in whole seconds "
            "(SlidingExpirationInSeconds, truncated as .NET does): use at least 1 second"
        )
    return seconds


def _is_transaction_conflict(exc: pyodbc.Error) -> bool:
    """SQLSTATE class 40: a deadlock or serialisation failure; the statement was rolled back and may be rerun."""
    return bool(exc.args) and str(exc.args[0]).startswith("40")


def _execute(cursor: pyodbc.Cursor, sql: str, *params: object) -> int:
    """Runs one statement; returns the driver's count of rows it changed."""
    return int(cursor.execute(sql, *params).rowcount)


def _what(operation: str, key: str | None) -> str:
    return f"sql {operation}" + (f" of {key!r}" if key is not None else "")


def _driver_message(exc: pyodbc.Error) -> str:
    return str(exc.args[1] if len(exc.args) > 1 else exc)


def _is_missing_table(exc: pyodbc.Error) -> bool:
    state = str(exc.args[0]) if exc.args else ""
    return state in _MISSING_TABLE_STATES or "no such table" in _driver_message(exc).lower()


def _wrap(exc: pyodbc.Error, what: str, target: SqlTarget) -> CacheError:
    state = str(exc.args[0]) if exc.args else ""
    message = mask_secrets(_driver_message(exc))
    if _is_missing_table(exc):
        return CacheError(
            f"{what} failed: table {target.table!r} does not exist in {target.masked}; "
            "create it with `farm sql-cache create CONNECTION SCHEMA TABLE`"
        )
    if state.startswith(_CONNECTION_STATES_PREFIX) or isinstance(exc, pyodbc.OperationalError):
        return CacheConnectionError(f"{what} failed: {target.masked}: {message}")
    return CacheError(f"{what} failed on {target.masked}: {message}")
