"""Waiting for processes to answer, over plain HTTP or the Redis protocol (the farm commands are not async)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

import redis

from farm.errors import FarmError

HEALTHY_TIMEOUT_S = 15.0


def http_ok(url: str, timeout: float = 0.5, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def healthz(url: str) -> Callable[[], bool]:
    """A probe of a service's ``/healthz``, for ``wait_for``."""
    return lambda: http_ok(url + "/healthz")


def redis_ok(port: int) -> bool:
    try:
        with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2, socket_timeout=0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def wait_for(what: str, probe: Callable[[], bool], timeout: float = HEALTHY_TIMEOUT_S, hint: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.02)
    raise FarmError(f"{what} did not become healthy in {timeout:.0f} s{hint}")
