"""The proxy over real HTTP, in front of real (small) aiohttp backends."""

from __future__ import annotations

import asyncio
import io
import os
from collections import Counter

import pytest

from farm.ports import free_port
from proxy.backends import BackendPool
from proxy.discovery import sync_once
from tests.http import serve
from tests.proxy.rig import ADMIN, HEALTH, SEEN, TOKEN, Rig, backend_app


async def test_thirty_requests_spread_ten_ten_ten(rig: Rig) -> None:
    await rig.start(["node-1", "node-2", "node-3"])
    assert Counter([await rig.node_of() for _ in range(30)]) == {"node-1": 10, "node-2": 10, "node-3": 10}


async def test_forwarded_headers_added_and_hop_by_hop_headers_stripped(rig: Rig) -> None:
    await rig.start(["node-1"])
    headers = {"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "X-End-To-End": "2", "TE": "trailers"}
    async with rig.http.get(rig.proxy + "/path?q=1", headers=headers) as reply:
        assert reply.status == 200
        assert "Keep-Alive" not in reply.headers
    seen = rig.apps["node-1"][SEEN][-1]
    assert seen["X-End-To-End"] == "2"
    assert "X-Secret-Hop" not in seen
    assert "TE" not in seen
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Host"] == rig.proxy.removeprefix("http://")


async def test_bodies_stream_both_ways(rig: Rig) -> None:
    # The backend shares the test's loop, which 5 MB each way keeps busy: no health check may fail it meanwhile.
    await rig.start(["node-1"], health_interval=5.0)
    big = os.urandom(5 * 1024 * 1024)
    async with rig.http.put(rig.proxy + "/upload", data=io.BytesIO(big)) as reply:
        assert await reply.read() == big
    async with rig.http.get(rig.proxy + "/stream") as reply:
        body = await reply.read()
    assert len(body) == 100 * 50_000
    assert body[:50_000] == b"\x00" * 50_000
    assert body[-1:] == bytes([99])


async def test_a_dead_backend_costs_idempotent_requests_nothing(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    assert rig.proxy_app is not None
    pool = rig.proxy_app.pool
    pool.add("dead", f"http://127.0.0.1:{free_port()}")
    nodes = [await rig.node_of() for _ in range(12)]
    assert set(nodes) == {"node-1", "node-2"}, "every GET succeeded on a live backend"
    assert pool.get("dead").state == "down"
    assert pool.get("dead").errors >= 1


async def test_a_request_with_a_body_is_not_retried(rig: Rig) -> None:
    await rig.start([])
    dead = {"name": "dead", "url": f"http://127.0.0.1:{free_port()}"}
    async with rig.http.post(rig.proxy + "/_proxy/backends", json=dead, headers=ADMIN) as reply:
        assert reply.status == 201
    async with rig.http.post(rig.proxy + "/orders", data=b"pay once") as reply:
        assert reply.status == 502
        assert "backend dead failed" in await reply.text()


async def test_health_checks_take_backends_out_and_back(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    rig.apps["node-2"][HEALTH][0] = 503
    await asyncio.sleep(0.4)
    assert {await rig.node_of() for _ in range(6)} == {"node-1"}
    rig.apps["node-2"][HEALTH][0] = 200
    await asyncio.sleep(0.4)
    assert {await rig.node_of() for _ in range(6)} == {"node-1", "node-2"}


async def test_a_backend_too_slow_gets_a_504(rig: Rig) -> None:
    await rig.start(["node-1"], backend_timeout=0.2)
    async with rig.http.get(rig.proxy + "/slow?s=1") as reply:
        assert reply.status == 504


async def test_no_backend_gets_a_502(rig: Rig) -> None:
    await rig.start([])
    async with rig.http.get(rig.proxy + "/") as reply:
        assert reply.status == 502
        assert "no backend" in await reply.text()


async def test_the_admin_api_needs_the_token(rig: Rig) -> None:
    await rig.start(["node-1"])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        async with rig.http.get(rig.proxy + "/_proxy/backends", headers=headers) as reply:
            assert reply.status == 401
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        backends = (await reply.json())["backends"]
    assert [(b["name"], b["state"]) for b in backends] == [("node-1", "up")]


async def test_add_and_drain_remove_through_the_admin_api(rig: Rig) -> None:
    await rig.start(["node-1"])
    extra = await rig.stack.enter_async_context(serve(backend_app("node-2")))
    async with rig.http.post(rig.proxy + "/_proxy/backends", json={"name": "node-2", "url": extra}, headers=ADMIN) as r:
        assert r.status == 201
    async with rig.http.post(rig.proxy + "/_proxy/backends", json={"name": "node-2", "url": extra}, headers=ADMIN) as r:
        assert r.status == 409
    async with rig.http.post(rig.proxy + "/_proxy/backends", json={"name": "x", "url": "ftp://h"}, headers=ADMIN) as r:
        assert r.status == 400
    assert {await rig.node_of() for _ in range(4)} == {"node-1", "node-2"}

    async def slow_request() -> tuple[int, str]:
        async with rig.http.get(rig.proxy + "/slow?s=0.5") as reply:
            return reply.status, reply.headers["X-Node"]

    in_flight = [asyncio.create_task(slow_request()) for _ in range(2)]  # one on each backend
    await asyncio.sleep(0.1)
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        before = {b["name"]: b["in_flight"] for b in (await reply.json())["backends"]}
    assert before == {"node-1": 1, "node-2": 1}
    async with rig.http.delete(rig.proxy + "/_proxy/backends/node-2?drain_timeout=5", headers=ADMIN) as reply:
        result = await reply.json()
    assert result["drained"] is True
    assert result["removed"]["in_flight"] == 0, "the removal waited for the request in flight on node-2"
    assert sorted([await task for task in in_flight]) == [(200, "node-1"), (200, "node-2")]
    assert {await rig.node_of() for _ in range(4)} == {"node-1"}
    assert rig.proxy_app is not None
    assert rig.proxy_app.pool.held == {"node-2"}, "DNS discovery would add the drained backend back"
    async with rig.http.delete(rig.proxy + "/_proxy/backends/node-2", headers=ADMIN) as reply:
        assert reply.status == 404
    async with rig.http.post(rig.proxy + "/_proxy/backends", json={"name": "node-2", "url": extra}, headers=ADMIN) as r:
        assert r.status == 201
    assert rig.proxy_app.pool.held == set(), "added back by the admin: discovery may keep it"


async def test_metrics_in_prometheus_format(rig: Rig) -> None:
    await rig.start(["node-1"])
    for _ in range(3):
        await rig.node_of()
    async with rig.http.get(rig.proxy + "/_proxy/metrics", headers=ADMIN) as reply:
        text = await reply.text()
    assert 'farm_proxy_requests_total{backend="node-1"} 3.0' in text
    assert 'farm_proxy_backend_up{backend="node-1"} 1.0' in text


async def test_dns_discovery_adds_what_the_name_resolves_to() -> None:
    pool = BackendPool()
    await sync_once(pool, "localhost", 8123, drain_seconds=1)
    assert "http://127.0.0.1:8123" in {b.url for b in pool}
    pool.add("localhost@10.0.0.9", "http://10.0.0.9:8123")  # a replica that went away
    await sync_once(pool, "localhost", 8123, drain_seconds=1)
    assert "localhost@10.0.0.9" not in {b.name for b in pool}


async def test_dns_discovery_leaves_out_a_replica_the_admin_removed_until_it_stops_resolving() -> None:
    pool = BackendPool()
    await sync_once(pool, "localhost", 8123, drain_seconds=1)
    name = next(b.name for b in pool)
    pool.held.add(name)  # what DELETE /_proxy/backends/NAME does first
    pool.remove(name)
    await sync_once(pool, "localhost", 8123, drain_seconds=1)
    assert name not in {b.name for b in pool}, "a drained replica came back while it still resolved"
    pool.held.add("localhost@10.0.0.9")  # drained, then gone from DNS: it is no longer held
    await sync_once(pool, "localhost", 8123, drain_seconds=1)
    assert pool.held == {name}


async def test_a_backends_password_is_masked_in_the_log_and_the_admin_api(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.start([])
    async with rig.http.post(
        rig.proxy + "/_proxy/backends", headers=ADMIN, json={"name": "cred", "url": "http://user:hunter2@127.0.0.1:9"}
    ) as reply:
        assert (reply.status, (await reply.json())["url"]) == (201, "http://user:***@127.0.0.1:9")
    assert rig.proxy_app is not None
    backend = rig.proxy_app.pool.get("cred")
    for _ in range(100):  # until the health check has found it down, and said so
        if backend.state == "down":
            break
        await asyncio.sleep(0.05)
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        assert [b["url"] for b in (await reply.json())["backends"]] == ["http://user:***@127.0.0.1:9"]
    assert "backend cred (http://user:***@127.0.0.1:9) is down" in caplog.text
    assert "hunter2" not in caplog.text
