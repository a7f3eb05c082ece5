"""Keep-alive connections to the backends: one HTTP/1.1 response parser each, and an idle pool per backend."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import httptools

from proxy.wire import ResponseHead

IDLE_TIMEOUT_S = 30.0
"""An idle connection is closed after this: well inside a backend's own keep-alive timeout (aiohttp's is 75 s),
so that the backend never closes one just as a request is sent on it."""
MAX_IDLE_PER_ORIGIN = 256


class BackendClosed(ConnectionError):
    """The backend closed the connection before its answer was whole."""


class BadResponse(ConnectionError):
    """The backend's answer is not HTTP/1.1 the parser accepts."""


class ResponseListener(Protocol):
    """What an upstream connection tells the exchange it serves."""

    def on_head(self, status: int, reason: bytes, head: ResponseHead) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_complete(self) -> None: ...
    def on_lost(self, exc: Exception, answered: bool) -> None: ...
    def on_upstream_writable(self, writable: bool) -> None: ...


class Origin:
    """Where a backend listens: host and port, or a Unix socket (the admin API). One object per backend URL
    (``UpstreamPool.origin``), so that it keys the idle pool by identity."""

    __slots__ = ("host", "host_header", "port", "tls", "unix_path")

    def __init__(self, host: str, port: int, tls: bool = False, unix_path: str | None = None) -> None:
        self.host, self.port, self.tls, self.unix_path = host, port, tls, unix_path
        bracketed = f"[{host}]" if ":" in host else host
        if unix_path is not None:
            self.host_header = b"localhost"
        else:
            self.host_header = (bracketed if port == (443 if tls else 80) else f"{bracketed}:{port}").encode()

    @classmethod
    def from_url(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"backend url {url!r} is not an http(s) URL with a host")
        tls = parts.scheme == "https"
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls)


class UpstreamConnection(asyncio.Protocol):
    """One connection to a backend. Serves one exchange at a time; parser callbacks are passed on to it, and
    the end of a message only once the parser has returned, so that a connection is never handed to the next
    exchange from inside its own parser."""

    def __init__(self, pool: UpstreamPool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.listener: ResponseListener | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reused = False
        self.head_only = False
        self.closed = False
        self.reusable = True
        self.idle_since = 0.0
        self._answered = False
        self._interim = False
        self._complete = False
        self._stray = False
        self._reason = b""
        self._head = ResponseHead()
        self._reading_paused = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.listener is None:
            self.abort()  # bytes while idle: nobody asked for them, so this connection is out of step
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            raise  # a fault of ours, not the backend's: logged by the loop, which closes the connection
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"the backend's answer is not valid HTTP/1.1: {exc}"))
            return
        if self._complete:
            self._complete = False
            if self.head_only:
                # The parser expects the body its Content-Length announced: a HEAD answer has none.
                self.parser = httptools.HttpResponseParser(self)
            listener, self.listener = self.listener, None
            if listener is not None:
                listener.on_complete()

    def eof_received(self) -> bool:
        self.reusable = False  # closing: never handed out again, even before connection_lost says so
        self.pool.forget(self)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        reason = f"the backend closed the connection ({exc})" if exc else "the backend closed the connection"
        self._fail(BackendClosed(reason))

    def pause_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_writable(False)

    def resume_writing(self) -> None:
        if self.listener is not None:
            self.listener.on_upstream_writable(True)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        if self._complete:
            self._stray = True  # a second answer to one request: this connection is out of step
            self.reusable = False
        self._reason = b""
        self._head = ResponseHead()

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head.add(name, value)

    def on_headers_complete(self) -> None:
        if self._stray:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self._interim = True  # 100 Continue and the like: the final answer follows
            return
        self._answered = True
        if not self.parser.should_keep_alive():
            self.reusable = False
        if self.listener is not None:
            self.listener.on_head(status, self._reason, self._head)
        if self.head_only:
            self._complete = True

    def on_body(self, data: bytes) -> None:
        if self._stray:
            return
        if self.head_only:
            self.reusable = False  # a body after a HEAD answer
        elif self.listener is not None:
            self.listener.on_body(data)

    def on_message_complete(self) -> None:
        if self._stray:
            return
        if self._interim:
            self._interim = False
        else:
            self._complete = True

    # -- used by the exchange
    def send(self, listener: ResponseListener, head: bytes, *, head_only: bool) -> None:
        assert self.transport is not None
        self.listener = listener
        self.head_only = head_only
        self._answered = False
        self.transport.write(head)

    def write(self, data: bytes | list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            if isinstance(data, list):
                self.transport.writelines(data)
            else:
                self.transport.write(data)

    def pause_reading(self, paused: bool) -> None:
        if self.transport is None or self.closed or paused is self._reading_paused:
            return
        self._reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def abort(self) -> None:
        """Closes at once: what is in flight on this connection is abandoned, and it is never handed out again."""
        self.listener = None
        self.reusable = False
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
            if self.transport is not None:
                self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        listener, self.listener = self.listener, None
        self.abort()
        if listener is not None:
            listener.on_lost(exc, self._answered)


class UpstreamPool:
    """Idle keep-alive connections per backend, newest first; new ones are opened as needed, without limit."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[UpstreamConnection]] = {}
        self._origins: dict[str, Origin] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._tls: ssl.SSLContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def origin(self, url: str) -> Origin:
        try:
            return self._origins[url]
        except KeyError:
            found = self._origins[url] = Origin.from_url(url)
            return found

    def idle(self, origin: Origin) -> UpstreamConnection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()
            transport = connection.transport
            if not connection.closed and connection.reusable and transport is not None and not transport.is_closing():
                connection.reused = True
                return connection
        return None

    async def connect(self, origin: Origin) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        factory: Callable[[], UpstreamConnection] = lambda: UpstreamConnection(self, origin)  # noqa: E731
        if origin.unix_path is not None:
            _, connection = await loop.create_unix_connection(factory, origin.unix_path)
        elif origin.tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            _, connection = await loop.create_connection(factory, origin.host, origin.port, ssl=self._tls)
        else:
            _, connection = await loop.create_connection(factory, origin.host, origin.port)
        return connection

    def release(self, connection: UpstreamConnection) -> None:
        """Back to the pool if it is in step (its last answer read whole, its request sent whole), else closed."""
        connection.listener = None
        if connection.closed:
            return
        connections = self._idle.setdefault(connection.origin, [])
        if not connection.reusable or len(connections) >= MAX_IDLE_PER_ORIGIN:
            connection.abort()
            return
        connection.pause_reading(False)  # an idle connection must see the backend close it
        loop = self._loop = self._loop or asyncio.get_running_loop()
        connection.idle_since = loop.time()
        connections.append(connection)
        if self._sweeper is None:
            self._sweeper = loop.call_later(IDLE_TIMEOUT_S / 2, self._sweep)

    def forget(self, connection: UpstreamConnection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._idle[connection.origin].remove(connection)

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        limit = loop.time() - IDLE_TIMEOUT_S
        for connections in self._idle.values():
            for connection in [c for c in connections if c.idle_since < limit]:
                connection.abort()
        if any(self._idle.values()):
            self._sweeper = loop.call_later(IDLE_TIMEOUT_S / 2, self._sweep)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connections in self._idle.values():
            for connection in list(connections):
                connection.abort()
        self._idle.clear()
