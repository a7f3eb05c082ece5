"""The clients' side: HTTP/1.1 connections parsed by llhttp (httptools), requests answered in order.

A connection parses whatever arrives (pipelined requests queue up) and forwards one request at a time. It
stops reading while a request's body waits for a backend beyond ``BODY_BUFFER``, while a backend cannot take
the body as fast as it comes, or while too many requests are queued; and the upstream connection stops reading
while the client cannot take the answer as fast as it comes. So memory stays bounded with slow clients, slow
backends and large bodies both ways. A connection with no request under way is closed after the idle
timeout, and one whose request header takes longer than the header timeout gets a 408: clients that hold
connections without using them cannot pile up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import httptools

from proxy.request import BadRequest, IncomingRequest
from proxy.trust import TrustedProxies
from proxy.wire import RequestHead, simple_response

if TYPE_CHECKING:
    from proxy.exchange import Exchange
    from proxy.forward import Forwarder

BODY_BUFFER = 256 * 1024
"""Bytes of request body held while no backend takes them yet."""
MAX_QUEUED = 32
"""Pipelined requests parsed ahead of the one being forwarded."""
IDLE_TIMEOUT_S = 20.0
"""A client connection with no request under way is closed after this long: longer than aiohttp's client keeps
an idle connection (15 s), so that such a client closes first, and never sends on one the proxy is closing."""
HEADER_TIMEOUT_S = 10.0
"""A request header must arrive whole within this long of its first byte, or the client gets a 408: a client
sending a byte now and then must not hold a connection for ever."""


class ClientConnection(asyncio.Protocol):
    """One client's connection: its parser, its queue of requests, and the exchange under way."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.forwarder = server.forwarder
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer = b""
        self.trusted = False
        """The peer is a proxy in front of this one: its X-Forwarded-* headers are believed."""
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[IncomingRequest] = deque()
        self.exchange: Exchange | None = None
        self.closed = False
        self.closing = False
        self.shutting_down = False
        self.writing_paused = False
        self.upstream_full = False
        self.last_active = 0.0
        """When the connection was made or its last answer was written: the idle timeout counts from here."""
        self.head_since: float | None = None
        """When the first byte of a request header arrived, until the header is whole."""
        self._reading_paused = False
        self._dispatching = False
        self._parsing: IncomingRequest | None = None
        self._url = b""
        self._head = RequestHead()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        self.peer = address.encode()
        self.trusted = address in self.server.trusted
        self.last_active = self.loop.time()
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # An Upgrade (or CONNECT) request: forwarded as a plain request, its Upgrade header dropped as
            # hop-by-hop; whatever follows on this connection is no longer HTTP, so it closes after the answer.
            if self.queue:
                self.queue[-1].keep_alive = False
            self._parsing = None
            self._stop_reading()
        except httptools.HttpParserCallbackError:
            raise  # a fault of ours, not the client's: logged by the loop, which closes the connection
        except httptools.HttpParserError as exc:
            self._stop_reading()
            self.queue.append(BadRequest(f"bad request: {exc}\n"))
        self.dispatch()
        self.update_reading()

    def eof_received(self) -> bool:
        return False  # a client that stops sending is gone, as nginx and aiohttp take it: what it asked is dropped

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.closing = True
        self.server.connections.discard(self)
        self.queue.clear()
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.client_lost()
        self.server.connection_closed()

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.exchange is not None:
            self.exchange.on_client_writable(False)

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.exchange is not None:
            self.exchange.on_client_writable(True)
        self.dispatch()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._head = RequestHead()
        self.head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head.add(name, value)

    def on_headers_complete(self) -> None:
        self.head_since = None
        parser = self.parser
        request = IncomingRequest(
            parser.get_method(), self._url, self._head, parser.get_http_version(), parser.should_keep_alive()
        )
        self._parsing = request
        self.queue.append(request)

    def on_body(self, data: bytes) -> None:
        if self._parsing is not None:
            self._parsing.feed(data)

    def on_message_complete(self) -> None:
        if self._parsing is not None:
            self._parsing.end()
            self._parsing = None

    # -- used by the exchange
    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def writelines(self, data: list[bytes]) -> None:
        if not self.closed and self.transport is not None:
            self.transport.writelines(data)

    def abort(self) -> None:
        """Cuts the connection: an answer already under way cannot be finished."""
        self.closing = True
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def finished(self, request: IncomingRequest, *, close: bool) -> None:
        """The exchange of ``request`` is over: its answer was written whole (or it was cut)."""
        self.exchange = None
        self.upstream_full = False
        if self.queue and self.queue[0] is request:
            self.queue.popleft()
        self.last_active = self.loop.time()
        if close or not request.body_done or not request.keep_alive:
            self.close()
            return
        if not self.queue and (self.closing or self.shutting_down):
            self.close()
            return
        self.dispatch()
        self.update_reading()

    def close(self) -> None:
        """Closes once what was written is sent; requests queued behind get no answer."""
        self.closing = True
        self.queue.clear()
        self._stop_reading()
        if self.transport is not None and not self.closed:
            self.transport.close()

    @property
    def idle(self) -> bool:
        return self.exchange is None and not self.queue and self._parsing is None

    def check_timeouts(self, now: float, idle_timeout: float, header_timeout: float) -> None:
        """Closes the connection when it has waited too long for a request header (a 408), or idled too long."""
        if self.closing or not self.idle:
            return  # a request under way: the backend's timeout watches it
        if self.head_since is not None:
            if now - self.head_since > header_timeout:
                self.write(simple_response(408, "the request header did not arrive in time\n", close=True))
                self.close()
        elif now - self.last_active > idle_timeout:
            self.close()

    def dispatch(self) -> None:
        """Forwards the next request unless one is under way; a loop, not a recursion, since an exchange may end
        at once (no backend) and start the next."""
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self.exchange is None and self.queue and not self.writing_paused and not self.closed:
                request = self.queue[0]
                if isinstance(request, BadRequest):
                    self.write(simple_response(400, request.text, close=True))
                    self.queue.clear()
                    self.close()
                    return
                self.exchange = self.forwarder.exchange(self, request)
                self.exchange.start()
        finally:
            self._dispatching = False

    def update_reading(self) -> None:
        if self.transport is None or self.closed:
            return
        pending = self._parsing.pending_size if self._parsing is not None else 0
        pause = self.closing or self.upstream_full or pending > BODY_BUFFER or len(self.queue) > MAX_QUEUED
        if pause is not self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _stop_reading(self) -> None:
        self.closing = True
        if self.transport is not None and not self.closed and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()


