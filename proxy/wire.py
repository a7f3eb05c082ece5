"""HTTP/1.1 as the proxy writes it: which headers pass a hop, request and response heads, chunks. No I/O."""

from __future__ import annotations

from http import HTTPStatus

Headers = list[tuple[bytes, bytes]]

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
FORWARDED = frozenset({b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"expect"})
"""Request headers the proxy writes itself (Expect: the proxy answers 100 Continue on the backend's behalf)."""
LAST_CHUNK = b"0\r\n\r\n"
REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


def connection_tokens(headers: Headers) -> frozenset[bytes]:
    """The header names a Connection header lists: hop-by-hop for this message only."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b","))
    return frozenset(tokens)


def request_head(
    method: bytes,
    target: bytes,
    headers: Headers,
    *,
    host: bytes,
    peer: bytes,
    chunked: bool,
) -> bytes:
    """The head sent to a backend: end-to-end headers, Host the backend's, and the X-Forwarded-* ones."""
    skip = HOP_BY_HOP | FORWARDED
    if any(name.lower() == b"connection" for name, _ in headers):
        skip |= connection_tokens(headers)
    lines = [method, b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n"]
    forwarded_for = proto = forwarded_host = client_host = b""
    for name, value in headers:
        lower = name.lower()
        if lower not in skip:
            lines += (name, b": ", value, b"\r\n")
        elif lower == b"x-forwarded-for":
            forwarded_for = value if not forwarded_for else forwarded_for + b", " + value
        elif lower == b"x-forwarded-proto":
            proto = value
        elif lower == b"x-forwarded-host":
            forwarded_host = value
        elif lower == b"host":
            client_host = value
    lines += (
        b"X-Forwarded-For: ",
        forwarded_for + b", " + peer if forwarded_for else peer,
        b"\r\nX-Forwarded-Proto: ",
        proto or b"http",
        b"\r\n",
    )
    if forwarded_host or client_host:
        lines += (b"X-Forwarded-Host: ", forwarded_host or client_host, b"\r\n")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def response_head(status: int, reason: bytes, headers: Headers, *, chunked: bool, connection: bytes) -> bytes:
    """The head sent to the client: the backend's end-to-end headers (Content-Length included when it framed
    the body by length), and the proxy's own framing and connection headers."""
    skip = HOP_BY_HOP
    if any(name.lower() == b"connection" for name, _ in headers):
        skip = skip | connection_tokens(headers)
    lines = [b"HTTP/1.1 ", str(status).encode(), b" ", reason or REASONS.get(status, b""), b"\r\n"]
    for name, value in headers:
        if name.lower() not in skip:
            lines += (name, b": ", value, b"\r\n")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    if connection:
        lines += (b"Connection: ", connection, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def chunk(data: bytes) -> list[bytes]:
    """One chunk of a chunked body, as pieces for ``writelines`` (no copy of ``data``)."""
    return [b"%x\r\n" % len(data), data, b"\r\n"]


def simple_response(status: int, text: str, *, close: bool = False) -> bytes:
    """A whole small answer of the proxy's own (an error)."""
    body = text.encode()
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b""))]
    lines.append(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % len(body))
    if close:
        lines.append(b"Connection: close\r\n")
    lines += (b"\r\n", body)
    return b"".join(lines)


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
