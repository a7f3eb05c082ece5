"""The node: a plain aiohttp application that reads through the shared cache to the source store.

Its cache, source client and settings are set up in ``cleanup_ctx`` and reached through typed ``AppKey``s
(nodes.state), the way an ASP.NET Core app gets ``IDistributedCache`` by dependency injection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from farm.cache import DistributedCache, EntryOptions, from_url
from farm.cache.coordination import Observation, deadline_after
from farm.cache.sql.target import is_sql_url
from farm.cache.tasks import cancel_and_wait
from farm.openapi import serve_description
from farm.source.catalog import ItemNotFound, parse_item_id
from nodes.admission import Admission
from nodes.cache_access import CacheUnavailable, GuardedCache, NodeBusy
from nodes.cache_debts import CacheDebts
from nodes.counters import NodeCounters
from nodes.item_writes import write_item
from nodes.loop_lag import LoopLag
from nodes.openapi import DESCRIPTION
from nodes.pages import home_page
from nodes.settings import NodeSettings
from nodes.shared_reads import SharedReads
from nodes.shedding import admitted, shed
from nodes.source_client import SourceReply
from nodes.state import (
    ADMISSION,
    CACHE,
    COUNTERS,
    DEBTS,
    LAST_START,
    LOOP_LAG,
    READS,
    SETTINGS,
    SOURCE,
    STARTED_AT,
    FarmStartTime,
    source,
)

LAST_START_KEY = "LastServerStartTime"
LAST_START_REFRESH_S = 0.5
"""How often the farm's last start time is read from the cache: in the background, never per response; well
inside the 1 s within which scenarios count node starts as simultaneous (at 1 s, a read just after that second
could still show the previous start)."""
CACHED_TIME_KEY = "CachedTime"
CACHED_TIME_OPTIONS = EntryOptions(sliding_expiration=timedelta(seconds=20))
SPARE_CACHE_CONNECTIONS = 8
"""Redis connections beyond one per request in flight: the background refresh, owed invalidations, the home page."""


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def farm_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response says which node answered and the farm's last server start time (refreshed in the
    background: a hit costs one cache round trip, not two), and is counted. A response signal rather than a
    middleware: a middleware adds two coroutines to every request, and a hit is little more than that."""
    app = request.app
    app[COUNTERS].add("requests")
    headers = response.headers
    headers["X-Node"] = app[SETTINGS].name
    headers["Last-Server-Start-Time"] = app[LAST_START].value


def _item_key(request: web.Request) -> tuple[str, str]:
    """The item's id and cache key, one spelling per item (``007`` is item 7)."""
    try:
        item_id = str(parse_item_id(request.match_info["item_id"]))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text=f"{exc}\n") from None
    return item_id, f"item:{item_id}"


async def get_item(request: web.Request) -> web.Response:
    app = request.app
    arrived = time.monotonic()
    item_id, key = _item_key(request)
    cache, coordination = app[CACHE], app[CACHE].coordination
    seen: Observation | None = None
    failed = False
    # While this node owes the cache an invalidation, the cache may hold an entry older than its own write.
    if coordination is not None and not app[DEBTS].blocking_reads:
        try:
            cached, seen = await cache.call(coordination.aget_observing(key), f"get of {key!r}")
        except NodeBusy:
            # The answer sat unread while the node was swamped: the source store is no place for its backlog.
            return shed(request, "too busy to read the cache in time")
        except CacheUnavailable:
            failed = True
        else:
            if cached is not None:
                app[COUNTERS].add("hits")
                return web.Response(body=cached, content_type="application/json", headers={"X-Cache": "HIT"})
            if seen is not None and seen.foreign is not None:
                cache.note_foreign(key, seen.foreign)  # a cache error; the add below replaces it
    app[COUNTERS].add("misses")
    reply = await _read_through(request, item_id, key, seen, arrived if failed else None)
    return reply.response({"X-Cache": "MISS"})


async def _read_and_add(request: web.Request, item_id: str, key: str, seen: Observation | None) -> SourceReply:
    reply = await source(request, "GET", f"/items/{item_id}")
    cache = request.app[CACHE]
    if reply.ok and seen is not None and not seen.locked and cache.coordination is not None:
        # Only if no writer took the item's lock since the miss (farm.cache.coordination explains why that
        # is enough): an older version never lands over a newer write's trace.
        with contextlib.suppress(CacheUnavailable):
            options, deadline = request.app[SETTINGS].item_options(), deadline_after(cache.timeout)
            await cache.call(cache.coordination.aadd_if_unchanged(key, reply.body, options, seen, deadline), "add")
    return reply


async def _read_through(
    request: web.Request, item_id: str, key: str, seen: Observation | None, failed_since: float | None
) -> SourceReply:
    """One source read per item at a time on this node, shared as nodes.shared_reads allows: by the requests that
    missed with the same observation, and by those whose cache read failed (``failed_since``: when they arrived)."""
    reads = request.app[READS]

    def read() -> Awaitable[SourceReply]:
        return _read_and_add(request, item_id, key, seen)

    if seen is not None and not seen.locked:
        return await reads.read(key, seen.fence, read)
    if failed_since is not None:
        return await reads.read(key, None, read, arrived=failed_since)
    # No cache, a per-node cache that owes an invalidation, or a writer holding the lock: each reads for itself.
    return await read()


