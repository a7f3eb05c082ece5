"""The source store over real HTTP: items, versions, exact counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from farm.source.app import SourceSettings, create_app
from tests.http import serve


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    app = create_app(SourceSettings(tmp_path / "catalog.db", items=50, latency_ms=0))
    async with serve(app) as url, aiohttp.ClientSession(url) as session:
        yield url, session


async def test_items_are_deterministic_and_versioned(source: tuple[str, aiohttp.ClientSession]) -> None:
    _, http = source
    async with http.get("/items/7") as reply:
        assert reply.status == 200
        assert await reply.json() == {"id": 7, "name": "item-7", "price": 55.33, "version": 1}
    async with http.put("/items/7", json={"price": 12.5}, headers={"X-Node": "node-2"}) as reply:
        assert await reply.json() == {"id": 7, "name": "item-7", "price": 12.5, "version": 2}
    async with http.get("/items/7") as reply:
        assert (await reply.json())["version"] == 2


async def test_unknown_items_and_bad_updates(source: tuple[str, aiohttp.ClientSession]) -> None:
    _, http = source
    async with http.get("/items/51") as reply:
        assert reply.status == 404
    async with http.get("/items/abc") as reply:
        assert reply.status == 400
    async with http.put("/items/1", json={"version": 9}) as reply:
        assert reply.status == 400
        assert "field 'version' cannot be changed" in await reply.text()
    async with http.put("/items/1", data=b"{not json") as reply:
        assert reply.status == 400


async def test_counters_are_exact_per_key_and_node(source: tuple[str, aiohttp.ClientSession]) -> None:
    _, http = source
    for node, item in [("node-1", 1), ("node-1", 2), ("node-2", 1)]:
        async with http.get(f"/items/{item}", headers={"X-Node": node}):
            pass
    async with http.put("/items/3", json={"name": "x"}, headers={"X-Node": "node-2"}):
        pass
    async with http.get("/stats") as reply:
        assert await reply.json() == {
            "requests": 4,
            "reads": 3,
            "writes": 1,
            "lost_write_replies": 0,
            "by_key": {"1": 2, "2": 1, "3": 1},
            "by_node": {"node-1": 2, "node-2": 2},
        }
    async with http.post("/stats/reset") as reply:
        assert (await reply.json())["requests"] == 0


async def test_latency_is_added_to_every_request(tmp_path: Path) -> None:
    import time

    app = create_app(SourceSettings(tmp_path / "c.db", items=5, latency_ms=60))
    async with serve(app) as url, aiohttp.ClientSession(url) as http:
        started = time.monotonic()
        async with http.get("/items/1") as reply:
            assert reply.status == 200
        assert time.monotonic() - started >= 0.06
