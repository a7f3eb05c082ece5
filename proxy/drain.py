"""Removing a backend without failing a request: no new requests, then wait for the in-flight ones."""

from __future__ import annotations

import asyncio
import contextlib

from proxy.backends import Backend, BackendPool, BackendState

DRAIN_TIMEOUT_S = 10.0
"""How long a removed backend's in-flight requests get to finish, unless the caller says otherwise."""


async def drain_and_remove(pool: BackendPool, name: str, drain_seconds: float) -> tuple[Backend, bool]:
    """Returns the backend and whether every in-flight request finished within ``drain_seconds``."""
    backend = pool.get(name)
    backend.state = BackendState.DRAINING
    if backend.in_flight:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(backend.idle.wait(), drain_seconds)
    pool.remove(name)
    return backend, backend.in_flight == 0
