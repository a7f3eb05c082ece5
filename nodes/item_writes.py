"""PUT /items/{id}: the write path that keeps the shared cache coherent with the source store.

Writers of one item take its lock (see nodes.write_lock), write the source with the lock's fence and a
deadline, then put the new version in the cache only while they still hold the lock. Whatever cannot be
confirmed is not acknowledged: the answer is 503, and the node owes the cache an invalidation (see
nodes.cache_debts). With the cache unreachable, the strict policy refuses the write before anything is
written; the available policy writes the source and owes the invalidation.
"""

from __future__ import annotations

import time

from aiohttp import web

from farm.cache.coordination import Coordination, Lock, deadline_after
from farm.source.write_guard import DEADLINE_HEADER, FENCE_HEADER
from nodes.cache_access import CacheUnavailable
from nodes.source_client import SourceReply
from nodes.state import CACHE, COUNTERS, DEBTS, SETTINGS, source
from nodes.write_lock import LockBusy, LockUnavailable, take_lock

RETRY_AFTER_S = "1"
DEADLINE_MARGIN_S = 0.05
"""After a write's deadline, how long before the node counts on the source not applying it any more."""


def unavailable(text: str) -> web.Response:
    return web.Response(status=503, text=text + "\n", headers={"Retry-After": RETRY_AFTER_S})


async def write_item(request: web.Request, item_id: str, key: str, body: bytes) -> web.Response:
    app = request.app
    cache, debts, counters = app[CACHE], app[DEBTS], app[COUNTERS]
    coordination = cache.coordination
    path = f"/items/{item_id}"
    if coordination is None:  # no cache: nothing to keep coherent
        return (await source(request, "PUT", path, body)).response()
    if debts.blocking_reads and not await debts.pay():
        return await _cache_unreachable(request, path, key, body)
    try:
        lock = await take_lock(cache, coordination, key, app[SETTINGS])
    except LockBusy:
        counters.add("busy_writes")
        return unavailable(f"another write of item {item_id} is in progress: try again")
    except LockUnavailable as lost:
        debts.owe_release(key, lost.owner)  # the attempt may have taken the lock all the same
        return await _cache_unreachable(request, path, key, body)
    return await _write_holding(request, path, lock, coordination, body)


async def _cache_unreachable(request: web.Request, path: str, key: str, body: bytes) -> web.Response:
    app = request.app
    settings, counters = app[SETTINGS], app[COUNTERS]
    if settings.write_policy == "strict":
        counters.add("refused_writes")
        return unavailable("the cache does not answer, so this write could not be kept coherent: nothing was written")
    # available: the write lands without the lock, and the node owes the invalidation, once the cache answers and
    # once more after every reader that missed before this write has had its last chance to add what it read.
    counters.add("unguarded_writes")
    deadline = time.time() + settings.source_timeout
    reply = await source(request, "PUT", path, body, {DEADLINE_HEADER: f"{deadline:.6f}"})
    if not reply.refused:
        app[DEBTS].owe_invalidation(key)
        app[DEBTS].owe_invalidation(key, after=settings.source_timeout + settings.stale_window)
    return reply.response()


async def _write_holding(
    request: web.Request, path: str, lock: Lock, coordination: Coordination, body: bytes
) -> web.Response:
    app = request.app
    cache, debts, counters, settings = app[CACHE], app[DEBTS], app[COUNTERS], app[SETTINGS]
    key = lock.key
    deadline = time.time() + settings.source_timeout
    headers = {DEADLINE_HEADER: f"{deadline:.6f}"}
    if coordination.shared:  # a per-node memory cache's fences mean nothing to the other nodes' writes
        headers[FENCE_HEADER] = str(lock.fence)
    reply = await source(request, "PUT", path, body, headers)
    if reply.refused:  # not applied: nothing to repair
        await _release(request, coordination, lock)
        return _refused_by_source(reply)
    if not reply.ok:  # no answer: the source may apply it until its deadline, and no later
        counters.add("uncertain_writes")
        await _invalidate(request, coordination, key)
        # Readers add nothing while the lock is held: keep it until the source can no longer apply the write.
        debts.owe_release(key, lock.owner, after=deadline - time.time() + DEADLINE_MARGIN_S)
        return unavailable(f"the source store did not confirm the write, which may have been applied: {_text(reply)}")
    try:
        limit = settings.write_cache_timeout
        held = await cache.call(
            coordination.aset_if_holder(lock, reply.body, settings.item_options(), deadline_after(limit)),
            f"set of {key!r}",
            limit,
        )
    except CacheUnavailable:
        counters.add("uncertain_writes")
        debts.owe_invalidation(key)
        debts.owe_release(key, lock.owner)
        return unavailable("the write may have been applied, but the cache did not confirm it: it is not yet coherent")
    if not held:
        # The lease ended, or the cache lost the lock (a restart without its data): a reader that missed before
        # this write may still add what it read, until the stale window has passed. Not acknowledged.
        counters.add("uncertain_writes")
        await _invalidate(request, coordination, key)
        debts.owe_invalidation(key, after=settings.stale_window)
        return unavailable("the write may have been applied, but the cache lost its lock: it is not yet coherent")
    await _release(request, coordination, lock)
    return reply.response()


async def _invalidate(request: web.Request, coordination: Coordination, key: str) -> bool:
    """Removes the entry now, or owes its removal; True if it was removed."""
    app = request.app
    try:
        await app[CACHE].call(coordination.aremove(key), f"remove of {key!r}", app[SETTINGS].write_cache_timeout)
    except CacheUnavailable:
        app[DEBTS].owe_invalidation(key)
        return False
    return True


async def _release(request: web.Request, coordination: Coordination, lock: Lock) -> None:
    app = request.app
    try:
        limit = app[SETTINGS].write_cache_timeout
        await app[CACHE].call(coordination.arelease(lock.key, lock.owner), f"lock release of {lock.key!r}", limit)
    except CacheUnavailable:
        app[DEBTS].owe_release(lock.key, lock.owner)


def _refused_by_source(reply: SourceReply) -> web.Response:
    if reply.status in (409, 412):  # fenced off or too late: not applied, and the client may simply retry
        return unavailable(f"the write was not applied: {_text(reply)}")
    return reply.response()


def _text(reply: SourceReply) -> str:
    return reply.body.decode(errors="replace").strip()
