"""One request's way through the proxy: to a backend (or two), and the answer back.

An exchange is driven by callbacks from both connections (no task per request): the client's connection
hands it the request and its body, the upstream connection the answer. Answers of known length up to
``BUFFER_LIMIT`` are held whole and written in one piece; longer or unknown ones stream, paced by the client.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.backends import Backend, BackendState
from proxy.paths import is_admin, normal_target
from proxy.request import BodySink, IncomingRequest
from proxy.upstream import Origin, UpstreamConnection
from proxy.wire import CONTINUE, IDEMPOTENT, LAST_CHUNK, ResponseHead, chunk, simple_response

if TYPE_CHECKING:
    from proxy.forward import Forwarder
    from proxy.server import ClientConnection

BUFFER_LIMIT = 256 * 1024
"""Answers of known length up to this size are held whole before the client gets any of them: a backend that
drops one half-way then costs an idempotent request a retry, not a broken answer."""


class Exchange(BodySink):
    """One client request, sent to one backend, or two when the first fails before answering."""

    __slots__ = (
        "backend",
        "chunked_out",
        "client",
        "close_after",
        "connecting",
        "counted",
        "done",
        "failed_before",
        "forwarder",
        "held",
        "held_head",
        "last_active",
        "origin",
        "request",
        "request_sent",
        "retried",
        "reused",
        "shed",
        "stale_retried",
        "streaming",
        "until_close",
        "upstream",
    )

    def __init__(self, forwarder: Forwarder, client: ClientConnection, request: IncomingRequest) -> None:
        self.forwarder = forwarder
        self.client = client
        self.request = request
        self.backend: Backend | None = None
        self.counted: Backend | None = None
        self.origin: Origin | None = None
        self.upstream: UpstreamConnection | None = None
        self.connecting: asyncio.Task[UpstreamConnection] | None = None
        self.last_active = 0.0
        self.done = self.streaming = self.chunked_out = self.until_close = self.shed = False
        self.request_sent = self.retried = self.stale_retried = self.reused = self.close_after = False
        self.held: list[bytes] | None = None
        self.held_head: tuple[int, bytes, ResponseHead] | None = None
        self.failed_before: str | None = None

    @property
    def retryable(self) -> bool:
        """A request another backend may get too: one whose method means the same sent twice, without a body."""
        return self.request.method in IDEMPOTENT and not self.request.has_body

    # -- the start
    def start(self) -> None:
        forwarder = self.forwarder
        target = normal_target(self.request.target)
        if target is None:
            self._reply(400, "ambiguous request path: an encoded / or \\ would change where it goes\n")
            return
        self.request.target = target  # routed and forwarded alike
        if is_admin(target):
            if forwarder.admin is None:
                self._reply(404, "the admin API is not on this port\n")  # and never a backend's to answer
            else:
                self._begin(None, forwarder.admin)
            return
        backend = forwarder.pool.pick()
        if backend is None:
            self._reply(502, "no backend is available\n")
            return
        self._begin(backend, forwarder.upstreams.origin(backend.url))

    def _begin(self, backend: Backend | None, origin: Origin) -> None:
        self.backend, self.origin = backend, origin
        self.held = self.held_head = None
        self.shed = False
        if backend is not None:
            backend.started()
            self.counted = backend
        self.last_active = self.forwarder.loop.time()
        if backend is not None:
            self.forwarder.watch(self)
        connection = self.forwarder.upstreams.idle(origin)
        if connection is not None:
            self._send(connection)
        else:
            self._connect(origin)

    def _connect(self, origin: Origin) -> None:
        self.connecting = self.forwarder.loop.create_task(self.forwarder.upstreams.connect(origin))
        self.connecting.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[UpstreamConnection]) -> None:
        self.connecting = None
        if task.cancelled():
            return
        exc = task.exception()
        if self.done:
            if exc is None:
                self.forwarder.upstreams.release(task.result())  # unused, in step: a later request takes it
            return
        if exc is not None:
            self._failed(exc, answered=False)
        else:
            self._send(task.result())

    def _send(self, connection: UpstreamConnection) -> None:
        request, origin = self.request, self.origin
        assert origin is not None
        self.upstream = connection
        self.reused = connection.reused
        head = request.head.render(
            request.method,
            request.target,
            host=origin.host_header,
            peer=self.client.peer,
            trusted=self.client.trusted,
        )
        connection.send(self, head, head_only=request.method == b"HEAD")
        if not request.has_body:
            self.request_sent = True
            return
        if request.head.expect_continue and not request.body_started and request.version == "1.1":
            self.client.write(CONTINUE)  # the backend is there: the client may send the body
        request.attach(self)
        self.client.update_reading()

    # -- the request's body, from the client's connection
    def send_body(self, data: bytes) -> None:
        if self.done or self.upstream is None:
            return  # answered already: the rest of the body is dropped, and the connection closed after
        self.last_active = self.forwarder.loop.time()
        self.upstream.write(chunk(data) if self.request.chunked else data)

    def end_body(self) -> None:
        if self.done or self.upstream is None:
            return
        if self.request.chunked:
            self.upstream.write(LAST_CHUNK)
        self.request_sent = True

    def on_upstream_writable(self, writable: bool) -> None:
        self.client.upstream_full = not writable
        self.client.update_reading()

    def on_client_writable(self, writable: bool) -> None:
        if self.streaming and self.upstream is not None:
            self.upstream.pause_reading(not writable)

    # -- the answer, from the upstream connection
    def on_head(self, status: int, reason: bytes, head: ResponseHead) -> None:
        request = self.request
        length, chunked = head.content_length, head.chunked
        if status == 503 and head.retry_after:
            self.shed = True
            if self.backend is not None:
                self.backend.shed += 1
        no_body = request.method == b"HEAD" or status in (204, 304)
        if no_body or (length is not None and not chunked and length <= BUFFER_LIMIT):
            self.held_head = (status, reason, head)
            self.held = []
            return
        self.until_close = length is None and not chunked
        self.chunked_out = length is None and request.version == "1.1"
        self.close_after = length is None and not self.chunked_out  # an HTTP/1.0 client: the end is the close
        self.streaming = True
        self.last_active = self.forwarder.loop.time()
        connection = self._connection(self.close_after or not request.keep_alive)
        self.client.write(head.render(status, reason, chunked=self.chunked_out, connection=connection))
        if self.client.writing_paused and self.upstream is not None:
            self.upstream.pause_reading(True)

    def on_body(self, data: bytes) -> None:
        if self.held is not None:
            self.held.append(data)
        elif self.chunked_out:
            self.client.writelines(chunk(data))
            self.last_active = self.forwarder.loop.time()
        else:
            self.client.write(data)
            self.last_active = self.forwarder.loop.time()

    def on_complete(self) -> None:
        if self.done:
            return
        if self.held_head is not None and self.held is not None:
            if self.shed and self.retryable and self._retry_elsewhere():
                return  # a shedding node did not do it: another may
            status, reason, head = self.held_head
            close = self._closes()
            rendered = head.render(status, reason, chunked=False, connection=self._connection(close))
            self.client.write(b"".join([rendered, *self.held]) if self.held else rendered)
            self._finish(close)
        else:
            if self.chunked_out:
                self.client.write(LAST_CHUNK)
            self._finish(self.close_after or self._closes())

    def on_lost(self, exc: Exception, answered: bool) -> None:
        self.upstream = None
        if self.done:
            return
        if answered and self.until_close:
            self.on_complete()  # the backend ended its answer by closing
        elif self.streaming:
            self._note_error(exc)
            self.client.abort()  # part of the answer went out: all that is left is to cut it short
            self._finish(True)
        else:
            self._failed(exc, answered)

    # -- the client went away
    def client_lost(self) -> None:
        if self.done:
            return
        self.done = True
        self._stop()
        if self.upstream is not None:
            self.upstream.abort()  # its request or answer is half-way: never reused
            self.upstream = None
        self._uncount()

    # -- endings
    def _failed(self, exc: BaseException, answered: bool) -> None:
        """No answer reached the client, and the connection to the backend failed."""
        backend = self.backend
        if backend is None:
            self._reply(502, f"the proxy's admin API did not answer: {type(exc).__name__}\n")
            return
        if self._was_stale(answered):
            self.stale_retried = True
            self._connect(self.forwarder.upstreams.origin(backend.url))
            return
        self._eject(backend, exc)
        self._uncount()
        if self.retryable and not self.retried:
            # A connection that failed before any answer reached the client: the request may go elsewhere.
            self.failed_before = backend.name
            if self._retry_elsewhere():
                return
            self._reply(502, "no other backend is available\n")
        elif self.failed_before is not None:
            self._reply(502, f"backends {self.failed_before} and {backend.name} failed\n")
        else:
            self._reply(502, f"backend {backend.name} failed: {type(exc).__name__}\n")

    def _was_stale(self, answered: bool) -> bool:
        """A pooled connection the backend had closed as the request went out: the request never arrived, so
        it goes once on a new connection to the same backend, which is not ejected for it."""
        return self.reused and not answered and self.retryable and not self.stale_retried

    def _retry_elsewhere(self) -> bool:
        if self.retried:
            return False
        other = self.forwarder.pool.pick(exclude=self.backend)
        if other is None:
            return False
        if self.upstream is not None:
            self.forwarder.upstreams.release(self.upstream)
            self.upstream = None
        self._uncount()
        self.retried = True
        self._begin(other, self.forwarder.upstreams.origin(other.url))
        return True

    def timed_out(self) -> None:
        """Nothing moved for the whole timeout (the forwarder's watchdog calls this): the backend was silent, or
        the client sent none of its body, or took none of its answer; only the first is charged to the backend."""
        if self.done:
            return
        timeout = self.forwarder.timeout
        client = self.client
        if client.writing_paused:
            # The client took none of the answer: a client that never reads must not hold a backend connection.
            self._cut()
            return
        request = self.request
        if request.sink is self and not request.body_done and not client.upstream_full:
            self.client_timed_out()  # the backend waits for the rest of the body
            return
        backend = self.backend
        if backend is not None:
            backend.errors += 1
            backend.last_error = f"no answer within {timeout:g} s"
        if self.connecting is not None:
            self.connecting.cancel()
            self.connecting = None
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None
        if self.streaming:
            self.client.abort()
            self._finish(True)
        else:
            name = backend.name if backend is not None else "?"
            self._reply(504, f"backend {name} did not answer in time\n")

    def client_timed_out(self) -> None:
        """The client sent none of its body for the timeout: a 408, the backend's exchange cut, not its fault."""
        if self.done:
            return
        if self.streaming:
            self._cut()
        else:
            self._reply(408, "the request body did not arrive in time\n")

    def _cut(self) -> None:
        """Both sides closed, the backend not charged."""
        if self.upstream is not None:
            self.upstream.abort()
            self.upstream = None
        self.client.abort()
        self._finish(True)

    def _reply(self, status: int, text: str) -> None:
        close = self._closes()
        self.client.write(simple_response(status, text, close=close))
        self._finish(close)

    def _finish(self, close: bool) -> None:
        self.done = True
        self._stop()
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            if self.request_sent:
                self.forwarder.upstreams.release(upstream)
            else:
                upstream.abort()  # answered before the whole request went out: out of step
        self._uncount()
        self.client.finished(self.request, close=close)

    def _stop(self) -> None:
        self.forwarder.unwatch(self)
        if self.connecting is not None:
            self.connecting.cancel()
            self.connecting = None

    def _uncount(self) -> None:
        if self.counted is not None:
            self.counted.finished()
            self.counted = None

    def _closes(self) -> bool:
        request = self.request
        return not request.keep_alive or not request.body_done or self.client.shutting_down

    def _connection(self, close: bool) -> bytes:
        if close:
            return b"close"
        return b"keep-alive" if self.request.version == "1.0" else b""

    def _note_error(self, exc: BaseException) -> None:
        if self.backend is not None:
            self.backend.errors += 1
            self.backend.last_error = f"{type(exc).__name__}: {exc}"

    def _eject(self, backend: Backend, exc: BaseException) -> None:
        """Passive health check: a backend that refused or dropped a connection gets no requests until the
        active check finds it healthy again."""
        self._note_error(exc)
        if backend.state is BackendState.UP:
            backend.state = BackendState.DOWN
