"""The load generator's HTTP client against real servers: kept connections, whole answers, and failures that a
load step records as failed requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from farm.ports import free_port
from farm.scenario.http_client import HttpClient, HttpClientError


@pytest.fixture
async def site() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_requests_at_once_each_keep_one_connection_and_get_whole_answers(
    site: Callable[..., Awaitable[str]],
) -> None:
    peers: set[object] = set()

    async def item(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        body = await request.read()
        headers = {"X-Node": "node-1", "X-Cache": "HIT"}
        return web.json_response({"key": request.match_info["key"], "got": body.decode()}, headers=headers)

    async def chunked(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse()
        reply.enable_chunked_encoding()
        await reply.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await reply.write(part)
        await reply.write_eof()
        return reply

    app = web.Application()
    app.router.add_route("*", "/items/{key}", item)
    app.router.add_get("/chunked", chunked)
    client = HttpClient(await site(app), timeout_s=5)

    async def worker(n: int) -> None:
        for i in range(20):
            reply = await client.request("GET", f"/items/{n}-{i}")
            assert (reply.status, reply.headers["x-node"], reply.headers["x-cache"]) == (200, "node-1", "HIT")
            assert reply.body == b'{"key": "%d-%d", "got": ""}' % (n, i)

    await asyncio.gather(*(worker(n) for n in range(4)))
    put = await client.request("PUT", "/items/7", b'{"price": 1.5}')
    assert put.body == b'{"key": "7", "got": "{\\"price\\": 1.5}"}'
    assert (await client.request("GET", "/chunked")).body == b"one two three"
    assert len(peers) == 4, "4 requests at a time, 4 connections kept for all 81"
    client.close()


async def test_a_connection_the_server_closes_is_not_used_again(site: Callable[..., Awaitable[str]]) -> None:
    async def closing(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    app = web.Application()
    app.router.add_get("/", closing)
    client = HttpClient(await site(app), timeout_s=5)
    for _ in range(3):
        assert (await client.request("GET", "/")).body == b"bye"
    client.close()


class DropsSecondRequest(asyncio.Protocol):
    """Answers a connection's first request with keep-alive, then closes it when the second arrives, unanswered:
    what a client sees when a server closed a kept connection just as it was reused."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.requests = 0

    def data_received(self, data: bytes) -> None:
        self.requests += 1
        if self.requests == 1:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # type: ignore[attr-defined]
        else:
            self.transport.close()


async def test_a_read_on_a_kept_connection_found_closed_is_sent_again_but_never_a_write() -> None:
    port = free_port()
    server = await asyncio.get_running_loop().create_server(DropsSecondRequest, "127.0.0.1", port)
    client = HttpClient(f"http://127.0.0.1:{port}", timeout_s=5)
    try:
        assert (await client.request("GET", "/")).body == b"ok"
        assert (await client.request("GET", "/")).body == b"ok", "sent again on a new connection"
        with pytest.raises(HttpClientError, match="closed the connection"):
            await client.request("PUT", "/", b"{}")  # it may have been applied: not sent twice
    finally:
        client.close()
        server.close()


async def test_no_answer_in_time_is_a_timeout_and_no_server_a_refusal() -> None:
    port = free_port()
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", port)
    client = HttpClient(f"http://127.0.0.1:{port}", timeout_s=0.1)
    with pytest.raises(TimeoutError):
        await client.request("GET", "/")
    server.close()
    await server.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        await HttpClient(f"http://127.0.0.1:{free_port()}", timeout_s=1).request("GET", "/")
    client.close()


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="plain http://host:port"):
        HttpClient("https://example.org", timeout_s=1)
