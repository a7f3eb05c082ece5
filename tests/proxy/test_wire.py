"""The heads the proxy writes, as pure functions."""

from __future__ import annotations

from proxy.wire import RequestHead, ResponseHead, chunk, simple_response


def test_a_request_head_keeps_end_to_end_headers_and_adds_the_forwarded_ones() -> None:
    head = RequestHead()
    for name, value in [
        (b"Host", b"shop.example"),
        (b"Connection", b"keep-alive, X-Hop"),
        (b"X-Hop", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"TE", b"trailers"),
        (b"Expect", b"100-continue"),
        (b"X-Forwarded-For", b"10.0.0.1"),
        (b"X-Forwarded-Proto", b"https"),
        (b"Accept", b"*/*"),
        (b"Transfer-Encoding", b"chunked"),
    ]:
        head.add(name, value)
    assert (head.expect_continue, head.chunked, head.content_length) == (True, True, None)
    assert head.render(b"GET", b"/a?b=1", host=b"127.0.0.1:8001", peer=b"127.0.0.2", trusted=True) == (
        b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nAccept: */*\r\n"
        b"X-Forwarded-For: 10.0.0.1, 127.0.0.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )


def test_forwarded_headers_from_an_untrusted_client_are_replaced() -> None:
    head = RequestHead()
    for name, value in [
        (b"Host", b"shop.example"),
        (b"X-Forwarded-For", b"10.0.0.1"),
        (b"X-Forwarded-Proto", b"https"),
        (b"X-Forwarded-Host", b"bank.example"),
    ]:
        head.add(name, value)
    assert head.render(b"GET", b"/", host=b"n:1", peer=b"127.0.0.2", trusted=False) == (
        b"GET / HTTP/1.1\r\nHost: n:1\r\n"
        b"X-Forwarded-For: 127.0.0.2\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: shop.example\r\n\r\n"
    )


def test_a_response_head_keeps_the_length_and_drops_the_backends_hop_by_hop_headers() -> None:
    head = ResponseHead()
    for name, value in [(b"Content-Length", b"3"), (b"Connection", b"X-Hop"), (b"X-Hop", b"1"), (b"Retry-After", b"2")]:
        head.add(name, value)
    assert (head.content_length, head.retry_after) == (3, True)
    assert head.render(503, b"Service Unavailable", chunked=False, connection=b"") == (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nRetry-After: 2\r\n\r\n"
    )
    streamed = ResponseHead()
    streamed.add(b"Transfer-Encoding", b"chunked")
    assert streamed.render(200, b"", chunked=True, connection=b"close") == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )


def test_chunks_and_the_proxys_own_answers() -> None:
    assert b"".join(chunk(b"x" * 26)) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert simple_response(502, "no backend\n", close=True) == (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n"
        b"Connection: close\r\n\r\nno backend\n"
    )
