"""A task whose cancel Python 3.11's wait_for swallowed is stopped all the same."""

from __future__ import annotations

import asyncio
import sys

from farm.cache.tasks import cancel_and_wait


async def test_a_cancel_that_wait_for_swallowed_is_sent_again() -> None:
    loop = asyncio.get_running_loop()
    went_on = asyncio.Event()

    async def background() -> None:
        """As a node's background loop: a call through wait_for (as redis-py sends), then a pause."""
        while True:
            answered: asyncio.Future[None] = loop.create_future()
            loop.call_soon(answered.set_result, None)  # the call completes in the next round of the loop
            await asyncio.wait_for(answered, 5)
            went_on.set()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(background())
    await asyncio.sleep(0)  # the task is now in wait_for, its call answered in this very round
    task.cancel()
    if sys.version_info < (3, 12):
        await went_on.wait()
        assert not task.done(), "wait_for returned the answer and dropped the cancel"
    await cancel_and_wait(task)
    assert task.cancelled()
