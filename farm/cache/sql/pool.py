"""A small pool of pyodbc connections: pyodbc connections must not be shared by threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pyodbc


class ConnectionPool:
    """Hands out at most ``size`` connections; one that raised a driver error is closed, not reused."""

    def __init__(self, connect: Callable[[], pyodbc.Connection], size: int) -> None:
        if size < 1:
            raise ValueError(f"pool size={size}: must be at least 1")
        self._connect = connect
        self._idle: list[pyodbc.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[pyodbc.Connection]:
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            except BaseException:
                # After a driver error or an interruption the connection's state is unknown.
                _close_quietly(conn)
                raise
            with self._lock:
                if self._closed:
                    _close_quietly(conn)
                else:
                    self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: pyodbc.Connection) -> None:
    with suppress(pyodbc.Error):
        conn.close()
