"""Free ports for the processes a farm, a test or a benchmark starts on this machine."""

from __future__ import annotations

import argparse
import random
import socket
from collections import deque
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000
"""Below this, ports are left to the machine's own services."""
_handed_out: deque[int] = deque(maxlen=4096)
_random = random.SystemRandom()


def port_argument(text: str) -> int:
    """An argparse type: a TCP port, 0 (a free one) to 65535, refused with the flag's name rather than wrapped
    or passed to the socket as it is."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: give 0 to 65535")
    return port


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (Linux's default when the file cannot be read)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def free_port() -> int:
    """A port nothing listens on, outside the kernel's ephemeral range: a port from that range can be taken, between
    the choice and the bind, as the local port of one of the farm's own outgoing connections (the nodes', the
    fault proxy's, the load's), and the program that was to listen on it then fails to start. Ports already
    handed out by this process are not handed out again."""
    low, high = ephemeral_range()
    spans = [(start, end) for start, end in ((LOWEST, low - 1), (high + 1, 65535)) if start <= end]
    for _ in range(200 if spans else 0):
        (
            start,
            end,
        ) = _random.choices(spans, weights=[end - start + 1 for start, end in spans])[0]
        port = _random.randint(start, end)
        if port not in _handed_out and _can_bind(port):
            _handed_out.append(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a machine whose ephemeral range is everything
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    _handed_out.append(port)
    return port


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_taken(port: int) -> bool:
    """Whether something holds ``port`` on 127.0.0.1: a farm asked to publish there would fail halfway."""
    return not _can_bind(port)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
