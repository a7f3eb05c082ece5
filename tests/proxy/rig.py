"""Small real aiohttp backends behind a real proxy, and a raw HTTP/1.1 client for what aiohttp's hides."""

from __future__ import annotations

import asyncio
import hashlib
from contextlib import AsyncExitStack

import aiohttp
from aiohttp import web

from proxy.app import Proxy, ProxySettings, running
from tests.http import serve

TOKEN = "test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}

HEALTH = web.AppKey("health", list[int])
SEEN = web.AppKey("seen", list[dict[str, str]])
PEERS = web.AppKey("peers", list[int])
"""The client port of each request: one port for many requests means one kept-alive connection."""
SHEDDING = web.AppKey("shedding", list[bool])
"""True: every request but /healthz gets 503 with Retry-After, as an overloaded node sheds load."""
CUTTING = web.AppKey("cutting", list[bool])
"""True: /cut sends its head and part of its body, then closes the connection."""
PROGRESS = web.AppKey("progress", list[int])
"""Bytes /big has written so far."""
GATE = web.AppKey("gate", asyncio.Event)
"""/hold reads its request body only once this is set."""
BROKEN = web.AppKey("broken", list[str])
"""Requests whose client (the proxy) went away before their body was read whole."""
TARGETS = web.AppKey("targets", list[str])
"""The request target of each request but /healthz, as it arrived (not decoded)."""
MAX_IN_FLIGHT = web.AppKey("max_in_flight", list[int])
"""Above 0: requests beyond this many at once get a 503, as a node's admission limit answers them."""


def backend_app(name: str) -> web.Application:
    app = web.Application(client_max_size=64 * 1024**2)
    app[HEALTH] = [200]
    seen: list[dict[str, str]] = []
    app[SEEN] = seen
    app[PEERS] = []
    app[SHEDDING] = [False]
    app[CUTTING] = [False]
    app[PROGRESS] = [0]
    app[GATE] = asyncio.Event()
    app[BROKEN] = []
    app[TARGETS] = []
    app[MAX_IN_FLIGHT] = [0]
    in_flight = [0]

    async def admitted(request: web.Request) -> web.StreamResponse:
        limit = app[MAX_IN_FLIGHT][0]
        if limit and in_flight[0] >= limit:
            return web.Response(status=503, text="too many requests in flight\n")
        in_flight[0] += 1
        try:
            return await echo(request)
        finally:
            in_flight[0] -= 1

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        app[TARGETS].append(request.raw_path)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        app[PEERS].append(peer[1] if peer else 0)
        if app[SHEDDING][0]:
            return web.Response(status=503, text="overloaded\n", headers={"Retry-After": "2", "X-Node": name})
        if request.path == "/slow":
            await asyncio.sleep(float(request.query.get("s", "0.5")))
        if request.path == "/stall":
            response = web.StreamResponse(headers={"X-Node": name})
            response.content_length = 1_000_000
            await response.prepare(request)
            await response.write(b"s" * 300_000)
            await asyncio.sleep(0.5)  # silent, mid-answer
            return response
        if request.path == "/stream":
            response = web.StreamResponse(headers={"X-Node": name})
            await response.prepare(request)
            for i in range(100):
                await response.write(bytes([i % 256]) * 50_000)
            await response.write_eof()
            return response
        if request.path == "/cut":
            return await cut(request)
        if request.path == "/big":
            return await big(request)
        if request.path == "/hold":
            return await hold(request)
        try:
            body = await request.read()
        except Exception:
            app[BROKEN].append(request.path)
            raise
        headers = {"X-Node": name, "X-Path": request.path_qs, "Connection": "keep-alive", "Keep-Alive": "timeout=5"}
        return web.Response(body=body or name.encode(), headers=headers)

    async def hold(request: web.Request) -> web.Response:
        await app[GATE].wait()
        digest, length = hashlib.sha256(), 0
        async for piece in request.content.iter_chunked(65536):
            digest.update(piece)
            length += len(piece)
        return web.Response(text=str(length), headers={"X-Node": name, "X-Sha256": digest.hexdigest()})

    async def cut(request: web.Request) -> web.StreamResponse:
        length, part = int(request.query.get("length", "1000")), int(request.query.get("part", "100"))
        response = web.StreamResponse(headers={"X-Node": name})
        response.content_length = length
        await response.prepare(request)
        if not app[CUTTING][0]:
            await response.write(b"x" * length)
            await response.write_eof()
            return response
        await response.write(b"x" * part)
        assert request.transport is not None
        request.transport.close()
        raise asyncio.CancelledError  # the connection is gone: nothing more to do

    async def big(request: web.Request) -> web.StreamResponse:
        total = int(request.query["mb"]) * 1024 * 1024
        response = web.StreamResponse(headers={"X-Node": name})
        await response.prepare(request)
        piece = b"b" * 65536
        while app[PROGRESS][0] < total:
            await response.write(piece)
            app[PROGRESS][0] += len(piece)
        await response.write_eof()
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(status=request.app[HEALTH][0])

    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", admitted)
    return app


class Rig:
    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        self.apps: dict[str, web.Application] = {}
        self.urls: dict[str, str] = {}
        self.proxy = ""
        self.proxy_app: Proxy | None = None
        self.http = aiohttp.ClientSession()

    async def start(self, names: list[str], **settings: object) -> None:
        for name in names:
            self.apps[name] = backend_app(name)
            self.urls[name] = await self.stack.enter_async_context(serve(self.apps[name]))
        settings = {"admin_token": TOKEN, "backends": dict(self.urls), "health_interval": 0.1, **settings}
        proxy = await self.stack.enter_async_context(running(ProxySettings(**settings)))  # type: ignore[arg-type]
        self.proxy_app, self.proxy = proxy, proxy.url

    async def node_of(self, path: str = "/", method: str = "GET") -> str:
        async with self.http.request(method, self.proxy + path) as reply:
            assert reply.status == 200, await reply.text()
            return reply.headers["X-Node"]

    async def raw(self) -> RawClient:
        host, port = self.proxy.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        self.stack.callback(writer.close)
        return RawClient(reader, writer)

    async def close(self) -> None:
        await self.http.close()
        await self.stack.aclose()


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, length: int | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.length = len(body) if length is None else length


class RawClient:
    """Bytes exactly as written, answers read exactly as framed: pipelining, 100 Continue, HEAD, cut answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self) -> tuple[int, dict[str, str]]:
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def answer(self, *, head_only: bool = False, keep: bool = True) -> Answer:
        """One whole answer (``keep=False``: only its length); a cut one raises asyncio.IncompleteReadError."""
        status, headers = await self.head()
        if head_only or status in (204, 304):
            return Answer(status, headers, b"")
        if "content-length" in headers:
            return Answer(status, headers, await self.reader.readexactly(int(headers["content-length"])))
        if headers.get("transfer-encoding") == "chunked":
            pieces, length = [], 0
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                piece = await self.reader.readexactly(size)
                length += size
                if keep:
                    pieces.append(piece)
                await self.reader.readexactly(2)
            await self.reader.readexactly(2)
            return Answer(status, headers, b"".join(pieces), length)
        return Answer(status, headers, await self.reader.read())  # until the proxy closes

    async def closed(self) -> bool:
        """True once the proxy has closed the connection (nothing more arrives)."""
        return await self.reader.read(1) == b""
