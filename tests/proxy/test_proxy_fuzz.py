"""The proxy's data path under generated hostile requests, against the real proxy process.

Targets built from dot segments, escapes, slashes, backslashes, `_proxy`, fragments and bytes of any kind;
methods of any token; headers that spoof forwarding (X-Forwarded-*, Forwarded, X-Real-IP, underscore
spellings), that repeat Host or that frame the body in ways that conflict. Every request is answered (never a
500, never a connection dropped without an answer), and what reaches the backend is never an admin path
however a lenient server would read it, and carries only the forwarding headers the proxy wrote itself. The
backend is a plain HTTP/1.1 server in a thread of the test process, which records each request as it arrived.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import examples
from tests.proxy.test_paths import as_a_lenient_server_reads_it
from tests.services import Service, service

pytestmark = pytest.mark.fuzz

TOKEN = "fuzz-data-token"
ANSWER_WITHIN_S = 10.0
"""Longer than any of the proxy's timeouts below: a request left unanswered past it is a hang, not a wait."""
FORWARDING = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}


@dataclass
class Arrived:
    target: str
    headers: list[tuple[str, str]]


class RecordingBackend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: list[Arrived] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    """Answers any method 200 after reading the body, whatever its framing; each answer closes its connection."""

    server: RecordingBackend
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self) -> None:
        if self.path != "/healthz":
            with self.server.lock:
                self.server.arrived.append(Arrived(self.path, list(self.headers.items())))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                self.rfile.read(size + 2)
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
        elif length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "0" if self.command == "HEAD" else "2")
        self.send_header("X-Node", "b1")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"ok")
        self.close_connection = True


@pytest.fixture(scope="module")
def backend() -> Iterator[RecordingBackend]:
    server = RecordingBackend()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, backend: RecordingBackend) -> Iterator[Service]:
    folder: Path = tmp_path_factory.mktemp("proxy-data")
    backend_url = f"http://127.0.0.1:{backend.server_address[1]}"
    flags = ["--backend", f"b1={backend_url}", "--header-timeout", "2", "--body-timeout", "2", "--timeout", "5"]
    with service(folder, "proxy", "proxy", *flags, env={"FARM_PROXY_TOKEN": TOKEN}, health="/healthz") as running:
        yield running
        assert running.healthy("/healthz"), "the proxy stopped forwarding"
        assert running.tracebacks() == []


SEGMENTS = st.sampled_from(
    ["", ".", "..", "%2e", "%2E%2e", ".%2e", "_proxy", "%5fproxy", "%5Fproxy", "backends", "items", "1", "%2f",
     "%2F", "%5c", "\\", "x", "%00", "%ff", "%", "%zz", "~", "%7e", "\u00e9", ";a", "a b", "*"]
)  # fmt: skip
TOKEN_CHARS = "!#$%&'*+-.^_`|~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@st.composite
def targets(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=1, max_size=40).filter(lambda b: not set(b) & set(b" \r\n")))
    joiner = draw(st.sampled_from(["/", "//", "/./"]))
    path = "/" + joiner.join(draw(st.lists(SEGMENTS, max_size=6)))
    query = draw(st.sampled_from(["", "?", "?q=/../_proxy", "?a=%2e%2e&b"]))
    fragment = draw(st.sampled_from(["", "", "#", "#/_proxy"]))
    prefix = draw(st.sampled_from(["", "", "", "http://h", "http://u:p@h:1"]))
    return (prefix + path + query + fragment).encode()


