"""Backends found by resolving a name, as compose's DNS answers with every replica of a service."""

from __future__ import annotations

import asyncio
import logging
import socket

from proxy.backends import BackendPool, BackendState
from proxy.drain import drain_and_remove

log = logging.getLogger(__name__)


def parse_host_port(value: str) -> tuple[str, int]:
    """``node:8080``, or ``[::1]:8080`` for an IPv6 address (unbracketed, its colons would hide the port)."""
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host:
        host = ""
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--backends-dns {value!r}: expected HOST:PORT, e.g. node:8080 or [::1]:8080")
    return host, int(port)


def backend_url(address: str, port: int) -> str:
    """The URL of a replica at a resolved address: an IPv6 one in brackets."""
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


async def resolve(host: str, port: int) -> set[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return {str(info[4][0]) for info in infos}


async def sync_once(pool: BackendPool, host: str, port: int, drain_seconds: float) -> None:
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        log.warning("cannot resolve %s: %s", host, exc)
        return
    wanted = {f"{host}@{address}": backend_url(address, port) for address in addresses}
    pool.held &= wanted.keys()  # a held replica that stopped resolving is found again when it comes back
    for name, url in wanted.items():
        if name in pool.held:
            continue
        try:
            pool.get(name)
        except LookupError:
            log.warning("backend %s found at %s", name, url)
            pool.add(name, url).state = BackendState.DOWN  # the next health check brings it up
    gone = [b.name for b in pool if b.name.startswith(f"{host}@") and b.name not in wanted]
    await asyncio.gather(*(drain_and_remove(pool, name, drain_seconds) for name in gone))


async def run_discovery(pool: BackendPool, host: str, port: int, interval: float, drain_seconds: float) -> None:
    while True:
        await sync_once(pool, host, port, drain_seconds)
        await asyncio.sleep(interval)
