"""The node as its own process: SIGTERM lets the requests in flight finish, then it exits 0; its access log is off
unless asked for."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp

from farm.ports import free_port
from farm.source.app import SourceSettings
from farm.source.app import create_app as create_source
from tests.http import serve


async def test_sigterm_finishes_requests_in_flight_and_exits_0(tmp_path: Path) -> None:
    slow_source = create_source(SourceSettings(tmp_path / "c.db", items=10, latency_ms=700))
    async with serve(slow_source) as source_url, aiohttp.ClientSession() as http:
        port = free_port()
        node = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nodes",
            "--name",
            "node-1",
            "--port",
            str(port),
            "--source",
            source_url,
            "--cache",
            "none",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                async with http.get(url + "/healthz") as reply:
                    if reply.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        in_flight = asyncio.create_task(http.get(url + "/items/3"))
        await asyncio.sleep(0.2)  # the request now waits on the slow source store
        node.send_signal(signal.SIGTERM)
        reply = await in_flight
        assert reply.status == 200
        assert (await reply.json())["id"] == 3
        reply.release()
        assert await asyncio.wait_for(node.wait(), 15) == 0


async def _node_log(http: aiohttp.ClientSession, *flags: str) -> str:
    """What a node started with ``flags`` writes to stderr while it answers two requests and stops."""
    port = free_port()
    node = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "nodes", "--name", "node-1", "--port", str(port), "--source", "http://127.0.0.1:9"],
        *["--cache", "none", *flags],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                async with http.get(url + "/healthz") as reply:
                    if reply.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        async with http.get(url + "/stats") as reply:
            assert reply.status == 200
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.stderr is not None
        log = (await node.stderr.read()).decode()
        await asyncio.wait_for(node.wait(), 15)
    return log


async def test_the_access_log_is_off_unless_asked_for() -> None:
    async with aiohttp.ClientSession() as http:
        quiet, logged = await asyncio.gather(_node_log(http), _node_log(http, "--access-log"))
    assert "starting on port" in quiet, "the node's own log lines are still written"
    assert "GET /stats" not in quiet
    assert re.search(r'node-1 INFO aiohttp\.access: .*"GET /stats HTTP/1\.1" 200', logged)
