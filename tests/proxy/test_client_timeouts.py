"""Clients that hold connections without using them: idle keep-alive ones, and ones whose request header
never completes (a byte now and then), many at once, while others are served."""

from __future__ import annotations

import asyncio
import contextlib
import resource

import pytest

from proxy.app import Proxy, ProxySettings
from proxy.backends import Backend
from tests.proxy.rig import BROKEN, MAX_IN_FLIGHT, PROGRESS, TARGETS, Rig

SLOW_CLIENTS = 500
FILES_NEEDED = 4 * SLOW_CLIENTS
"""Both ends of every slow client's connection are in this process, with room for the rest."""


def allow_open_files(count: int) -> None:
    """Raises this process's soft limit on open files to ``count`` (a shell's default is often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.fail(f"{SLOW_CLIENTS} clients need {count} open files; raise the hard limit (ulimit -Hn {count})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


async def test_many_clients_trickling_their_headers_are_closed_and_others_are_served(rig: Rig) -> None:
    # Health checks far apart: one whose 0.2 s timeout a busy machine overruns would take node-1 out mid-test.
    allow_open_files(FILES_NEEDED)
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


async def test_clients_trickling_small_bodies_get_408_and_never_take_a_backends_slots(rig: Rig) -> None:
    await rig.start(["node-1"], header_timeout=1.0, health_interval=5.0)
    rig.apps["node-1"][MAX_IN_FLIGHT][0] = 2
    host, port = rig.proxy.removeprefix("http://").split(":")
    slow = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(8)))
    for i, (_, writer) in enumerate(slow):
        writer.write(b"PUT /items/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nv" % i)

    async def trickle() -> None:
        while True:
            await asyncio.sleep(0.2)
            for _, writer in slow:
                with contextlib.suppress(ConnectionError):
                    writer.write(b"v")

    trickling = asyncio.create_task(trickle())
    try:
        for _ in range(5):
            assert await asyncio.wait_for(rig.node_of("/items/0"), 10) == "node-1"
        answers = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in slow)), 30)
    finally:
        trickling.cancel()
        for _, writer in slow:
            writer.close()
    assert {answer.split(b"\r\n")[0] for answer in answers} == {b"HTTP/1.1 408 Request Timeout"}
    assert all(answer.endswith(b"the request body did not arrive in time\n") for answer in answers)
    assert [t for t in rig.apps["node-1"][TARGETS] if t.startswith("/items/")] == ["/items/0"] * 5, "no PUT reached it"


@pytest.mark.parametrize(
    ("what_runs_out", "settings"),
    [
        ("the body timeout", {"body_timeout": 0.5}),
        ("the backend timeout", {"backend_timeout": 0.5}),
    ],
)
async def test_a_streamed_body_that_stalls_is_the_clients_408_not_the_backends_fault(
    rig: Rig, what_runs_out: str, settings: dict[str, float]
) -> None:
    await rig.start(["node-1"], request_buffer=1024, **settings)
    client = await rig.raw()
    await client.send(b"PUT /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"v" * 4000)
    answer = await asyncio.wait_for(client.answer(), 10)
    assert (answer.status, answer.body) == (408, b"the request body did not arrive in time\n"), what_runs_out
    assert await asyncio.wait_for(client.closed(), 10)
    assert rig.apps["node-1"][TARGETS] == ["/items/1"], "the body beyond the buffer was streaming to the backend"
    assert rig.apps["node-1"][BROKEN] == ["/items/1"]
    backend = backend_of(rig, "node-1")
    assert (backend.errors, backend.last_error, backend.in_flight) == (0, None, 0)


async def test_a_post_that_stops_half_way_is_the_clients_408_not_a_504(rig: Rig) -> None:
    await rig.start(["node-1"], header_timeout=0.5, backend_timeout=0.5)
    client = await rig.raw()
    await client.send(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
    answer = await asyncio.wait_for(client.answer(), 10)
    assert (answer.status, answer.body) == (408, b"the request body did not arrive in time\n")
    assert rig.apps["node-1"][TARGETS] == [], "the backend never saw a request that never arrived whole"
    backend = backend_of(rig, "node-1")
    assert (backend.errors, backend.last_error) == (0, None)


async def test_a_small_body_sent_after_100_continue_is_forwarded_whole(rig: Rig) -> None:
    await rig.start(["node-1"], header_timeout=1.0)
    client = await rig.raw()
    await client.send(b"PUT /items/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 10) == b"HTTP/1.1 100 Continue\r\n\r\n"
    await client.send(b"hello")
    answer = await asyncio.wait_for(client.answer(), 10)
    assert (answer.status, answer.body) == (200, b"hello")


async def test_a_client_that_never_reads_its_answer_is_cut_and_frees_the_backend(rig: Rig) -> None:
    await rig.start(["node-1"], backend_timeout=0.5)
    client = await rig.raw()
    await client.send(b"GET /big?mb=64 HTTP/1.1\r\nHost: x\r\n\r\n")
    backend = backend_of(rig, "node-1")
    for _ in range(200):  # until the proxy gives up on the client: it holds the backend's connection till then
        await asyncio.sleep(0.05)
        if backend.requests and not backend.in_flight:
            break
    assert (backend.requests, backend.in_flight) == (1, 0)
    assert (backend.errors, backend.last_error) == (0, None), "a client that does not read is not the backend's fault"
    with pytest.raises(asyncio.IncompleteReadError):
        await asyncio.wait_for(client.answer(keep=False), 30)
    assert rig.apps["node-1"][PROGRESS][0] < 64 * 1024 * 1024, "the backend's answer was cut too"


def backend_of(rig: Rig, name: str) -> Backend:
    assert rig.proxy_app is not None
    return rig.proxy_app.pool.get(name)
