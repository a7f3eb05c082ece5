"""The source store's ``/control`` as the farm commands call it: blocking, over plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import cast

from farm.errors import FarmError

CONTROL_TIMEOUT_S = 5.0


def source_control(
    source_url: str, changes: dict[str, float] | None = None, *, timeout: float = CONTROL_TIMEOUT_S
) -> dict[str, float]:
    """The source store's faults now; with ``changes``, after applying them (all or none)."""
    data = None if changes is None else json.dumps(changes).encode()
    request = urllib.request.Request(
        source_url + "/control",
        data=data,
        method="GET" if changes is None else "PUT",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return cast(dict[str, float], json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        with exc:
            detail = exc.read().decode(errors="replace").strip()
        raise FarmError(f"the source store refused {detail}") from None
    except OSError as exc:
        raise FarmError(f"the source store at {source_url} did not answer: {exc}") from None


def source_back_to_normal(source_url: str, latency_ms: float) -> list[str]:
    """The source store's faults back to what the farm started with; one line when there were any (``farm heal``)."""
    normal = {"latency_ms": latency_ms, "jitter_ms": 0.0, "fail_writes_after_apply": 0.0}
    now = source_control(source_url)
    if all(now.get(name) == value for name, value in normal.items()):
        return []
    source_control(source_url, normal)
    return [f"source store back to {latency_ms:g} ms, no lost replies"]