class ProxyServer:
    """Listens for clients and keeps their connections, so that a shutdown can let requests in flight finish."""

    def __init__(
        self,
        forwarder: Forwarder,
        loop: asyncio.AbstractEventLoop,
        *,
        trusted: TrustedProxies | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        header_timeout: float = HEADER_TIMEOUT_S,
    ) -> None:
        self.forwarder = forwarder
        self.loop = loop
        self.trusted = trusted or TrustedProxies()
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self._tick = min(1.0, idle_timeout / 4, header_timeout / 4)
        """How often connections are looked at: a timeout fires up to this late, and costs no timer per
        connection."""
        self.connections: set[ClientConnection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._all_closed: asyncio.Event = asyncio.Event()

    async def start(self, host: str, port: int) -> int:
        factory: Callable[[], ClientConnection] = lambda: ClientConnection(self)  # noqa: E731
        self._server = await self.loop.create_server(factory, host, port, backlog=1024)
        self._sweeper = self.loop.call_later(self._tick, self._sweep)
        return int(self._server.sockets[0].getsockname()[1])

    def connection_closed(self) -> None:
        if not self.connections:
            self._all_closed.set()

    def _sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            connection.check_timeouts(now, self.idle_timeout, self.header_timeout)
        self._sweeper = self.loop.call_later(self._tick, self._sweep)

    async def shutdown(self, drain_seconds: float) -> None:
        """Stops listening, closes idle connections, lets the others finish their requests for up to
        ``drain_seconds``, then cuts them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.shutting_down = True
            if connection.idle:
                connection.close()
        if self.connections:
            self._all_closed.clear()
            try:
                await asyncio.wait_for(self._all_closed.wait(), drain_seconds)
            except TimeoutError:
                for connection in list(self.connections):
                    connection.abort()
        if self._server is not None:
            await self._server.wait_closed()
