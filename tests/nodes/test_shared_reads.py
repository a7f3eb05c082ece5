"""Who may share a source read in flight, on its own (the reads are stand-ins that the test answers)."""

from __future__ import annotations

import asyncio
import time

import pytest

from nodes.shared_reads import SharedReads

NEVER = 600.0


class Source:
    """Reads that wait until the test answers them, in the order they began."""

    def __init__(self) -> None:
        self.began: list[asyncio.Future[str]] = []

    async def read(self) -> str:
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.began.append(answer)
        return await answer


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_misses_with_the_same_observation_share_the_read_in_flight_whenever_they_come() -> None:
    reads, source = SharedReads[str](), Source()
    first = asyncio.create_task(reads.read("item:1", 7, source.read))
    await settle()
    later = [asyncio.create_task(reads.read("item:1", 7, source.read)) for _ in range(5)]
    other_fence = asyncio.create_task(reads.read("item:1", 8, source.read))
    await settle()
    assert len(source.began) == 2, "one read per observation"
    source.began[0].set_result("v1")
    source.began[1].set_result("v1 again")
    assert await asyncio.gather(first, *later) == ["v1"] * 6
    assert await other_fence == "v1 again"
    await settle()
    assert len(reads) == 0, "forgotten once they ended (no linger)"


async def test_a_request_that_observed_nothing_never_gets_a_read_that_began_before_it_arrived() -> None:
    reads, source = SharedReads[str](), Source()
    first = asyncio.create_task(reads.read("item:1", None, source.read, arrived=time.monotonic()))
    await settle()
    arrived = time.monotonic()  # requests whose cache read fails while the first read is under way
    late = [asyncio.create_task(reads.read("item:1", None, source.read, arrived=arrived)) for _ in range(4)]
    await settle()
    assert len(source.began) == 1, "the late requests wait: the read under way may predate their requests"
    source.began[0].set_result("old")
    assert await first == "old"
    await settle()
    assert len(source.began) == 2, "one read for all the late requests, begun after they arrived"
    source.began[1].set_result("new")
    assert await asyncio.gather(*late) == ["new"] * 4


async def test_a_request_that_observed_nothing_shares_any_read_that_began_after_it_arrived() -> None:
    """Its cache read timed out while another request missed and began reading: that read is recent enough."""
    reads, source = SharedReads[str](), Source()
    arrived = time.monotonic()
    observed = asyncio.create_task(reads.read("item:1", 7, source.read))
    await settle()
    failed = asyncio.create_task(reads.read("item:1", None, source.read, arrived=arrived))
    await settle()
    assert len(source.began) == 1
    source.began[0].set_result("v1")
    assert [await observed, await failed] == ["v1", "v1"]
    with pytest.raises(ValueError, match="fence=None: a request that observed nothing needs arrived"):
        await reads.read("item:1", None, source.read)


async def test_when_the_reading_request_fails_the_others_share_another_read() -> None:
    reads, source = SharedReads[str](), Source()
    tasks = [asyncio.create_task(reads.read("item:2", 3, source.read)) for _ in range(3)]
    await settle()
    source.began[0].set_exception(ConnectionResetError("no answer"))
    await settle()
    assert len(source.began) == 2
    source.began[1].set_result("v1")
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[0], ConnectionResetError)
    assert outcomes[1:] == ["v1", "v1"]


async def test_an_answer_lingers_for_the_misses_that_come_just_after_its_read_ended() -> None:
    """A request whose miss the cache served just before the first read's add landed: that read is recent enough."""
    reads, source = SharedReads[str](linger=NEVER), Source()
    first = asyncio.create_task(reads.read("item:3", 7, source.read))
    await settle()
    source.began[0].set_result("v1")
    assert await first == "v1"
    assert await reads.read("item:3", 7, source.read) == "v1"
    assert len(source.began) == 1
    arrived = time.monotonic()  # after the read began: a request that observed nothing needs a read of its own
    blind = asyncio.create_task(reads.read("item:3", None, source.read, arrived=arrived))
    await settle()
    assert len(source.began) == 2
    source.began[1].set_result("v1, read again")
    assert await blind == "v1, read again"
