"""Clients that hold connections without using them: idle keep-alive ones, and ones whose request header
never completes (a byte now and then), many at once, while others are served."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from proxy.app import Proxy, ProxySettings
from tests.proxy.rig import Rig

SLOW_CLIENTS = 300


async def test_many_clients_trickling_their_headers_are_closed_and_others_are_served(rig: Rig) -> None:
    # Health checks far apart: one whose 0.2 s timeout a busy machine overruns would take node-1 out mid-test.
    await rig.start(["node-1"], header_timeout=1.0, idle_timeout=1.0, health_interval=5.0)
    host, port = rig.proxy.removeprefix("http://").split(":")
    slow = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(SLOW_CLIENTS)))
    header = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 1000

    async def trickle() -> None:
        for byte in header:  # one byte to each slow client, then the next, until the proxy closes them
            for _, writer in slow:
                with contextlib.suppress(ConnectionError):
                    writer.write(bytes([byte]))
            await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    try:
        for _ in range(20):
            assert await asyncio.wait_for(rig.node_of(), 10) == "node-1"
        answers = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in slow)), 30)
    finally:
        trickling.cancel()
        for _, writer in slow:
            writer.close()
    assert {answer.split(b"\r\n")[0] for answer in answers} == {b"HTTP/1.1 408 Request Timeout"}
    assert not trickling.done(), "closed long before their headers could have been whole"


async def test_an_idle_keep_alive_connection_is_closed(rig: Rig) -> None:
    await rig.start(["node-1"], idle_timeout=0.3)
    client = await rig.raw()
    await client.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await client.answer()).status == 200
    assert await asyncio.wait_for(client.closed(), 10)
    silent = await rig.raw()  # connected, and never a byte
    assert await asyncio.wait_for(silent.closed(), 10)


async def test_a_request_that_takes_longer_than_the_timeouts_is_not_cut(rig: Rig) -> None:
    await rig.start(["node-1"], idle_timeout=0.2, header_timeout=0.2)
    client = await rig.raw()
    await client.send(b"GET /slow?s=0.8 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await client.answer()).status == 200
    await client.send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await client.answer()).status == 200, "the connection was still open after the long answer"


def test_a_timeout_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_timeout=0: give a number of seconds above 0"):
        Proxy(ProxySettings(admin_token="t", idle_timeout=0))
