"""The data path over raw HTTP/1.1: framing, connections, bodies both ways, and failures on either side."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable

import pytest

from tests.proxy.rig import BROKEN, CUTTING, GATE, PEERS, PROGRESS, SEEN, Rig


async def until(check: Callable[[], object]) -> None:
    """Returns once ``check()`` is true; a hang (10 s) fails the test."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("what the test waits for never happened")


async def settled(read: list[int]) -> int:
    """``read[0]`` once it stops growing: how far a stream got while nobody on the other side read."""
    last = -1
    for _ in range(200):
        await asyncio.sleep(0.05)
        if read[0] == last:
            return last
        last = read[0]
    raise AssertionError(f"still moving after 10 s: {read[0]:,} bytes")


async def test_pipelined_requests_are_answered_in_order(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    client = await rig.raw()
    await client.send(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answers = [await client.answer() for _ in range(3)]
    assert [(a.status, a.headers["x-path"]) for a in answers] == [(200, "/a"), (200, "/b"), (200, "/c")]
    assert answers[1].body == b"hello"


async def test_nothing_pipelined_behind_a_connection_close_request_is_forwarded(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(
        b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answer = await client.answer()
    assert (answer.headers["x-path"], answer.headers["connection"]) == ("/last", "close")
    assert await client.closed()
    assert len(rig.apps["node-1"][SEEN]) == 1


async def test_a_request_sent_a_byte_at_a_time_is_parsed_whole(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    for byte in b"PUT /slowly HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc":
        await client.send(bytes([byte]))
    answer = await client.answer()
    assert (answer.status, answer.headers["x-path"], answer.body) == (200, "/slowly", b"abc")


async def test_chunked_bodies_both_ways(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
    )
    answer = await client.answer()
    assert answer.body == b"hello world", "the backend got the chunked body whole"
    await client.send(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await client.answer()
    assert answer.headers["transfer-encoding"] == "chunked", "an answer of unknown length is streamed in chunks"
    assert len(answer.body) == 100 * 50_000
    assert answer.body[-1:] == bytes([99])
    await client.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await client.answer()).headers["x-path"] == "/after", "the connection stays in step after both"


async def test_expect_100_continue_is_answered_before_the_body_is_sent(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    status, _ = await client.head()
    assert status == 100
    await client.send(b"data")
    answer = await client.answer()
    assert (answer.status, answer.body) == (200, b"data")
    assert "Expect" not in rig.apps["node-1"][SEEN][-1], "the proxy answered the expectation itself"


async def test_keep_alive_connections_to_the_backend_are_reused(rig: Rig) -> None:
    await rig.start(["node-1"])
    for _ in range(3):
        client = await rig.raw()  # a new client connection each time
        for _ in range(3):
            await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await client.answer()).status == 200
    peers: list[int] = rig.apps["node-1"][PEERS]
    assert len(set(peers)) == 1, "nine requests, one connection to the backend"


async def test_head_answers_carry_no_body_and_leave_both_connections_usable(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    for path in (b"/one", b"/two"):
        await client.send(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await client.answer(head_only=True)
        assert (answer.status, answer.headers["content-length"]) == (200, "6")
        await client.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await client.answer()
        assert (answer.headers["x-path"], answer.body) == ("/after", b"node-1")
    peers: list[int] = rig.apps["node-1"][PEERS]
    assert len(set(peers)) == 1


async def test_an_http_1_0_client_gets_an_answer_of_unknown_length_ended_by_the_close(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /stream HTTP/1.0\r\n\r\n")
    answer = await client.answer()
    assert "transfer-encoding" not in answer.headers
    assert len(answer.body) == 100 * 50_000


async def test_a_bad_request_gets_a_400_and_the_connection_closes(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    assert (await client.answer()).status == 400
    assert await client.closed()
    assert rig.apps["node-1"][SEEN] == []


async def test_an_idempotent_request_cut_mid_answer_is_retried_on_another_backend(rig: Rig) -> None:
    await rig.start(["node-1", "node-2"])
    rig.apps["node-1"][CUTTING][0] = True
    for _ in range(2):  # whichever the round robin picks first
        async with rig.http.get(rig.proxy + "/cut") as reply:
            assert (reply.status, reply.headers["X-Node"], len(await reply.read())) == (200, "node-2", 1000)
    assert rig.proxy_app is not None
    assert rig.proxy_app.pool.get("node-1").state == "down"


async def test_a_write_cut_mid_answer_gets_a_502(rig: Rig) -> None:
    await rig.start(["node-1"])
    rig.apps["node-1"][CUTTING][0] = True
    async with rig.http.post(rig.proxy + "/cut", data=b"once") as reply:
        assert reply.status == 502
        assert "backend node-1 failed" in await reply.text()


async def test_a_long_answer_cut_mid_way_is_cut_for_the_client_too(rig: Rig) -> None:
    await rig.start(["node-1"])
    rig.apps["node-1"][CUTTING][0] = True
    client = await rig.raw()
    await client.send(b"GET /cut?length=1000000&part=300000 HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(asyncio.IncompleteReadError) as cut:
        await client.answer()
    assert len(cut.value.partial) < 1_000_000, "the client can tell: fewer bytes than Content-Length, then a close"


async def test_a_backend_silent_mid_answer_for_the_timeout_has_the_answer_cut(rig: Rig) -> None:
    await rig.start(["node-1"], backend_timeout=0.2)
    client = await rig.raw()
    await client.send(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(asyncio.IncompleteReadError) as cut:
        await client.answer()
    assert len(cut.value.partial) == 300_000
    assert rig.proxy_app is not None
    assert rig.proxy_app.pool.get("node-1").last_error == "no answer within 0.2 s"


async def test_an_upgrade_request_is_answered_as_plain_http_then_the_connection_closes(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    answer = await client.answer()
    assert (answer.status, answer.headers["x-path"]) == (200, "/ws")
    assert await client.closed()
    assert "Upgrade" not in rig.apps["node-1"][SEEN][-1]


@pytest.mark.timeout(10)  # a backend connection reused half-way would swallow the next request: no answer
async def test_a_client_gone_mid_body_leaves_no_half_sent_request_on_a_backend_connection(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"z" * 100_000)
    await until(lambda: rig.apps["node-1"][SEEN])
    client.writer.close()
    await until(lambda: rig.apps["node-1"][BROKEN])
    for _ in range(3):
        async with rig.http.get(rig.proxy + "/next") as reply:
            assert (reply.status, reply.headers["X-Path"]) == (200, "/next")
    assert rig.apps["node-1"][BROKEN] == ["/gone"]


@pytest.mark.timeout(10)
async def test_a_client_gone_while_waiting_leaves_no_late_answer_for_the_next_request(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /slow?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
    await until(lambda: rig.apps["node-1"][SEEN])
    client.writer.close()
    async with rig.http.get(rig.proxy + "/next") as reply:
        assert (reply.status, reply.headers["X-Path"]) == (200, "/next"), "never the /slow answer"


async def test_a_slow_reader_holds_a_large_answer_back_at_the_backend(rig: Rig) -> None:
    await rig.start(["node-1"])
    client = await rig.raw()
    await client.send(b"GET /big?mb=64 HTTP/1.1\r\nHost: x\r\n\r\n")
    held_at = await settled(rig.apps["node-1"][PROGRESS])
    assert held_at < 32 * 1024 * 1024, f"the backend wrote {held_at:,} bytes to a client that read none"
    answer = await client.answer(keep=False)
    assert answer.length == 64 * 1024 * 1024


async def test_a_large_upload_is_streamed_to_the_backend_not_held_whole(rig: Rig) -> None:
    await rig.start(["node-1"])
    total, sent, digest = 48 * 1024 * 1024, [0], hashlib.sha256()

    async def upload() -> AsyncIterator[bytes]:
        while sent[0] < total:
            piece = os.urandom(64 * 1024)
            digest.update(piece)
            sent[0] += len(piece)
            yield piece

    request = asyncio.create_task(rig.http.put(rig.proxy + "/hold", data=upload()))
    held_at = await settled(sent)
    assert held_at < total // 2, f"the proxy took {held_at:,} bytes while the backend read none"
    rig.apps["node-1"][GATE].set()
    async with await request as reply:
        assert await reply.text() == str(total)
        assert reply.headers["X-Sha256"] == digest.hexdigest()


async def test_a_shutdown_lets_requests_in_flight_finish(rig: Rig) -> None:
    await rig.start(["node-1"])
    assert rig.proxy_app is not None
    slow = asyncio.create_task(rig.http.get(rig.proxy + "/slow?s=0.3"))
    await until(lambda: rig.apps["node-1"][SEEN])
    await rig.proxy_app.aclose(drain_timeout=5)
    async with await slow as reply:
        assert (reply.status, await reply.read()) == (200, b"node-1")
