"""Where the admin API listens and what it takes: bodies up to 64 KiB, on the data port and on --admin-port."""

from __future__ import annotations

import asyncio
import json

import pytest

from proxy.admin import DESCRIPTION
from proxy.admin_site import ADMIN_BODY_LIMIT
from tests.proxy.rig import ADMIN, TARGETS, RawClient, Rig

AUTH = f"Authorization: {ADMIN['Authorization']}\r\n".encode()


async def refused(client: RawClient) -> None:
    """The answer is a 413 and the connection closes, though the body was never sent whole."""
    answer = await asyncio.wait_for(client.answer(), 10)
    assert answer.status == 413, answer.body
    assert str(ADMIN_BODY_LIMIT) in json.loads(answer.body)["error"]
    assert await asyncio.wait_for(client.closed(), 10)


async def test_an_admin_body_announced_too_long_is_refused_before_it_is_read(rig: Rig) -> None:
    await rig.start(["node-1"])
    for method in (b"POST", b"GET"):
        client = await rig.raw()
        await client.send(
            method + b" /_proxy/backends HTTP/1.1\r\nHost: x\r\n" + AUTH + b"Content-Length: 1073741824\r\n\r\n"
        )
        await client.send(b"{" + b" " * 100_000)
        await refused(client)


async def test_a_chunked_admin_body_is_cut_off_past_the_limit(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"POST /_proxy/backends HTTP/1.1\r\nHost: x\r\n" + AUTH + b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 8192
    for _ in range(ADMIN_BODY_LIMIT // len(piece) + 2):
        await client.send(b"2000\r\n" + piece + b"\r\n")  # and the last chunk never comes
    await refused(client)


async def test_an_admin_body_within_the_limit_is_taken(rig: Rig) -> None:
    await rig.start([])
    body = {"name": "node-9", "url": "http://127.0.0.1:9", "note": "n" * (ADMIN_BODY_LIMIT - 100)}
    async with rig.http.post(rig.proxy + "/_proxy/backends", json=body, headers=ADMIN) as reply:
        assert reply.status == 201, await reply.text()


async def test_the_admin_api_on_its_own_loopback_port(rig: Rig) -> None:
    await rig.start(["node-1"], admin_port=0)
    assert rig.proxy_app is not None
    admin = rig.proxy_app.admin_url
    assert admin.startswith("http://127.0.0.1:")
    assert admin != rig.proxy
    async with rig.http.get(admin + "/_proxy/backends", headers=ADMIN) as reply:
        assert [b["name"] for b in (await reply.json())["backends"]] == ["node-1"]
    async with rig.http.get(admin + "/_proxy/backends") as reply:
        assert reply.status == 401
    async with rig.http.post(admin + "/_proxy/backends", data=b"x" * (ADMIN_BODY_LIMIT + 1), headers=ADMIN) as reply:
        assert reply.status == 413
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        assert reply.status == 200, "the data port still serves the admin API unless told not to"


async def test_the_admin_api_can_leave_the_data_port(rig: Rig) -> None:
    await rig.start(["node-1"], admin_port=0, admin_on_data_port=False)
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        assert reply.status == 404
    assert rig.apps["node-1"][TARGETS] == [], "nor does an admin path go to a backend instead"
    assert rig.proxy_app is not None
    async with rig.http.get(rig.proxy_app.admin_url + "/_proxy/backends", headers=ADMIN) as reply:
        assert reply.status == 200


async def test_an_admin_request_without_the_token_is_refused_before_its_body_is_read(rig: Rig) -> None:
    await rig.start(["node-1"], admin_port=0)
    assert rig.proxy_app is not None
    host, port = rig.proxy_app.admin_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        client = RawClient(reader, writer)
        await client.send(b"POST /_proxy/backends HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{")
        answer = await asyncio.wait_for(client.answer(), 10)  # the rest of the body never comes
        assert answer.status == 401, answer.body
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /_proxy/x/..%2f..%2fbackends HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /_proxy/backends#x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /_proxy/backends?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /_proxy/backends HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n",
        b"POST /_proxy/backends HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",
    ],
    ids=["ambiguous", "fragment", "url", "header", "slow-body"],
)
async def test_the_data_ports_own_answers_on_an_admin_path_are_described(rig: Rig, request_head: bytes) -> None:
    await rig.start(["node-1"], header_timeout=0.2)
    client = await rig.raw()
    await client.send(request_head)
    answer = await asyncio.wait_for(client.answer(), 10)
    described = DESCRIPTION["paths"]["/_proxy/backends"]["get" if request_head.startswith(b"GET") else "post"]
    media = answer.headers["content-type"].split(";")[0]
    assert answer.status in (400, 408, 414, 431), answer.body
    assert media in described["responses"][str(answer.status)]["content"], (answer.status, answer.body)
