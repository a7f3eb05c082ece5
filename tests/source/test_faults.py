"""The source store's run-time faults over real HTTP: latency changed while it runs, writes whose reply is lost."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from farm.source.app import SourceSettings, create_app
from farm.source.faults import SourceFaults, changed
from farm.testing.running import http
from tests.http import serve


@dataclass(frozen=True)
class Source:
    url: str
    http: aiohttp.ClientSession


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[Source]:
    app = create_app(SourceSettings(tmp_path / "catalog.db", items=50, latency_ms=0, seed=7))
    async with serve(app) as url, aiohttp.ClientSession(url) as session:
        yield Source(url, session)


async def test_control_shows_and_changes_the_latency_while_it_runs(source: Source) -> None:
    async with source.http.get("/control") as reply:
        assert await reply.json() == {"latency_ms": 0.0, "jitter_ms": 0.0, "fail_writes_after_apply": 0.0}
    async with source.http.put("/control", json={"latency_ms": 80}) as reply:
        assert reply.status == 200
        assert (await reply.json())["latency_ms"] == 80.0
    started = time.monotonic()
    async with source.http.get("/items/1") as reply:
        assert reply.status == 200
    assert time.monotonic() - started >= 0.08


async def test_a_lost_reply_follows_an_applied_write_and_is_counted(source: Source) -> None:
    async with source.http.put("/control", json={"fail_writes_after_apply": 1}) as reply:
        assert reply.status == 200
    with pytest.raises(ConnectionResetError):  # http.client's RemoteDisconnected
        await asyncio.to_thread(put_once, f"{source.url}/items/3", {"price": 1.25})
    async with source.http.get("/items/3") as reply:
        assert await reply.json() == {"id": 3, "name": "item-3", "price": 1.25, "version": 2}
    async with source.http.get("/stats") as reply:
        assert (await reply.json())["lost_write_replies"] == 1


def put_once(url: str, body: dict[str, Any]) -> int:
    """One PUT, never sent again: aiohttp's client repeats a PUT by itself when the connection drops."""
    return http("PUT", url, json.dumps(body).encode()).status


async def _lost_pattern(tmp_path: Path, name: str) -> list[bool]:
    app = create_app(SourceSettings(tmp_path / name, items=5, latency_ms=0, seed=11, fail_writes_after_apply=0.5))
    lost = []
    async with serve(app) as url:
        for _ in range(12):
            try:
                lost.append(await asyncio.to_thread(put_once, f"{url}/items/1", {"price": 2.0}) != 200)
            except ConnectionResetError:
                lost.append(True)
    return lost


async def test_which_writes_lose_their_reply_repeats_with_the_seed(tmp_path: Path) -> None:
    first, second = await _lost_pattern(tmp_path, "a.db"), await _lost_pattern(tmp_path, "b.db")
    assert first == second
    assert 0 < sum(first) < len(first)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"latency_ms": -1}, "latency_ms: must be between 0 and 60000, not -1"),
        ({"fail_writes_after_apply": 1.5}, "fail_writes_after_apply: must be between 0 and 1, not 1.5"),
        ({"jitter_ms": "lots"}, "jitter_ms: must be a number, not 'lots'"),
        ({"latency_ms": True}, "latency_ms: must be a number, not True"),
        # A latency of years would stall every request that follows it, and the store's own health checks.
        ({"latency_ms": 1e300}, "latency_ms: must be between 0 and 60000, not 1e+300"),
        ({"jitter_ms": 60_001}, "jitter_ms: must be between 0 and 60000, not 60001"),
        ({"jitter_ms": 10**400}, "jitter_ms: must be between 0 and 60000, not 1000"),
        ({"colour": 1}, "colour: unknown field: use latency_ms, jitter_ms, fail_writes_after_apply"),
        ([], "(body): give a JSON object"),
    ],
)
async def test_a_bad_control_value_is_refused_naming_the_field(source: Source, body: object, message: str) -> None:
    async with source.http.put("/control", json=body) as reply:
        assert reply.status == 400
        assert message in await reply.text()
    async with source.http.get("/control") as reply:
        assert (await reply.json())["latency_ms"] == 0.0, "nothing changed"


async def test_a_control_body_that_is_not_json_is_refused(source: Source) -> None:
    async with source.http.put("/control", data=b"{latency") as reply:
        assert reply.status == 400
        assert "the body is not JSON" in await reply.text()


def test_a_change_applies_all_its_fields_or_none() -> None:
    before = SourceFaults(latency_ms=5)
    with pytest.raises(ValueError, match="jitter_ms"):
        changed(before, {"latency_ms": 50, "jitter_ms": -2})
    assert changed(before, {"jitter_ms": 3}) == SourceFaults(latency_ms=5, jitter_ms=3)
