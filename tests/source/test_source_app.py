"""The source store over real HTTP: items, versions, exact counters."""

from __future__ import annotations

import asyncio
import time
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
            "overlapping_writes": 0,
            "fenced_writes": 0,
            "late_writes": 0,
        }
    async with http.get("/stats/reads-by-node") as reply:
        assert await reply.json() == {"node-1": {"1": 1, "2": 1}, "node-2": {"1": 1}}, "reads only"
    async with http.post("/stats/reset") as reply:
        assert (await reply.json())["requests"] == 0
    async with http.get("/stats/reads-by-node") as reply:
        assert await reply.json() == {}


async def test_latency_is_added_to_every_request(tmp_path: Path) -> None:
    import time

    app = create_app(SourceSettings(tmp_path / "c.db", items=5, latency_ms=60))
    async with serve(app) as url, aiohttp.ClientSession(url) as http:
        started = time.monotonic()
        async with http.get("/items/1") as reply:
            assert reply.status == 200
        assert time.monotonic() - started >= 0.06


async def test_a_write_with_an_older_fence_than_one_applied_is_refused(
    source: tuple[str, aiohttp.ClientSession],
) -> None:
    _, http = source
    async with http.put("/items/4", json={"price": 1.0}, headers={"X-Fence": "20"}) as reply:
        assert (await reply.json())["version"] == 2
    async with http.put("/items/4", json={"price": 2.0}, headers={"X-Fence": "10"}) as reply:
        assert reply.status == 409
        assert "X-Fence 10 is older than 20" in await reply.text()
    async with http.put("/items/4", json={"price": 3.0}, headers={"X-Fence": "20"}) as reply:
        assert (await reply.json())["version"] == 3, "the same holder may write again"
    async with http.put("/items/5", json={"price": 3.0}, headers={"X-Fence": "1"}) as reply:
        assert reply.status == 200, "fences are per item"
    async with http.put("/items/4", json={"price": 4.0}, headers={"X-Fence": "x"}) as reply:
        assert reply.status == 400
        assert "X-Fence must be a whole number" in await reply.text()
    async with http.get("/stats") as reply:
        assert (await reply.json())["fenced_writes"] == 1
    async with http.get("/items/4") as reply:
        assert (await reply.json())["version"] == 3


async def test_a_write_whose_deadline_passed_before_it_was_applied_is_refused(tmp_path: Path) -> None:
    """The source counts the write on arrival and applies it after its latency: past the deadline by then."""
    app = create_app(SourceSettings(tmp_path / "catalog.db", items=5, latency_ms=100))
    async with serve(app) as url, aiohttp.ClientSession(url) as http:
        deadline = time.time() + 0.05
        async with http.put("/items/1", json={"price": 1.0}, headers={"X-Deadline": f"{deadline:.6f}"}) as reply:
            assert reply.status == 412
        async with http.put("/items/1", json={"price": 1.0}, headers={"X-Deadline": f"{time.time() + 5:.6f}"}) as reply:
            assert reply.status == 200
            assert (await reply.json())["version"] == 2, "the late write was never applied"
        async with http.get("/stats") as reply:
            stats = await reply.json()
        assert (stats["writes"], stats["late_writes"]) == (2, 1)


async def test_overlapping_writes_of_one_item_are_counted(tmp_path: Path) -> None:
    app = create_app(SourceSettings(tmp_path / "catalog.db", items=5, latency_ms=50))
    async with serve(app) as url, aiohttp.ClientSession(url) as http:

        async def put(item: int) -> int:
            async with http.put(f"/items/{item}", json={"price": 1.0}) as reply:
                return reply.status

        assert list(await asyncio.gather(put(1), put(1), put(1), put(2))) == [200] * 4
        async with http.get("/stats") as reply:
            assert (await reply.json())["overlapping_writes"] == 2
        assert await put(1) == 200
        async with http.post("/stats/reset") as reply:
            assert (await reply.json())["overlapping_writes"] == 0


@pytest.mark.parametrize(
    ("item", "status"),
    [
        ("99999999999999999999999", 404),  # beyond SQLite's integers: no such item, not a server error
        ("-1", 400),
        ("+1", 400),
        ("1_0", 400),
        ("%D9%A1", 400),  # an Arabic-Indic one: int() takes it, an id is ASCII digits
    ],
)
async def test_an_item_id_is_ascii_digits_and_any_size_is_answered(
    source: tuple[str, aiohttp.ClientSession], item: str, status: int
) -> None:
    _, http = source
    async with http.get(f"/items/{item}") as reply:
        assert reply.status == status, await reply.text()
    async with http.put(f"/items/{item}", json={"name": "x"}) as reply:
        assert reply.status == status, await reply.text()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"price": NaN}', "field 'price' must be a finite number"),
        (b'{"price": Infinity}', "field 'price' must be a finite number"),
        (b'{"price": 1e400}', "field 'price' must be a finite number"),
        (b'{"price": 1' + b"0" * 400 + b"}", "field 'price' must be a finite number"),
        (b'{"name": "\\ud800"}', "field 'name' must be text without lone surrogates"),
        (b'{"name": "x"}\xff', "the body is not UTF-8"),
        (b'{"price": 1' + b"0" * 5000 + b"}", "the body is not JSON"),
        (b"[" * 100_000, "the body is not JSON"),
    ],
)
async def test_an_update_the_catalog_cannot_hold_is_refused_and_changes_nothing(
    source: tuple[str, aiohttp.ClientSession], body: bytes, message: str
) -> None:
    _, http = source
    async with http.put("/items/4", data=body, headers={"Content-Type": "application/json"}) as reply:
        assert reply.status == 400
        assert message in await reply.text()
    async with http.get("/items/4") as reply:
        assert (await reply.json())["version"] == 1


@pytest.mark.parametrize(("header", "value"), [("X-Deadline", "nan"), ("X-Deadline", "inf"), ("X-Fence", "\u0661")])
async def test_a_write_condition_that_is_no_number_is_refused(
    source: tuple[str, aiohttp.ClientSession], header: str, value: str
) -> None:
    _, http = source
    async with http.put("/items/4", json={"name": "x"}, headers={header: value}) as reply:
        assert reply.status == 400
        assert header in await reply.text()
