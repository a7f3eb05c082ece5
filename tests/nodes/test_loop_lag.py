"""The loop-lag measure: time the loop could not run what was due counts as late."""

from __future__ import annotations

import asyncio
import time

from nodes.loop_lag import LoopLag


async def test_time_the_loop_is_held_counts_as_late() -> None:
    lag = LoopLag(interval=0.005)
    ticking = asyncio.create_task(lag.run())
    await asyncio.sleep(0.02)  # a few wake-ups first
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    for _ in range(3):
        loop.call_soon(time.sleep, 0.03)  # the loop held: below the suite's 100 ms limit per callback, three times
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert lag.busy_since(start) >= 0.06, "at least the holds minus one wake-up interval each"
    assert lag.was_late(start)
    ticking.cancel()
    await asyncio.gather(ticking, return_exceptions=True)


def test_before_it_runs_nothing_counts_as_late() -> None:
    assert LoopLag().busy_since(time.monotonic() - 1) == 0.0
