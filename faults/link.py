"""One link: a listening port whose connections are forwarded to a target, through the faults put on it.

Each connection has two pipes (client to target, target to client). A pipe reads chunks as they come, stamps
them, and writes them out in order once the link lets them pass: a partition holds them (and the kernel's
buffers hold the rest, as TCP would) until it heals; a latency waits until each chunk's arrival plus its delay,
so that delays do not add up along a busy stream (as Toxiproxy's latency toxic does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from typing import Any

log = logging.getLogger("faults.link")

CHUNK = 64 * 1024
QUEUED_CHUNKS = 64
"""A pipe reads ahead at most this many chunks; beyond them the sender waits on TCP's own flow control."""


def reset(transport: asyncio.BaseTransport | None) -> None:
    """Closes the connection with a TCP RST: SO_LINGER on, zero seconds, then close."""
    if transport is None or transport.is_closing():
        return
    sock: Any = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone: nothing left to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


class Connection:
    """A client's connection and the one the link opened to the target for it."""

    def __init__(self, link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.link = link
        self.client = (reader, writer)
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.cut_off = False
        self.task: asyncio.Task[None] | None = None
        """Its two pipes' task: cancelled when it is cut."""

    def cut(self) -> None:
        """Resets both sides and stops its pipes, wherever they wait (a partition's held bytes are dropped)."""
        self.cut_off = True
        reset(self.client[1].transport)
        if self.upstream is not None:
            reset(self.upstream[1].transport)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    async def run(self) -> None:
        # During a partition the client's connection is accepted but nothing reaches the target: the connection
        # to it is opened once the partition heals, and what the client sent meanwhile is delivered then.
        await self.link.flowing.wait()
        if self.cut_off:
            return
        try:
            self.upstream = await asyncio.open_connection(self.link.target_host, self.link.target_port)
        except OSError as exc:
            log.info("%s: cannot reach %s:%s: %s", self.link.name, self.link.target_host, self.link.target_port, exc)
            self.cut()
            return
        if self.cut_off:  # cut while connecting
            self.cut()
            return
        upstream_reader, upstream_writer = self.upstream
        try:
            await asyncio.gather(
                self._pipe(self.client[0], upstream_writer), self._pipe(upstream_reader, self.client[1])
            )
        except OSError:
            self.cut()  # one side broke: the other learns it the same way
        finally:
            self.client[1].close()
            upstream_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | OSError]] = asyncio.Queue(maxsize=QUEUED_CHUNKS)

        async def receive() -> None:
            try:
                while chunk := await reader.read(CHUNK):
                    await queue.put((loop.time(), chunk))
                await queue.put((loop.time(), b""))
            except OSError as exc:  # a reset from one side reaches the other when the link lets it through
                await queue.put((loop.time(), exc))

        receiving = asyncio.create_task(receive())
        try:
            while True:
                arrived, chunk = await queue.get()
                await self.link.flowing.wait()
                delay = self.link.delay_s()
                if delay > 0:
                    await asyncio.sleep(arrived + delay - loop.time())
                    await self.link.flowing.wait()  # a partition that began meanwhile holds the chunk too
                if self.cut_off:
                    return
                if isinstance(chunk, OSError):
                    raise chunk
                if not chunk:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()
        finally:
            receiving.cancel()


class Link:
    """A named link from ``listen_port`` to ``target_host:target_port``, and the faults on it now."""

    def __init__(self, name: str, listen_port: int, target_host: str, target_port: int, *, rng: random.Random) -> None:
        self.name = name
        self.listen_port = listen_port
        self.target_host = target_host
        self.target_port = target_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.partitions: set[str] = set()
        self.delays: dict[str, tuple[float, float]] = {}
        """Latency faults by id: (ms, jitter_ms). Several add up, as stacked toxics do."""
        self.cutting: set[str] = set()
        """Reset faults with a duration: while any is on, new connections are cut as they come."""
        self.connections: set[Connection] = set()
        self._rng = rng
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)
        self.listen_port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stops listening and cuts every connection: the link is gone."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        connections = list(self.connections)
        for connection in connections:
            connection.cut()
        await asyncio.gather(*(c.task for c in connections if c.task is not None), return_exceptions=True)

    def delay_s(self) -> float:
        total = sum(ms + self._rng.uniform(-jitter, jitter) for ms, jitter in self.delays.values())
        return max(total, 0.0) / 1000

    # -- faults ------------------------------------------------------------------------------------
    def partition(self, fault_id: str) -> None:
        self.partitions.add(fault_id)
        self.flowing.clear()

    def delay(self, fault_id: str, ms: float, jitter_ms: float) -> None:
        self.delays[fault_id] = (ms, jitter_ms)

    def cut_all(self, fault_id: str | None) -> int:
        """Cuts every open connection; with a fault id, new ones too until ``lift(fault_id)``."""
        if fault_id is not None:
            self.cutting.add(fault_id)
        connections = list(self.connections)
        for connection in connections:
            connection.cut()
        return len(connections)

    def lift(self, fault_id: str) -> None:
        self.partitions.discard(fault_id)
        self.delays.pop(fault_id, None)
        self.cutting.discard(fault_id)
        if not self.partitions:
            self.flowing.set()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen_port": self.listen_port,
            "target": f"{self.target_host}:{self.target_port}",
            "connections": len(self.connections),
        }

    # -- connections -------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self, reader, writer)
        if self.cutting:
            connection.cut()
            return
        # The connection runs in a task of its own, which a cut cancels: asyncio's stream server reports a
        # cancelled handler task as an error.
        connection.task = asyncio.create_task(connection.run())
        self.connections.add(connection)
        try:
            await asyncio.wait({connection.task})
        finally:
            self.connections.discard(connection)
