"""A small pool of pyodbc cursors: pyodbc connections must not be used by two threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress

import pyodbc

from farm.cache.errors import CacheConnectionError


class ConnectionPool:
    """Hands out at most ``size`` cursors, each on a connection of its own.

    A cursor is kept with its connection and reused, because pyodbc prepares a statement once per cursor:
    a new cursor per operation would parse the same SQL again every time. Taking and returning an idle
    cursor is one atomic list operation; the lock is only taken to open a connection or to wait for one.
    """

    def __init__(self, connect: Callable[[], pyodbc.Connection], size: int, wait: float | None = None) -> None:
        """``wait``: seconds a caller may wait for a free connection before CacheConnectionError (None: no limit).
        A caller whose own deadline has passed must not start its statement late."""
        if size < 1:
            raise ValueError(f"pool size={size}: must be at least 1")
        if wait is not None and wait <= 0:
            raise ValueError(f"pool wait={wait!r}: must be a positive number of seconds")
        self._wait = wait
        self._connect = connect
        self._size = size
        self._idle: list[pyodbc.Cursor] = []
        self._opened = 0
        self._waiting = 0
        self._changed = threading.Condition()
        self._closed = False

    def acquire(self) -> pyodbc.Cursor:
        try:
            return self._idle.pop()
        except IndexError:
            pass
        deadline = None if self._wait is None else time.monotonic() + self._wait
        with self._changed:
            self._waiting += 1
            try:
                while not self._idle and self._opened >= self._size:
                    left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                    if left <= 0:
                        raise CacheConnectionError(f"no free connection in {self._wait:.3f} s ({self._size} in use)")
                    self._changed.wait(left)
                if self._idle:
                    return self._idle.pop()
                self._opened += 1
            finally:
                self._waiting -= 1
        try:
            return self._connect().cursor()
        except BaseException:
            self._forget()
            raise

    def fill(self) -> int:
        """Opens every connection the pool may hold (each takes a round trip or more to set up): a server that
        starts serving afterwards pays no connection setup inside its requests' deadlines. Returns how many
        connections are open."""
        opened: list[pyodbc.Cursor] = []
        try:
            for _ in range(self._size - self._opened + len(self._idle)):
                opened.append(self.acquire())
        finally:
            for cursor in opened:
                self.release(cursor)
        return self._opened

    def release(self, cursor: pyodbc.Cursor) -> None:
        if self._closed:
            self.discard(cursor)
            return
        self._idle.append(cursor)
        if self._waiting:
            with self._changed:
                self._changed.notify()

    def discard(self, cursor: pyodbc.Cursor) -> None:
        """Closes a cursor whose connection may be broken (after a driver error or an interruption)."""
        with suppress(pyodbc.Error):
            cursor.connection.close()
        self._forget()

    def _forget(self) -> None:
        with self._changed:
            self._opened -= 1
            self._changed.notify()

    def close(self) -> None:
        self._closed = True
        while self._idle:
            try:
                cursor = self._idle.pop()
            except IndexError:
                break
            self.discard(cursor)
