"""HTTP/1.1 as the proxy writes it: which headers pass a hop, request and response heads, chunks. No I/O.

Heads are sorted as the parser hands over each header, one ``lower()`` per header: the headers that pass are
kept as the bytes they will be written as, and the few the proxy acts on are noted on the way.
"""

from __future__ import annotations

from http import HTTPStatus

import httptools

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS"})
"""Methods a retry may send again: each means the same whether it arrives once or twice."""
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}

_DROP, _HOST, _FOR, _PROTO, _FORWARDED_HOST, _FORWARDED_OTHER, _EXPECT, _LENGTH, _ENCODING, _CONNECTION = range(10)
_RETRY_AFTER = 10
FORWARDED_OTHER = (b"forwarded", b"x-real-ip")
"""Headers that say where a request came from, besides X-Forwarded-*: believed only from a trusted proxy."""
_REQUEST_FIELDS = {name: _DROP for name in HOP_BY_HOP} | {
    b"host": _HOST,
    b"x-forwarded-for": _FOR,
    b"x-forwarded-proto": _PROTO,
    b"x-forwarded-host": _FORWARDED_HOST,
    **{name: _FORWARDED_OTHER for name in FORWARDED_OTHER},
    b"expect": _EXPECT,  # the proxy answers 100 Continue on the backend's behalf
    b"content-length": _LENGTH,
    b"transfer-encoding": _ENCODING,
    b"connection": _CONNECTION,
}
_RESPONSE_FIELDS = {name: _DROP for name in HOP_BY_HOP} | {
    b"content-length": _LENGTH,
    b"transfer-encoding": _ENCODING,
    b"connection": _CONNECTION,
    b"retry-after": _RETRY_AFTER,
}


class _Head:
    __slots__ = ("chunked", "content_length", "kept", "listed")

    def __init__(self) -> None:
        self.kept: list[bytes] = []
        """name, b": ", value, b"\\r\\n" for every header that passes, in order."""
        self.content_length: int | None = None
        self.chunked = False
        self.listed: set[bytes] | None = None
        """Names a Connection header lists: hop-by-hop for this message only."""

    def _keep(self, name: bytes, value: bytes) -> None:
        self.kept += (name, b": ", value, b"\r\n")

    def _note(self, code: int, value: bytes) -> None:
        if code == _LENGTH:
            self.content_length = int(value)  # llhttp refused it already unless it is one number
        elif code == _ENCODING:
            self.chunked = value.lower().rstrip().endswith(b"chunked")
        elif code == _CONNECTION:
            tokens = {token.strip().lower() for token in value.split(b",")} - {b"close", b"keep-alive"}
            if tokens:
                self.listed = (self.listed or set()) | tokens

    def _passing(self) -> list[bytes]:
        if not self.listed:
            return self.kept
        kept, listed = self.kept, self.listed
        return [part for i in range(0, len(kept), 4) if kept[i].lower() not in listed for part in kept[i : i + 4]]


