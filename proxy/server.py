"""The clients' side: HTTP/1.1 connections parsed by llhttp (httptools), requests answered in order.

A connection parses whatever arrives (pipelined requests queue up) and forwards one request at a time. It
stops reading while a request's body waits for a backend beyond ``BODY_BUFFER``, while a backend cannot take
the body as fast as it comes, or while too many requests are queued; and the upstream connection stops reading
while the client cannot take the answer as fast as it comes. So memory stays bounded with slow clients, slow
backends and large bodies both ways. A connection with no request under way is closed after the idle
timeout, and one whose request header takes longer than the header timeout gets a 408: clients that hold
connections without using them cannot pile up.

A request's body is read up to ``request_buffer`` bytes (the whole body when it is that small) before a backend
is chosen, within the same deadline as the header, as nginx buffers bodies: a client sending its body a byte
now and then gets a 408 and never holds a backend's admission slot. The rest of a larger body streams, and a
client that sends none of it for the body timeout gets a 408 too; neither is charged to the backend. A request
line or head beyond ``MAX_URL`` / ``MAX_HEAD`` bytes is refused (414 / 431) as soon as the limit is passed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import httptools

from proxy.request import BadRequest, HeadRefused, IncomingRequest
from proxy.trust import TrustedProxies
from proxy.wire import CONTINUE, RequestHead, simple_response

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
"""A request header (and the buffered part of its body) must arrive whole within this long of its first byte, or
the client gets a 408: a client sending a byte now and then must not hold a connection for ever."""
BODY_TIMEOUT_S = 10.0
"""A streamed request body (beyond the buffered part) may pause this long at most, or the client gets a 408."""
REQUEST_BUFFER = 64 * 1024
"""Bytes of request body read before a backend is chosen (the whole body when it is no larger)."""
MAX_URL = 8 * 1024
"""The longest request target taken (nginx's large_client_header_buffers): longer is a 414."""
MAX_HEAD = 32 * 1024
"""The most bytes of request line and headers taken: more is a 431."""
FRAGMENT = "bad request: a #fragment in the request target (send the path and query)\n"
NO_HOST = "bad request: an HTTP/1.1 request needs a Host header (RFC 9112 3.2)\n"
"""Clients never send one; a server that reads it as part of the path would route it apart from the proxy."""


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
        """When the first byte of a request header arrived, until the header and the buffered part of the body
        are whole: the request is not forwarded before."""
        self.body_active = 0.0
        """When the request body being streamed last made progress: the body timeout counts from here."""
        self._reading_paused = False
        self._dispatching = False
        self._parsing: IncomingRequest | None = None
        self._in_head = self._ended = False
        self._head_size = self._head_bytes = 0
        self._url: list[bytes] = []
        self._url_size = 0
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
        in_head, self._ended = self._in_head, False
        try:
            self.parser.feed_data(data)
            if self._in_head and (in_head or not self._ended):
                # All of it is the head under way, which the parser holds until a header ends: a header that never
                # ends is counted here (a head that began after another request in the same data, from the next).
                self._head_bytes += len(data)
                if self._head_bytes > self.server.max_head:
                    raise HeadRefused(431, "the request header is too large\n")
        except httptools.HttpParserUpgrade:
            # An Upgrade (or CONNECT) request: forwarded as a plain request, its Upgrade header dropped as
            # hop-by-hop; whatever follows on this connection is no longer HTTP, so it closes after the answer.
            if self.queue:
                self.queue[-1].keep_alive = False
            self._parsing = None
            self.head_since = None
            self._stop_reading()
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, HeadRefused):
                raise  # a fault of ours, not the client's: logged by the loop, which closes the connection
            self._refuse(exc.__context__.text, exc.__context__.status)
        except HeadRefused as exc:
            self._refuse(exc.text, exc.status)
        except httptools.HttpParserError as exc:
            self._refuse(f"bad request: {exc}\n", 400)
        self.dispatch()
        self.update_reading()

    def _refuse(self, text: str, status: int) -> None:
        """Nothing more is read: the request being parsed is answered ``status`` in its turn."""
        self._stop_reading()
        parsing, exchange = self._parsing, self.exchange
        forwarded = exchange is not None and exchange.request is parsing
        if parsing is not None and not forwarded and self.queue and self.queue[-1] is parsing:
            self.queue.pop()  # not forwarded yet, and its body will never be whole
        self._parsing = None
        self.head_since = None
        self._in_head = False
        self.queue.append(BadRequest(text, status))

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
        self._url = []
        self._url_size = self._head_size = self._head_bytes = 0
        self._in_head = True
        self._head = RequestHead()
        self.head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._url_size += len(url)
        if self._url_size > self.server.max_url:
            raise HeadRefused(414, "the request target is too long\n")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size + self._url_size > self.server.max_head:
            raise HeadRefused(431, "the request header is too large\n")
        self._head.add(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        head = self._head
        version = parser.get_http_version()
        if head.problem is not None or b"#" in url or (head.client_host is None and version != "1.0"):
            # The head is whole but wrong: refused at once, and nothing after it (its body included) is read.
            raise HeadRefused(400, head.problem or (FRAGMENT if b"#" in url else NO_HOST))
        request = IncomingRequest(parser.get_method(), url, head, version, parser.should_keep_alive())
        self._parsing = request
        self.queue.append(request)
        if not request.has_body:
            self.head_since = None  # else the deadline runs on while the buffered part of the body arrives

    def on_body(self, data: bytes) -> None:
        request = self._parsing
        if request is not None:
            request.feed(data)
            if self.head_since is not None and request.pending_size >= self.server.request_buffer:
                self.head_since = None  # the buffered part is whole: a backend may be chosen
            self.body_active = self.loop.time()

    def on_message_complete(self) -> None:
        self.head_since = None
        self._ended = True
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

    def check_timeouts(self, now: float, server: ProxyServer) -> None:
        """Closes the connection when it has waited too long for a request (a 408), idled too long, or could not
        write the answers it has for the idle timeout; a streamed request body that stalls is the exchange's 408."""
        if self.closing:
            return
        exchange = self.exchange
        if exchange is not None:
            request = self._parsing
            if (
                request is not None
                and request.sink is exchange
                and not self._reading_paused
                and now - self.body_active > server.body_timeout
            ):
                exchange.client_timed_out()
            return  # else the backend's timeout watches the request under way
        if self.head_since is not None:
            if now - self.head_since > server.header_timeout:
                what = "request header" if self._parsing is None else "request body"
                self.write(simple_response(408, f"the {what} did not arrive in time\n", close=True))
                self.close()
        elif now - self.last_active > server.idle_timeout and (self.idle or self.writing_paused):
            self.close() if self.idle else self.abort()  # abort: a client that never reads its answers

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
                    self.write(simple_response(request.status, request.text, close=True))
                    self.queue.clear()
                    self.close()
                    return
                if request is self._parsing and self.head_since is not None:
                    # Its body is being buffered. A client that waits for 100 Continue before sending it gets it
                    # now, from the proxy, as nginx sends it when it reads the body.
                    head = request.head
                    if head.expect_continue and not request.body_started and request.version == "1.1":
                        head.expect_continue = False
                        self.write(CONTINUE)
                    return
                self.exchange = self.forwarder.exchange(self, request)
                self.exchange.start()
        finally:
            self._dispatching = False

    def update_reading(self) -> None:
        if self.transport is None or self.closed:
            return
        pending = self._parsing.pending_size if self._parsing is not None else 0
        pause = self.closing or self.upstream_full or pending > self.server.body_buffer or len(self.queue) > MAX_QUEUED
        if pause is not self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.body_active = self.loop.time()  # a body's pause while the proxy did not read is not the client's
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
        body_timeout: float = BODY_TIMEOUT_S,
        request_buffer: int = REQUEST_BUFFER,
        max_url: int = MAX_URL,
        max_head: int = MAX_HEAD,
    ) -> None:
        self.forwarder = forwarder
        self.loop = loop
        self.trusted = trusted or TrustedProxies()
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.request_buffer = request_buffer
        self.body_buffer = max(BODY_BUFFER, request_buffer)
        """Reading stops beyond this much body held for no backend: never before the buffered part is whole."""
        self.max_url = max_url
        self.max_head = max_head
        self._tick = min(1.0, idle_timeout / 4, header_timeout / 4, body_timeout / 4)
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
            connection.check_timeouts(now, self)
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
