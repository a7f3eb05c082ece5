"""A fault proxy in the test's own event loop, in front of a real echo server, with its control API on a port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from faults.control import control_app
from faults.table import FaultTable
from tests.http import serve

TOKEN = "test-token"


@dataclass
class Echo:
    """Sends back what it gets; counts what reached it."""

    port: int = 0
    received: bytearray = field(default_factory=bytearray)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                self.received += chunk
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    server = Echo()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    yield server
    listening.close()
    await listening.wait_closed()


@dataclass
class FaultProxy:
    table: FaultTable
    url: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: object = None, token: str = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as reply:
            return reply.status, await reply.json()

    async def fault(self, **body: object) -> dict[str, Any]:
        status, reply = await self.call("POST", "/faults", body)
        assert status == 201, reply
        return dict(reply)

    def port(self, link: str) -> int:
        return self.table.links[link].listen_port


@pytest.fixture
async def proxy(echo: Echo) -> AsyncIterator[FaultProxy]:
    table = FaultTable()
    await table.add_link("node-1/echo", 0, "127.0.0.1", echo.port)
    async with serve(control_app(table, TOKEN)) as url, aiohttp.ClientSession() as http:
        yield FaultProxy(table, url, http)