SPOOFS = st.sampled_from(
    [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example"),
     ("X-Forwarded-Port", "443"), ("X-Forwarded-Prefix", "/evil"), ("Forwarded", "for=6.6.6.6;proto=https"),
     ("X-Real-IP", "7.7.7.7"), ("X_Forwarded_For", "8.8.8.8"), ("x-forwarded-for", "9.9.9.9, 1.1.1.1"),
     ("Host", "second.example"), ("Connection", "close"), ("Connection", "keep-alive, X-Real-IP"),
     ("Expect", "100-continue"), ("Expect", "nonsense"), ("Upgrade", "websocket"), ("TE", "trailers"),
     ("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong"), ("Keep-Alive", "timeout=1")]
)  # fmt: skip
FRAMINGS = st.sampled_from(
    ["none", "length", "chunked", "length twice", "lengths differ", "length and chunked", "xchunked",
     "chunked twice", "negative length", "length not a number"]
)  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) | st.text(
        TOKEN_CHARS, min_size=1, max_size=8))  # fmt: skip
    head = [method.encode() + b" " + draw(targets()) + b" HTTP/1.1"]
    if draw(st.integers(0, 4)):  # now and then no Host at all
        head.append(b"Host: " + draw(st.sampled_from([b"front.example", b"", b"a b", b"[::1]:1"])))
    head += [f"{name}: {value}".encode() for name, value in draw(st.lists(SPOOFS, max_size=4))]
    head += [
        name.encode() + b": " + value
        for name, value in draw(
            st.lists(
                st.tuples(st.text(TOKEN_CHARS, min_size=1, max_size=12), st.binary(max_size=20)).filter(
                    lambda pair: not set(pair[1]) & set(b"\r\n")
                ),
                max_size=2,
            )
        )
    ]
    body = draw(st.binary(max_size=200))
    framing = draw(FRAMINGS)
    length = str(len(body)).encode()
    chunked = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    framed: dict[str, tuple[list[bytes], bytes]] = {
        "none": ([], b""),
        "length": ([b"Content-Length: " + length], body),
        "chunked": ([b"Transfer-Encoding: chunked"], chunked),
        "length twice": ([b"Content-Length: " + length] * 2, body),
        "lengths differ": ([b"Content-Length: " + length, b"Content-Length: 1" + length], body),
        "length and chunked": ([b"Content-Length: " + length, b"Transfer-Encoding: chunked"], chunked),
        "xchunked": ([b"Transfer-Encoding: xchunked"], chunked),
        "chunked twice": ([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], chunked),
        "negative length": ([b"Content-Length: -1"], b""),
        "length not a number": ([b"Content-Length: 1e3"], b""),
    }
    framing_headers, sent_body = framed[framing]
    return b"\r\n".join(head + framing_headers) + b"\r\n\r\n" + sent_body


def status_of(proxy: Service, request: bytes) -> int | None:
    """The status of the proxy's final answer (after any 100 Continue); None when the proxy closed the connection
    without one."""
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(request)
        received = b""
        while True:
            head, ended, rest = received.partition(b"\r\n\r\n")
            if ended:
                status_line = head.split(b"\r\n", 1)[0].split(b" ")
                assert status_line[0] == b"HTTP/1.1", received[:200]
                if not 100 <= int(status_line[1]) < 200:
                    return int(status_line[1])
                received = rest  # an interim answer: the final one follows
                continue
            try:
                piece = sock.recv(4096)
            except ConnectionResetError:
                return None
            if not piece:
                return None
            received += piece


@given(request=requests())
@example(request=b"GET / HTTP/1.1\r\nHost: \r\n\r\n")  # found by make fuzz: an empty Host is a Host
@example(  # found by make fuzz: a 100 Continue comes first, then the answer
    request=b"GET / HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
)
@examples(200)
def test_every_request_is_answered_and_no_spoof_or_admin_path_reaches_the_backend(
    request: bytes, proxy: Service, backend: RecordingBackend
) -> None:
    with backend.lock:
        backend.arrived.clear()
    status = status_of(proxy, request)
    assert status is not None, f"no answer to {request[:300]!r}"
    assert status != 500, request[:300]
    assert 200 <= status < 600, request[:300]
    with backend.lock:
        arrived = list(backend.arrived)
    assert len(arrived) <= 1
    for one in arrived:
        assert as_a_lenient_server_reads_it(one.target).split("/")[1:2] != ["_proxy"], (one.target, request[:300])
        names = [name.lower() for name, _ in one.headers]
        assert not [name for name in names if "_" in name], one.headers
        assert not {"forwarded", "x-real-ip"} & set(names), one.headers
        # X-Forwarded-Host: the Host the client sent, none when it sent an empty one (RFC 9112 allows it).
        assert FORWARDING - {"x-forwarded-host"} <= {n for n in names if n.startswith("x-forwarded-")} <= FORWARDING
        forwarded = {name.lower(): value for name, value in one.headers if name.lower() in FORWARDING}
        assert (forwarded["x-forwarded-for"], forwarded["x-forwarded-proto"]) == ("127.0.0.1", "http"), one.headers
        assert names.count("x-forwarded-for") == 1
