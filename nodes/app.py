"""The node: a plain aiohttp application that reads through the shared cache to the source store.

Its cache, source client and settings are set up in ``cleanup_ctx`` and reached through typed ``AppKey``s,
the way an ASP.NET Core app gets ``IDistributedCache`` by dependency injection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from farm.cache import DistributedCache, EntryOptions, from_url
from nodes.cache_access import GuardedCache
from nodes.counters import NodeCounters
from nodes.pages import home_page
from nodes.settings import NodeSettings

LAST_START_KEY = "LastServerStartTime"
CACHED_TIME_KEY = "CachedTime"
CACHED_TIME_OPTIONS = EntryOptions(sliding_expiration=timedelta(seconds=20))

SETTINGS = web.AppKey("settings", NodeSettings)
CACHE = web.AppKey("cache", GuardedCache)
SOURCE = web.AppKey("source", aiohttp.ClientSession)
COUNTERS = web.AppKey("counters", NodeCounters)
STARTED_AT = web.AppKey("started_at", str)
MISSES = web.AppKey("misses", dict[str, "asyncio.Future[SourceReply]"])
"""Source reads in flight, by cache key: concurrent misses of one item on a node share one."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SourceReply:
    """What the source store answered (or why it could not): each request that waited for it builds its own
    response from it."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return self.status == 200

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=self.body, status=self.status, content_type=self.content_type, headers=headers)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@web.middleware
async def farm_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response says which node answered and the farm's last server start time, read from the cache."""
    app = request.app
    app[COUNTERS].add("requests")
    response = await handler(request)
    last_start = await app[CACHE].get(LAST_START_KEY) if request.path != "/healthz" else None
    response.headers["X-Node"] = app[SETTINGS].name
    response.headers["Last-Server-Start-Time"] = last_start.decode() if last_start else app[STARTED_AT]
    return response


def _item_key(request: web.Request) -> tuple[str, str]:
    raw = request.match_info["item_id"]
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=f"item id must be a whole number, not {raw!r}\n")
    return raw, f"item:{raw}"


async def _source(request: web.Request, method: str, path: str, body: bytes | None = None) -> SourceReply:
    """One call to the source store; when it cannot be reached, a 502 that says so."""
    app = request.app
    app[COUNTERS].add("source_calls")
    headers = {"X-Node": app[SETTINGS].name, "Content-Type": "application/json"}
    try:
        async with app[SOURCE].request(method, app[SETTINGS].source_url + path, data=body, headers=headers) as reply:
            return SourceReply(reply.status, await reply.read())
    except (aiohttp.ClientError, TimeoutError) as exc:
        return SourceReply(502, f"source store unavailable: {exc}\n".encode(), "text/plain")


async def get_item(request: web.Request) -> web.Response:
    app = request.app
    item_id, key = _item_key(request)
    cached = await app[CACHE].get(key)
    if cached is not None:
        app[COUNTERS].add("hits")
        return web.Response(body=cached, content_type="application/json", headers={"X-Cache": "HIT"})
    app[COUNTERS].add("misses")
    reply = await _read_through(request, item_id, key)
    return reply.response({"X-Cache": "MISS"})


async def _read_and_add(request: web.Request, item_id: str, key: str) -> SourceReply:
    reply = await _source(request, "GET", f"/items/{item_id}")
    if reply.ok:
        # Add, not set: a newer version that a writer put meanwhile stays.
        await request.app[CACHE].add(key, reply.body, request.app[SETTINGS].item_options())
    return reply


async def _read_through(request: web.Request, item_id: str, key: str) -> SourceReply:
    """One source read per item at a time on this node: requests that miss while it is in flight wait
    for it instead of sending their own. That read is no older than any write that finished before they
    missed: such a write puts its version in the cache, and they would have hit it."""
    app = request.app
    if not app[CACHE].trusted:
        # Without a (working) cache a write may leave no trace that a later request could hit, so a read
        # already in flight may predate it: every request reads for itself.
        return await _read_and_add(request, item_id, key)
    misses = app[MISSES]
    pending = misses.get(key)
    if pending is not None:
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this request was cancelled
            # the request that was reading failed or was cancelled: read for ourselves
    pending = misses[key] = asyncio.get_running_loop().create_future()
    try:
        reply = await _read_and_add(request, item_id, key)
        pending.set_result(reply)
        return reply
    except BaseException:
        pending.cancel()  # waiters read for themselves: an exception object is not shared between requests
        raise
    finally:
        if misses.get(key) is pending:
            del misses[key]


async def put_item(request: web.Request) -> web.Response:
    app = request.app
    item_id, key = _item_key(request)
    body = await request.read()
    # Writers of one item, on any node, take turns: the source store and the cache see their writes in
    # the same order, so the cache ends with the newest version. The cache gets the written version at
    # once (write-through), which also stops a slower reader from adding the version it read before.
    async with app[CACHE].lock(f"lock:{key}"):
        reply = await _source(request, "PUT", f"/items/{item_id}", body)
        if reply.ok:
            await app[CACHE].set(key, reply.body, app[SETTINGS].item_options())
    return reply.response()


async def home(request: web.Request) -> web.Response:
    app = request.app
    last_start = await app[CACHE].get(LAST_START_KEY)
    cached_time = await app[CACHE].get(CACHED_TIME_KEY)
    page = home_page(
        app[SETTINGS].name,
        last_start.decode() if last_start else app[STARTED_AT],
        cached_time.decode() if cached_time else None,
    )
    return web.Response(text=page, content_type="text/html")


async def reset_cached_time(request: web.Request) -> web.Response:
    await request.app[CACHE].set(CACHED_TIME_KEY, utc_now_iso().encode(), CACHED_TIME_OPTIONS)
    raise web.HTTPSeeOther("/")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def stats(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response({"node": app[SETTINGS].name, "started_at": app[STARTED_AT], **app[COUNTERS].values})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[COUNTERS].prometheus_text()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def create_app(settings: NodeSettings, *, cache: DistributedCache | None = None) -> web.Application:
    """``cache`` overrides ``settings.cache_url`` (tests hand in their own)."""
    app = web.Application(middlewares=[farm_headers])
    app[SETTINGS] = settings
    app[COUNTERS] = NodeCounters(settings.name)
    app[STARTED_AT] = utc_now_iso()
    app[MISSES] = {}

    async def resources(app: web.Application) -> AsyncIterator[None]:
        opened = cache
        if opened is None and settings.cache_url is not None:
            opened = await asyncio.to_thread(from_url, settings.cache_url)
        app[CACHE] = GuardedCache(opened, settings.cache_timeout, app[COUNTERS])
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[SOURCE] = session
            # As in the sample: the most recent server to start overwrites the farm's start time.
            await app[CACHE].set(LAST_START_KEY, app[STARTED_AT].encode())
            await app[CACHE].set(CACHED_TIME_KEY, app[STARTED_AT].encode(), CACHED_TIME_OPTIONS)
            yield
        if opened is not None and cache is None:
            await opened.aclose()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/", home)
    app.router.add_post("/reset-cached-time", reset_cached_time)
    app.router.add_get("/items/{item_id}", get_item)
    app.router.add_put("/items/{item_id}", put_item)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/stats", stats)
    app.router.add_get("/metrics", metrics)
    return app
