"""The admin API's answers to bad input: a 400 that names what is wrong, and nothing changed."""

from __future__ import annotations

import pytest

from tests.proxy.rig import ADMIN, Rig


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "a/b", "url": "http://h"}', "name 'a/b'"),  # DELETE /_proxy/backends/{name} could never reach it
        (b'{"name": "a\\u0000b", "url": "http://h"}', "name 'a\\x00b'"),
        (b'{"name": "n", "url": "http://[::1"}', "url 'http://[::1'"),
        (b'{"name": "n", "url": "http://h:99999"}', "url 'http://h:99999'"),
        (b'{"name": "n", "url": "http://h"}\xff', "the body is not UTF-8"),
        (b"[" * 5000, "the body must be JSON"),  # deeper than the json module recurses
    ],
)
async def test_a_backend_that_cannot_be_added_is_refused_naming_the_field(rig: Rig, body: bytes, message: str) -> None:
    await rig.start(["node-1"])
    url = rig.proxy + "/_proxy/backends"
    async with rig.http.post(url, data=body, headers={**ADMIN, "Content-Type": "application/json"}) as reply:
        assert reply.status == 400, await reply.text()
        assert message in (await reply.json())["error"]
    async with rig.http.get(url, headers=ADMIN) as reply:
        assert [b["name"] for b in (await reply.json())["backends"]] == ["node-1"]


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1", "1e999", "x"])
async def test_a_drain_timeout_that_is_no_number_of_seconds_is_refused(rig: Rig, seconds: str) -> None:
    await rig.start(["node-1"])
    async with rig.http.delete(f"{rig.proxy}/_proxy/backends/node-1?drain_timeout={seconds}", headers=ADMIN) as reply:
        assert reply.status == 400, await reply.text()
        assert f"drain_timeout={seconds!r}" in (await reply.json())["error"]
    async with rig.http.get(rig.proxy + "/_proxy/backends", headers=ADMIN) as reply:
        assert [b["name"] for b in (await reply.json())["backends"]] == ["node-1"], "not removed"
