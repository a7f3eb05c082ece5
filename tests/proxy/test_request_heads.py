"""Request heads the proxy refuses before any backend sees them: too large (414, 431, answered as soon as the
limit is passed, without the rest of the head), or wrong (400)."""

from __future__ import annotations

import asyncio

import pytest

from tests.proxy.rig import TARGETS, Rig


@pytest.mark.parametrize(
    ("unfinished_head", "status"),
    [
        (b"GET /" + b"u" * 9000, 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000, 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"h" * 100) for i in range(400)), 431),
    ],
    ids=["url", "one-header", "many-headers"],
)
async def test_a_head_beyond_the_limit_is_refused_before_it_ends(rig: Rig, unfinished_head: bytes, status: int) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(unfinished_head)  # never finished: the answer cannot wait for the end
    answer = await asyncio.wait_for(client.answer(), 10)
    assert (answer.status, answer.headers["connection"]) == (status, "close")
    assert await asyncio.wait_for(client.closed(), 10)
    assert rig.apps["node-1"][TARGETS] == []


async def test_a_head_within_the_limits_passes(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"h" * 200) for i in range(100))  # 8 + 21 KiB
    await client.send(b"GET /" + b"u" * 8000 + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert (await asyncio.wait_for(client.answer(), 10)).status == 200


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nX-Other: 1\r\n\r\n",
    ],
    ids=["two-hosts", "xchunked", "chunked-not-last", "fragment", "bad-chunk-while-buffered", "no-host"],
)
async def test_an_ambiguous_head_is_a_400_at_once(rig: Rig, head: bytes) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(head)
    answer = await asyncio.wait_for(client.answer(), 10)
    assert (answer.status, answer.headers["connection"]) == (400, "close"), answer.body
    assert rig.apps["node-1"][TARGETS] == []


async def test_an_http_1_0_request_needs_no_host(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /old HTTP/1.0\r\n\r\n")
    answer = await asyncio.wait_for(client.answer(), 10)
    assert answer.status == 200, answer.body
    assert rig.apps["node-1"][TARGETS] == ["/old"]
