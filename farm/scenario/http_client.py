"""The load generator's HTTP/1.1 client: keep-alive connections on asyncio protocols, answers parsed by llhttp
(httptools, as the proxy parses its backends' answers).

A load step spends its process's CPU on the client as much as on the farm: on a machine of two cores, every
microsecond the client spends per request is taken from the nodes it measures. aiohttp's client costs several
times what one request needs here (a fixed host, no cookies, redirects, compression or TLS), so the load
generator has this one: a request is one write, its answer one parse, and each connection is kept for the next.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

IDEMPOTENT_RETRIED = frozenset({b"GET", b"HEAD"})
"""Sent again, once, on a new connection when a kept connection turns out closed before any byte of the answer
(the server closed it while it was idle). A write is never sent twice: it may have been applied."""


class HttpClientError(ConnectionError):
    """The request got no whole answer: the connection was refused, lost or answered with something not HTTP."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    """By lower-case name; a repeated header keeps its last value."""
    body: bytes


class _Connection(asyncio.Protocol):
    """One kept connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Reply] | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.reusable = True
        self.deadline = 0.0
        """When the request in flight on it times out (the loop's clock)."""
        self.answering = False
        """Bytes of the answer have arrived (a request on a closed kept connection gets none)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            self.close()  # bytes nobody asked for: this connection is out of step
            return
        self.answering = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpClientError(f"the answer is not valid HTTP/1.1: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self.reusable = False
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(HttpClientError(f"the server closed the connection{f' ({exc})' if exc else ''}"))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.headers, self.body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and the like: the final answer follows
            return
        if not self.parser.should_keep_alive():
            self.reusable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(status, self.headers, b"".join(self.body)))

    # -- used by the client
    def send(self, request: bytes, waiter: asyncio.Future[Reply], deadline: float) -> None:
        assert self.transport is not None
        self.waiter, self.deadline, self.answering = waiter, deadline, False
        self.transport.write(request)

    def expire(self, now: float, timeout_s: float) -> None:
        if self.waiter is not None and self.deadline <= now:
            self._fail(TimeoutError(f"no whole answer in {timeout_s:g} s"))

    def _fail(self, exc: HttpClientError | TimeoutError) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


class HttpClient:
    """Requests to one ``http://host:port``, over as many kept connections as there are requests at once.

    Requests time out by a sweep over the connections a few times a timeout rather than by a timer each: a timer
    set and cancelled per request cost the load generator a sixth of its time per request."""

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{base_url!r}: the load generator speaks plain http://host:port only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc.encode()
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._sweep_every = min(1.0, timeout_s / 10)
        self._sweeper: asyncio.TimerHandle | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> Reply:
        """``path`` from the base URL's own path on; TimeoutError after ``timeout_s``, HttpClientError or OSError
        (refused) without a whole answer."""
        verb = method.encode()
        head = b"%s %s%s HTTP/1.1\r\nHost: %s\r\n" % (verb, self._prefix.encode(), path.encode(), self._host_header)
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        else:
            head += b"\r\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        if self._sweeper is None:
            self._sweeper = loop.call_at(loop.time() + self._sweep_every, self._sweep)
        connection = self._kept()
        if connection is not None:
            try:
                return await self._exchange(connection, head, deadline)
            except HttpClientError:
                if connection.answering or verb not in IDEMPOTENT_RETRIED:
                    raise
        async with asyncio.timeout_at(deadline):
            connection = await self._connect()
        return await self._exchange(connection, head, deadline)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for connection in self._open:
            connection.expire(now, self.timeout_s)
        self._sweeper = loop.call_at(now + self._sweep_every, self._sweep)

    async def _exchange(self, connection: _Connection, request: bytes, deadline: float) -> Reply:
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        connection.send(request, waiter, deadline)
        try:
            reply = await waiter
        except BaseException:  # lost, or cancelled by the timeout: what is in flight on it is abandoned
            connection.close()
            self._open.discard(connection)
            raise
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
            self._open.discard(connection)
        return reply

    def _kept(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable:
                return connection
            self._open.discard(connection)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        self._open.add(connection)
        return connection

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()
