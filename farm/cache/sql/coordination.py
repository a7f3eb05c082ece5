"""Write locks and guarded writes on a SQL cache, in a table beside the cache table.

``<table>_Fences`` holds per key the last fencing token, the lock's owner and when its lease ends, all as
integers (epoch microseconds on the database's clock, read when each statement runs). The cache table itself
is untouched: entries keep .NET's columns. A guarded write is one transaction that first updates the key's
fence row under its conditions (holder and fence, or fence unchanged and no lock; deadline not passed) and
then writes the entry: the row lock it takes orders it before any later acquisition of that key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pyodbc

from farm.cache.coordination import LateCallError, Lock, Observation, micros
from farm.cache.errors import CacheConfigError
from farm.cache.options import EntryOptions
from farm.cache.sql.cache import (
    CONFLICT_RETRIES,
    FENCES_SUFFIX,
    SqlCache,
    _execute,
    _is_missing_table,
    _is_transaction_conflict,
)

T = TypeVar("T")


class SqlCoordination:
    """The ``Coordination`` primitives of a SqlCache (PostgreSQL, MariaDB, SQLite)."""

    shared = True

    def __init__(self, cache: SqlCache) -> None:
        dialect = cache.dialect
        if dialect.clock_micros is None:
            raise CacheConfigError(
                f"write locks are not available on {dialect.name}: use PostgreSQL, MariaDB or SQLite"
            )
        self.cache = cache
        q, now = dialect.quote, dialect.clock_micros
        table = dialect.check_identifier("table", cache.target.table + FENCES_SUFFIX)
        ref = dialect.table_ref(cache.target.schema, table)
        i, f, o, lease, t = q("Id"), q("Fence"), q("Owner"), q("LeaseUntil"), q("Touches")
        free = f"({o} IS NULL OR {lease} <= {now})"
        self._create = (
            f"CREATE TABLE IF NOT EXISTS {ref} ({i} {dialect.fence_key_type}, {f} bigint NOT NULL, "
            f"{o} varchar(64) NULL, {lease} bigint NOT NULL, {t} bigint NOT NULL){dialect.table_suffix}"
        )
        # A new row's fence is minus the time it was made, not 0: a table that was dropped and made again (a cache
        # server that starts empty) never shows a key a fence that a reader saw before, as Redis's epoch does.
        self._ensure = dialect.insert_ignore(ref, f"{i}, {f}, {o}, {lease}, {t}", f"?, -{now}, NULL, 0, 0")
        self._observe = f"SELECT {f}, CASE WHEN {free} THEN 0 ELSE 1 END FROM {ref} WHERE {i} = ?"
        self._acquire = (
            f"UPDATE {ref} SET {f} = CASE WHEN {f} + 1 > {now} THEN {f} + 1 ELSE {now} END, {o} = ?, "
            f"{lease} = {now} + ?, {t} = {t} + 1 WHERE {i} = ? AND {free} AND {now} <= ?"
        )
        self._fence_of = f"SELECT {f} FROM {ref} WHERE {i} = ? AND {o} = ?"
        self._held_by = f"SELECT {f} FROM {ref} WHERE {i} = ? AND {o} = ? AND {lease} > {now}"
        # Compare-and-delete of the lock; the row stays, for its fence.
        self._release = f"UPDATE {ref} SET {o} = NULL, {lease} = 0, {t} = {t} + 1 WHERE {i} = ? AND {o} = ?"
        self._holder_guard = (
            f"UPDATE {ref} SET {t} = {t} + 1 WHERE {i} = ? AND {o} = ? AND {f} = ? AND {lease} > {now} AND {now} <= ?"
        )
        self._unchanged_guard = f"UPDATE {ref} SET {t} = {t} + 1 WHERE {i} = ? AND {f} = ? AND {free} AND {now} <= ?"
        self._created = False
        # Two first calls at once would both create the table: PostgreSQL can fail one of two concurrent
        # CREATE TABLE IF NOT EXISTS.
        self._creating = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------------
    def _run(self, operation: str, key: str, work: Callable[[pyodbc.Cursor], T]) -> T:
        def with_table(cursor: pyodbc.Cursor) -> T:
            if not self._created:
                self._create_table(cursor)
            try:
                return work(cursor)
            except pyodbc.Error as exc:
                # Dropped since (a cache server that starts empty drops both tables): made again, and the call
                # run once more. Each call touches this table first, so the failed run changed nothing.
                if not _is_missing_table(exc):
                    raise
                self._created = False
                self._create_table(cursor)
                return work(cursor)

        return self.cache._run(operation, key, with_table)

    def _create_table(self, cursor: pyodbc.Cursor) -> None:
        with self._creating:
            if not self._created:
                cursor.execute(self._create)
                self._created = True

    async def _in_thread(self, operation: str, key: str, work: Callable[[pyodbc.Cursor], T]) -> T:
        return await self.cache._in_thread(self._run, operation, key, work)

    @staticmethod
    def _transaction(cursor: pyodbc.Cursor, work: Callable[[], bool]) -> bool:
        """``work`` in one transaction, run again when the database rolled it back as a deadlock victim."""
        connection = cursor.connection
        for attempt in range(1, CONFLICT_RETRIES + 1):
            connection.autocommit = False
            try:
                done = work()
                connection.commit()
                return done
            except pyodbc.Error as exc:
                connection.rollback()
                if attempt == CONFLICT_RETRIES or not _is_transaction_conflict(exc):
                    raise
            finally:
                connection.autocommit = True
        raise AssertionError("unreachable")

    def _late(self, operation: str, key: str, deadline: float) -> None:
        """After a refused guard: a call the database ran after its deadline raises, as on the other backends."""
        if time.time() > deadline:
            raise LateCallError(f"sql {operation} of {key!r} ran after its deadline: not applied")

    # -- the primitives ----------------------------------------------------------------------------
    async def aget_observing(self, key: str) -> tuple[bytes | None, Observation | None]:
        value = await self.cache.aget(key)
        if value is not None:
            return value, None

        def observe(cursor: pyodbc.Cursor) -> Observation:
            row = cursor.execute(self._observe, key).fetchone()
            if row is None:  # observed with a fence of its own, which the add finds again only in the same table
                _execute(cursor, self._ensure, key)
                row = cursor.execute(self._observe, key).fetchone()
            return Observation(0, False) if row is None else Observation(int(row[0]), bool(row[1]))

        return None, await self._in_thread("observe", key, observe)

    async def aacquire(self, key: str, owner: str, lease: timedelta, deadline: float) -> Lock | None:
        lease_us = int(lease.total_seconds() * 1_000_000)

        def acquire(cursor: pyodbc.Cursor) -> Lock | None:
            _execute(cursor, self._ensure, key)
            if _execute(cursor, self._acquire, owner, lease_us, key, micros(deadline)) != 1:
                self._late("lock", key, deadline)
                held = cursor.execute(self._held_by, key, owner).fetchone()  # sent again: the owner gets its lock
                return None if held is None else Lock(key, owner, int(held[0]))
            row = cursor.execute(self._fence_of, key, owner).fetchone()
            return None if row is None else Lock(key, owner, int(row[0]))

        return await self._in_thread("lock", key, acquire)

    async def arelease(self, key: str, owner: str) -> bool:
        return await self._in_thread("unlock", key, lambda cursor: _execute(cursor, self._release, key, owner) == 1)

    async def aset_if_holder(self, lock: Lock, value: bytes, options: EntryOptions | None, deadline: float) -> bool:
        cache = self.cache
        key, value, expiry, now = cache._prepare_set(lock.key, value, options)
        row = cache._row(key, value, expiry, now)

        def set_if_holder(cursor: pyodbc.Cursor) -> bool:
            def work() -> bool:
                if _execute(cursor, self._holder_guard, key, lock.owner, lock.fence, micros(deadline)) != 1:
                    return False
                _execute(cursor, cache._sql_upsert, *row)
                return True

            done = self._transaction(cursor, work)
            if not done:
                self._late("set", key, deadline)
            return done

        return await self._in_thread("set", key, set_if_holder)

    async def aadd_if_unchanged(
        self, key: str, value: bytes, options: EntryOptions | None, seen: Observation, deadline: float
    ) -> bool:
        if seen.locked:
            return False
        cache = self.cache
        key, value, expiry, now = cache._prepare_set(key, value, options)
        row = cache._row(key, value, expiry, now)
        now_param = cache.dialect.time_param(now)

        def add(cursor: pyodbc.Cursor) -> bool:
            _execute(cursor, self._ensure, key)

            def work() -> bool:
                if _execute(cursor, self._unchanged_guard, key, seen.fence, micros(deadline)) != 1:
                    return False
                if _execute(cursor, cache._sql_insert_if_absent, *row) == 1:
                    return True
                if _execute(cursor, cache._sql_delete_if_expired, key, now_param) == 0:
                    return False  # a live entry
                return _execute(cursor, cache._sql_insert_if_absent, *row) == 1

            done = self._transaction(cursor, work)
            if not done:
                self._late("add", key, deadline)
            return done

        return await self._in_thread("add", key, add)

    async def aremove(self, key: str) -> None:
        await self.cache.aremove(key)