class RequestHead(_Head):
    """A client's request headers, sorted as they arrive.

    Header names with an underscore are dropped, as nginx drops them: ``X_Forwarded_For`` would reach an
    application that folds ``_`` into ``-`` as ``X-Forwarded-For``, past the proxy's own."""

    __slots__ = (
        "client_host",
        "expect_continue",
        "forwarded_for",
        "forwarded_host",
        "forwarded_other",
        "forwarded_proto",
        "problem",
    )

    def __init__(self) -> None:
        super().__init__()
        self.client_host: bytes | None = None
        self.forwarded_for = self.forwarded_proto = self.forwarded_host = b""
        self.forwarded_other: list[bytes] | None = None
        """Forwarded, X-Real-IP and the X-Forwarded-* the proxy does not set, passed on from a trusted proxy."""
        self.expect_continue = False
        self.problem: str | None = None
        """Why the request is refused with a 400 (two Host headers, a body framing the proxy cannot follow)."""

    def add(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        code = _REQUEST_FIELDS.get(lower)
        if code is None:
            if b"_" in name:
                return
            if lower.startswith(b"x-forwarded-"):
                code = _FORWARDED_OTHER
            else:
                self.kept += (name, b": ", value, b"\r\n")
                return
        if code == _LENGTH:
            self._keep(name, value)
            self._note(code, value)
        elif code == _HOST:
            if self.client_host is not None:
                self.problem = "bad request: two Host headers (send one)\n"
            self.client_host = value
        elif code == _FORWARDED_OTHER:
            self.forwarded_other = (self.forwarded_other or []) + [name, b": ", value, b"\r\n"]
        elif code == _ENCODING:
            # RFC 9112 6.3: a request whose last transfer coding is not chunked has no length the proxy can find.
            if value.rpartition(b",")[2].strip().lower() == b"chunked":
                self.chunked = True
            else:
                self.problem = "bad request: a Transfer-Encoding must end with chunked\n"
        elif code == _FOR:
            self.forwarded_for = self.forwarded_for + b", " + value if self.forwarded_for else value
        elif code == _PROTO:
            self.forwarded_proto = value
        elif code == _FORWARDED_HOST:
            self.forwarded_host = value
        elif code == _EXPECT:
            self.expect_continue = value.lower() == b"100-continue"
        else:
            self._note(code, value)

    def render(self, method: bytes, target: bytes, *, host: bytes, peer: bytes, trusted: bool) -> bytes:
        """The head sent to a backend: end-to-end headers, Host the backend's, and the X-Forwarded-* ones. The
        client's own X-Forwarded-* are kept (For appended to) only when ``trusted`` (a proxy in front of this
        one); from anyone else they are replaced by what the proxy sees: the peer, plain http, the Host."""
        client_host = self.client_host or b""
        parts = [method, b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n", *self._passing()]
        if trusted:
            forwarded_for = self.forwarded_for + b", " + peer if self.forwarded_for else peer
            proto, forwarded_host = self.forwarded_proto or b"http", self.forwarded_host or client_host
            if self.forwarded_other:
                parts += self.forwarded_other
        else:
            forwarded_for, proto, forwarded_host = peer, b"http", client_host
        parts += (b"X-Forwarded-For: ", forwarded_for, b"\r\nX-Forwarded-Proto: ", proto)
        if forwarded_host:
            parts += (b"\r\nX-Forwarded-Host: ", forwarded_host)
        parts.append(b"\r\nTransfer-Encoding: chunked\r\n\r\n" if self.chunked else b"\r\n\r\n")
        return b"".join(parts)


class ResponseHead(_Head):
    """A backend's answer headers, sorted as they arrive."""

    __slots__ = ("retry_after",)

    def __init__(self) -> None:
        super().__init__()
        self.retry_after = False

    def add(self, name: bytes, value: bytes) -> None:
        code = _RESPONSE_FIELDS.get(name.lower())
        if code is None:
            self.kept += (name, b": ", value, b"\r\n")
        elif code == _LENGTH:
            self._keep(name, value)
            self._note(code, value)
        elif code == _RETRY_AFTER:
            self._keep(name, value)
            self.retry_after = True
        else:
            self._note(code, value)

    def render(self, status: int, reason: bytes, *, chunked: bool, connection: bytes) -> bytes:
        """The head sent to the client: the backend's end-to-end headers (Content-Length included when it framed
        the body by length), and the proxy's own framing and connection headers."""
        parts = [b"HTTP/1.1 %d " % status, reason or REASONS.get(status, b""), b"\r\n", *self._passing()]
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if connection:
            parts += (b"Connection: ", connection, b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)


def chunk(data: bytes) -> list[bytes]:
    """One chunk of a chunked body, as pieces for ``writelines`` (no copy of ``data``)."""
    return [b"%x\r\n" % len(data), data, b"\r\n"]


def simple_response(status: int, text: str, *, close: bool = False) -> bytes:
    """A whole small answer of the proxy's own (an error)."""
    body = text.encode()
    head = b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % (
        status,
        REASONS.get(status, b""),
        len(body),
    )
    return head + (b"Connection: close\r\n\r\n" if close else b"\r\n") + body


def origin_form(target: bytes) -> bytes:
    """The path and query of a request target (a client may send the absolute form to a proxy)."""
    if target.startswith(b"/") or target == b"*":
        return target
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        return target
    path = url.path or b"/"
    return path + b"?" + url.query if url.query else path
