"""A connection to Redis that the network resets is a cache error, on uvloop's event loop too (where the node
runs): uvloop raises RuntimeError for a write on a reset connection, which reached the node as a 500."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
import uvloop

from farm.cache import CacheError, RedisCache
from farm.cache.coordination import coordination_for
from farm.testing.servers import ServerProcess


class ResettingRelay:
    """Relays TCP to Redis; ``reset()`` cuts every client connection with a RST, as a network fault does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.clients: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, RuntimeError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def reset(self) -> None:
        for writer in self.clients:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self.clients.clear()


def test_a_reset_connection_is_a_cache_error_and_the_next_call_reconnects(redis_server: ServerProcess) -> None:
    async def scenario() -> None:
        relay = ResettingRelay(redis_server.port)
        server = await relay.start()
        cache = RedisCache(f"redis://127.0.0.1:{relay.port}/0", instance_name="lost-connections:")
        try:
            coordination = coordination_for(cache)
            assert coordination is not None
            await cache.aset("k", b"v")
            assert await coordination.aget_observing("k") == (b"v", None)
            relay.reset()
            await asyncio.sleep(0.2)  # the RST has arrived: the client's connections are closed
            with pytest.raises(CacheError):
                await coordination.aget_observing("k")
            assert await coordination.aget_observing("k") == (b"v", None), "a new connection"
            relay.reset()
            await asyncio.sleep(0.2)
            with pytest.raises(CacheError):
                await cache.aget("k")
            assert await cache.aget("k") == b"v"
        finally:
            await cache.aclose()
            server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
