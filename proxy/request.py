"""A request as the clients' side parsed it, its body arriving in pieces until a backend takes it."""

from __future__ import annotations

from proxy.wire import RequestHead


class BodySink:
    """Where a request's body goes once a backend takes it."""

    def send_body(self, data: bytes) -> None:
        raise NotImplementedError

    def end_body(self) -> None:
        raise NotImplementedError


class IncomingRequest:
    """A request as parsed, its body arriving in pieces: held until a backend takes it, then passed on."""

    __slots__ = (
        "body_done",
        "body_started",
        "chunked",
        "has_body",
        "head",
        "keep_alive",
        "method",
        "pending",
        "pending_size",
        "sink",
        "target",
        "version",
    )

    def __init__(self, method: bytes, target: bytes, head: RequestHead, version: str, keep_alive: bool) -> None:
        self.method = method
        self.target = target
        self.head = head
        self.version = version
        self.keep_alive = keep_alive
        self.chunked = head.chunked
        self.has_body = head.chunked or bool(head.content_length)
        self.body_done = not self.has_body
        self.body_started = False
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.sink: BodySink | None = None

    def feed(self, data: bytes) -> None:
        self.body_started = True
        if self.sink is not None:
            self.sink.send_body(data)
        else:
            self.pending.append(data)
            self.pending_size += len(data)

    def end(self) -> None:
        self.body_done = True
        if self.sink is not None:
            self.sink.end_body()

    def attach(self, sink: BodySink) -> None:
        """From now on the body goes to ``sink``, what arrived before first."""
        pending, self.pending, self.pending_size = self.pending, [], 0
        self.sink = sink
        for data in pending:
            sink.send_body(data)
        if self.body_done and self.has_body:
            sink.end_body()


class BadRequest(IncomingRequest):
    """A request refused before any backend sees it: answered in its turn (400, or 414/431 for a head too
    large), then the connection closes."""

    __slots__ = ("status", "text")

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(b"", b"", RequestHead(), "1.1", False)
        self.status = status
        self.text = text


class HeadRefused(Exception):
    """A request head refused as soon as the parser shows it: beyond a size limit (414, 431) or wrong (400)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
