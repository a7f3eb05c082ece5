"""Faults on a link, seen by real TCP clients of a real echo server and a real redis-server."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio

from farm.testing.servers import ServerProcess
from tests.faults.conftest import Echo, FaultProxy

LINK = "node-1/echo"
QUIET_S = 0.3
"""How long a test watches for bytes that must not arrive."""


async def healed(proxy: FaultProxy, deadline_s: float = 5.0) -> None:
    """Returns once the fault proxy has no fault left (polled, with a deadline)."""
    for _ in range(int(deadline_s / 0.05)):
        if not proxy.table.faults:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"still active after {deadline_s} s: {list(proxy.table.faults)}")


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port(LINK))


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), 5)


async def test_bytes_pass_unchanged_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"hello" * 10000) == b"hello" * 10000
    writer.close()


async def test_partition_holds_bytes_both_ways_and_delivers_them_on_heal(proxy: FaultProxy, echo: Echo) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"before") == b"before"
    fault = await proxy.fault(kind="partition", links=[LINK])
    writer.write(b"held")
    late_reader, late_writer = await connect(proxy)  # accepted, but carries nothing
    late_writer.write(b"late")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(4), QUIET_S)
    assert bytes(echo.received) == b"before"
    status, _ = await proxy.call("DELETE", f"/faults/{fault['id']}")
    assert status == 200
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"held"
    assert await asyncio.wait_for(late_reader.readexactly(4), 5) == b"late"
    writer.close()
    late_writer.close()


async def test_latency_delays_each_chunk_and_keeps_their_order(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.fault(kind="latency", links=[LINK], ms=50, jitter_ms=40)
    started = time.monotonic()
    sent = [f"chunk-{i};".encode() for i in range(20)]
    for chunk in sent:
        writer.write(chunk)
        await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(sum(map(len, sent))), 5)
    assert got == b"".join(sent)
    assert time.monotonic() - started >= 2 * 0.010  # at least ms - jitter_ms, each way
    writer.close()


async def test_reset_cuts_open_connections_with_rst(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"ping") == b"ping"
    fault = await proxy.fault(kind="reset", links=[LINK])
    assert fault["ends_at"] == fault["started"]
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 5)
    _, listed = await proxy.call("GET", "/faults")
    assert listed == {"faults": []}  # done as it started
    reader, writer = await connect(proxy)  # new connections are not cut
    assert await round_trip(reader, writer, b"again") == b"again"
    writer.close()


async def test_reset_with_a_duration_cuts_new_connections_until_it_heals_by_itself(proxy: FaultProxy) -> None:
    fault = await proxy.fault(kind="reset", links=[LINK], duration_s=0.5)
    reader, writer = await connect(proxy)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(round_trip(reader, writer, b"x"), 5)
    assert fault["ends_at"] == pytest.approx(fault["started"] + 0.5)
    await healed(proxy)
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer, b"back") == b"back"
    writer.close()


async def test_partition_with_a_duration_heals_by_itself_and_delivers(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    await proxy.fault(kind="partition", links=[LINK], duration_s=0.3)
    assert await round_trip(reader, writer, b"waited") == b"waited"
    _, listed = await proxy.call("GET", "/faults")
    assert listed == {"faults": []}
    writer.close()


async def test_a_redis_command_sent_during_a_partition_lands_after_heal(redis_server: ServerProcess) -> None:
    from faults.table import FaultTable

    table = FaultTable()
    link = await table.add_link("node-1/cache", 0, "127.0.0.1", redis_server.port)
    client = redis.asyncio.Redis(host="127.0.0.1", port=link.listen_port)
    try:
        await client.set("faults-test", "before")
        table.add_fault({"kind": "partition", "links": ["node-1/cache"]})

        async def write_during() -> object:
            return await client.set("faults-test", "during")

        pending = asyncio.create_task(write_during())
        done, _ = await asyncio.wait({pending}, timeout=QUIET_S)
        assert not done
        direct = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port)
        assert await direct.get("faults-test") == b"before"
        table.heal_all()
        assert await asyncio.wait_for(pending, 5) is True
        assert await direct.get("faults-test") == b"during"
        await direct.aclose()
    finally:
        await client.aclose()
        await table.close()
