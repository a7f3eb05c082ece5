"""Waiting for processes to answer, over plain HTTP or the Redis protocol (the farm commands are not async)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import redis

from farm.errors import FarmError


def http_ok(url: str, timeout: float = 0.5, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def redis_ok(port: int) -> bool:
    try:
        with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2, socket_timeout=0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def wait_for(what: str, probe: Any, timeout: float = 15.0, hint: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.02)
    raise FarmError(f"{what} did not become healthy in {timeout:.0f} s{hint}")


def admin_call(state_url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None,
               timeout: float = 30.0) -> Any:  # fmt: skip
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        state_url + "/_proxy" + path, data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        raise FarmError(f"proxy admin {method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None
    except OSError as exc:
        raise FarmError(f"proxy admin {method} {path}: cannot reach the proxy: {exc}") from None
