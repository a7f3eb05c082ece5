"""Stopping a task for sure.

On Python 3.11, ``asyncio.wait_for`` returns its call's result instead of raising when the task that waits is
cancelled in the same round of the event loop as the call completes (fixed in 3.12, which builds wait_for on
``asyncio.timeout``), and redis-py sends every command through wait_for. A task cancelled at that moment carries on
as if nothing happened, and whoever waits for it to end waits for ever: a node's shutdown hung that way.
"""

from __future__ import annotations

import asyncio
from typing import Any

AGAIN_AFTER_S = 0.05


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancels ``task`` and waits until it is done, cancelling it again every AGAIN_AFTER_S while it is not. What
    it ended with is dropped (its exception too: it was told to stop)."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=AGAIN_AFTER_S)
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not report it as never retrieved