async def put_item(request: web.Request) -> web.Response:
    item_id, key = _item_key(request)
    return await write_item(request, item_id, key, await request.read())


async def home(request: web.Request) -> web.Response:
    app = request.app
    cached_time = await app[CACHE].get(CACHED_TIME_KEY)
    page = home_page(app[SETTINGS].name, app[LAST_START].value, cached_time.decode() if cached_time else None)
    return web.Response(text=page, content_type="text/html")


async def reset_cached_time(request: web.Request) -> web.Response:
    await request.app[CACHE].set(CACHED_TIME_KEY, utc_now_iso().encode(), CACHED_TIME_OPTIONS)
    raise web.HTTPSeeOther("/")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def stats(request: web.Request) -> web.Response:
    app = request.app
    admission = app[ADMISSION]
    now = {"debts": len(app[DEBTS]), "in_flight": admission.in_flight, "queued": admission.queued}
    head = {"node": app[SETTINGS].name, "started_at": app[STARTED_AT], "admission": admission.limits.as_json()}
    return web.json_response({**head, **app[COUNTERS].values, **now})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[COUNTERS].prometheus_text()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def refresh_last_start(app: web.Application) -> None:
    """Reads the farm's last start time from the cache every LAST_START_REFRESH_S; keeps the last one read."""
    while True:
        await asyncio.sleep(LAST_START_REFRESH_S)
        value = await app[CACHE].get(LAST_START_KEY)
        if value is not None:
            app[LAST_START].value = value.decode()


def node_busy(app: web.Application) -> Callable[[float], bool]:
    """A cache call that timed out was the node's doing if its loop ran late for most of the call while the node had
    every slot taken: its own load, not the machine's other processes, kept the answer unread (nodes.loop_lag)."""
    admission, lag = app[ADMISSION], app[LOOP_LAG]

    def busy(started: float) -> bool:
        return admission.full and lag.was_late(started)

    return busy


def open_cache(settings: NodeSettings) -> DistributedCache | None:
    """The cache of ``settings.cache_url``; a SQL cache gets server-side limits that match the node's timeout."""
    if settings.cache_url is None:
        return None
    if is_sql_url(settings.cache_url):
        limit = max(settings.write_cache_timeout * 2, 1.0)
        return from_url(settings.cache_url, statement_timeout=limit, pool_wait=settings.write_cache_timeout)
    if settings.cache_url.startswith(("redis://", "rediss://")) and settings.admission.max_in_flight:
        # A connection for every request in flight: admitted requests never wait for one.
        connections = settings.admission.max_in_flight + SPARE_CACHE_CONNECTIONS
        return from_url(settings.cache_url, max_connections=connections, pool_wait=settings.write_cache_timeout)
    return from_url(settings.cache_url)


def create_app(settings: NodeSettings, *, cache: DistributedCache | None = None) -> web.Application:
    """``cache`` overrides ``settings.cache_url`` (tests hand in their own)."""
    app = web.Application()
    app.on_response_prepare.append(farm_headers)
    app[SETTINGS] = settings
    app[COUNTERS] = NodeCounters(settings.name)
    app[STARTED_AT] = utc_now_iso()
    app[LAST_START] = FarmStartTime(app[STARTED_AT])
    app[READS] = SharedReads(linger=settings.cache_timeout)
    app[ADMISSION] = Admission(settings.admission)
    app[LOOP_LAG] = LoopLag()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        opened = cache if cache is not None else await asyncio.to_thread(open_cache, settings)
        app[CACHE] = GuardedCache(opened, settings.cache_timeout, app[COUNTERS], node_busy(app))
        app[DEBTS] = CacheDebts(app[CACHE], settings.debt_retry)
        timeout = aiohttp.ClientTimeout(total=settings.source_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # HTTP calls PUT idempotent, and aiohttp sends one again after a dropped connection; the source
            # store bumps the version on every PUT, so a resent write would be applied twice. No resending.
            session._retry_connection = False
            app[SOURCE] = session
            # As in the sample: the most recent server to start overwrites the farm's start time.
            await app[CACHE].set(LAST_START_KEY, app[STARTED_AT].encode())
            await app[CACHE].set(CACHED_TIME_KEY, app[STARTED_AT].encode(), CACHED_TIME_OPTIONS)
            await app[CACHE].warm_up(settings.write_cache_timeout)  # before the first request, not inside it
            background = [
                asyncio.create_task(refresh_last_start(app), name="last-start-refresh"),
                asyncio.create_task(app[LOOP_LAG].run(), name="loop-lag"),
            ]
            try:
                async with app[DEBTS].running():
                    yield
            finally:
                for task in background:
                    await cancel_and_wait(task)
        if opened is not None and cache is None:
            await opened.aclose()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/", home)
    app.router.add_post("/reset-cached-time", reset_cached_time)
    app.router.add_get("/items/{item_id}", admitted(get_item))
    app.router.add_put("/items/{item_id}", admitted(put_item))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/stats", stats)
    app.router.add_get("/metrics", metrics)
    serve_description(app.router, DESCRIPTION)
    return app
