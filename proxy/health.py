"""Active health checks: every backend's /healthz, on a fixed interval, decides whether it gets requests."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from proxy.backends import Backend, BackendPool, BackendState, masked_url

log = logging.getLogger(__name__)


async def check(session: aiohttp.ClientSession, backend: Backend, seconds: float) -> bool:
    try:
        async with session.get(backend.url + "/healthz", timeout=aiohttp.ClientTimeout(total=seconds)) as reply:
            return reply.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def check_all(pool: BackendPool, session: aiohttp.ClientSession, seconds: float) -> None:
    backends = [b for b in pool if b.state is not BackendState.DRAINING]
    # A check that raises (a URL the client refuses) counts as down: one backend must not end the checks of all.
    results = await asyncio.gather(*(check(session, b, seconds) for b in backends), return_exceptions=True)
    for backend, result in zip(backends, results, strict=True):
        if backend.state is BackendState.DRAINING:
            continue  # started draining while the check ran
        healthy = result is True
        if isinstance(result, BaseException) and backend.state is not BackendState.DOWN:
            log.error("health check of backend %s (%s) failed: %r", backend.name, masked_url(backend.url), result)
        new_state = BackendState.UP if healthy else BackendState.DOWN
        if new_state is not backend.state:
            log.warning("backend %s (%s) is %s", backend.name, masked_url(backend.url), new_state)
            backend.state = new_state


async def run_health_checks(pool: BackendPool, session: aiohttp.ClientSession, interval: float) -> None:
    """Runs until cancelled; the app's cleanup cancels it."""
    while True:
        await check_all(pool, session, seconds=max(0.2, interval * 0.8))
        await asyncio.sleep(interval)
