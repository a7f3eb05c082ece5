"""Calls of one Lua script made at the same moment share one pipelined round trip, as StackExchange.Redis
multiplexes the commands of a whole process over one connection.

A busy web node reads many entries at once: one EVALSHA per request costs a pool checkout, a socket write and a
read each, which is most of the CPU a cache hit costs. Calls made while the event loop runs one round of
callbacks are sent together on one connection the next round, and each caller gets its own reply. Each script
still runs atomically on the server, in the order the calls were made. A caller that gives up (its deadline) only
stops waiting while others wait for the same pipeline; when the last of them gives up, the pipeline is cancelled
and its connection closed, as redis-py does with a single command, so a server that hangs holds no connections
beyond its callers' deadlines.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import Any

import redis.asyncio
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

from farm.cache.redis_pool import ConnectionSlots
from farm.cache.tasks import cancel_and_wait


class ScriptBatches:
    """Runs ``script`` for every caller, in pipelines of the calls made since the last one was sent."""

    def __init__(self, client: redis.asyncio.Redis, script: AsyncScript, slots: ConnectionSlots) -> None:
        """``slots``: the cache's connection slots; a pipeline takes one, as a single call does."""
        self._client = client
        self._slots = slots
        self._script = script
        self._waiting: list[tuple[Sequence[Any], asyncio.Future[Any]]] = []
        """The calls of the next pipeline; its task takes the list when it starts, and a new one begins."""
        self._sender: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply to ``keys`` and ``args``; the server's error (a RedisError) is raised as is."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._waiting:
            self._sender = asyncio.create_task(self._send())  # runs next round, with every call made until then
            self._sending.add(self._sender)
            self._sender.add_done_callback(self._sending.discard)
        batch, sender = self._waiting, self._sender
        batch.append(((len(keys), *keys, *args), future))
        try:
            return await future
        except asyncio.CancelledError:
            # Once sent (the list taken), a pipeline that nobody waits for any more is cut off.
            if batch is not self._waiting and sender is not None and all(f.done() for _, f in batch):
                await cancel_and_wait(sender)  # its connection closed and back in the pool, as the caller leaves
            raise

    async def _send(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            replies = await self._pipelined([arguments for arguments, _ in batch])
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    if isinstance(exc, Exception):
                        future.set_exception(copy.copy(exc))  # one object per caller: each raise adds to it
                    else:
                        future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    async def _pipelined(self, calls: list[Sequence[Any]]) -> list[Any]:
        async with self._slots:
            return await self._pipelined_on_slot(calls)

    async def _pipelined_on_slot(self, calls: list[Sequence[Any]]) -> list[Any]:
        sha = self._script.sha
        replies = await self._evalsha_all(sha, calls)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            # The server does not know the script yet (first use, or a restart without its data): load it once, and
            # run again only the calls it refused (a refused call did nothing).
            await self._client.script_load(self._script.script)  # its SHA1 is ``sha``
            refused = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            again = await self._evalsha_all(sha, [calls[i] for i in refused])
            for i, reply in zip(refused, again, strict=True):
                replies[i] = reply
        return replies

    async def _evalsha_all(self, sha: str, calls: list[Sequence[Any]]) -> list[Any]:
        """What redis-py's pipeline does for these calls (one write, a reply read for each, a server error kept as
        that call's reply, the connection's own retries when it is lost) without its per-command bookkeeping, which
        cost a node about 20 us of CPU a round trip: most of a batch of one. The script only reads, so a retry
        on a new connection is safe, as it is for redis-py."""
        pool = self._client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        try:
            replies: list[Any] = await connection.retry.call_with_retry(
                lambda: _exchange(connection, sha, calls), lambda error: connection.disconnect()
            )
        finally:
            await pool.release(connection)
        return replies


async def _exchange(connection: AbstractConnection, sha: str, calls: list[Sequence[Any]]) -> list[Any]:
    # A cancelled or failed read leaves the connection disconnected (redis-py does that): never out of step.
    await connection.send_packed_command(connection.pack_commands([("EVALSHA", sha, *call) for call in calls]))
    replies: list[Any] = []
    for _ in calls:
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies
