"""The source store's HTTP API: GET/PUT /items/{id}, GET /stats, GET /stats/reads-by-node, POST /stats/reset,
GET/PUT /control, GET /healthz, GET /openapi.json (farm.source.openapi describes them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from farm.openapi import serve_description
from farm.source.bodies import json_body
from farm.source.catalog import CATALOG_ITEMS, BadItemUpdate, Catalog, Item, ItemNotFound, parse_item_id
from farm.source.faults import SourceFaults, delay_s, install_faults, lose_reply
from farm.source.openapi import DESCRIPTION
from farm.source.stats import SourceStats
from farm.source.write_guard import WriteConditions, WriteGuard, WriteRefused

UNKNOWN_NODE = "unknown"


@dataclass(frozen=True)
class SourceSettings:
    catalog_path: Path
    items: int = CATALOG_ITEMS
    latency_ms: float = 20.0
    jitter_ms: float = 0.0
    seed: int | None = None
    fail_writes_after_apply: float = 0.0


CATALOG = web.AppKey("catalog", Catalog)
STATS = web.AppKey("stats", SourceStats)
SETTINGS = web.AppKey("settings", SourceSettings)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
GUARD = web.AppKey("write_guard", WriteGuard)


async def _latency(app: web.Application) -> None:
    delay = delay_s(app)
    if delay > 0:
        await asyncio.sleep(delay)


def _item_id(request: web.Request) -> int:
    try:
        return parse_item_id(request.match_info["item_id"])
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text=f"{exc}\n") from None


async def get_item(request: web.Request) -> web.Response:
    app = request.app
    item_id = _item_id(request)
    app[STATS].count(write=False, key=str(item_id), node=request.headers.get("X-Node", UNKNOWN_NODE))
    await _latency(app)
    try:
        item = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], app[CATALOG].get, item_id)
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text=f"{exc}\n") from None
    return web.json_response(item.to_json())


async def put_item(request: web.Request) -> web.Response:
    app = request.app
    item_id = _item_id(request)
    changes = await json_body(request)
    try:
        conditions = WriteConditions.from_headers(request.headers)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    app[STATS].count(write=True, key=str(item_id), node=request.headers.get("X-Node", UNKNOWN_NODE))
    app[GUARD].arrived(item_id)
    try:
        await _latency(app)
        loop = asyncio.get_running_loop()
        item = await loop.run_in_executor(app[EXECUTOR], _guarded_update, app, item_id, changes, conditions)
    except ItemNotFound as exc:
        raise web.HTTPNotFound(text=f"{exc}\n") from None
    except BadItemUpdate as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    except WriteRefused as refused:
        raise _refusal(refused) from None
    finally:
        app[GUARD].left(item_id)
    if lose_reply(request, app[STATS]):
        return web.Response(status=500)  # written nowhere: the connection is closed already
    return web.json_response(item.to_json())


def _guarded_update(app: web.Application, item_id: int, changes: Any, conditions: WriteConditions) -> Item:
    """In the catalog's thread: the fence and deadline checks and the update, with nothing in between."""
    app[GUARD].check(item_id, conditions)
    item = app[CATALOG].update(item_id, changes)
    app[GUARD].applied(item_id, conditions)
    return item


def _refusal(refused: WriteRefused) -> web.HTTPException:
    kind = web.HTTPConflict if refused.status == 409 else web.HTTPPreconditionFailed
    return kind(text=f"{refused}\n")


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response({**request.app[STATS].to_json(), **request.app[GUARD].to_json()})


async def reads_by_node(request: web.Request) -> web.Response:
    """``{node: {item id: reads}}`` since the last reset."""
    return web.json_response({node: dict(keys) for node, keys in request.app[STATS].reads_by_node.items()})


async def reset_stats(request: web.Request) -> web.Response:
    request.app[STATS].reset()
    request.app[GUARD].reset()
    return await get_stats(request)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def create_app(settings: SourceSettings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[STATS] = SourceStats()
    app[GUARD] = WriteGuard()
    faults = SourceFaults(settings.latency_ms, settings.jitter_ms, settings.fail_writes_after_apply)
    install_faults(app, faults, settings.seed)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        # One thread: the catalog's SQLite connection is used by one thread at a time, never on the loop.
        app[EXECUTOR] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
        app[CATALOG] = await asyncio.get_running_loop().run_in_executor(
            app[EXECUTOR], Catalog, settings.catalog_path, settings.items
        )
        yield
        # Awaited, not .result(): waiting for the catalog's thread must not hold the event loop.
        await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], app[CATALOG].close)
        await asyncio.to_thread(app[EXECUTOR].shutdown)

    app.cleanup_ctx.append(resources)
    app.router.add_get("/items/{item_id}", get_item)
    app.router.add_put("/items/{item_id}", put_item)
    app.router.add_get("/stats", get_stats)
    app.router.add_get("/stats/reads-by-node", reads_by_node)
    app.router.add_post("/stats/reset", reset_stats)
    app.router.add_get("/healthz", healthz)
    serve_description(app.router, DESCRIPTION)
    return app
