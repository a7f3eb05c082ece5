"""What a node's handlers share, under typed AppKeys."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from nodes.admission import Admission
from nodes.cache_access import GuardedCache
from nodes.cache_debts import CacheDebts
from nodes.counters import NodeCounters
from nodes.loop_lag import LoopLag
from nodes.settings import NodeSettings
from nodes.shared_reads import SharedReads
from nodes.source_client import SourceReply, call_source


@dataclass
class FarmStartTime:
    """The farm's last server start time, as last read from the cache (refreshed in the background)."""

    value: str


SETTINGS = web.AppKey("settings", NodeSettings)
CACHE = web.AppKey("cache", GuardedCache)
DEBTS = web.AppKey("debts", CacheDebts)
SOURCE = web.AppKey("source", aiohttp.ClientSession)
COUNTERS = web.AppKey("counters", NodeCounters)
STARTED_AT = web.AppKey("started_at", str)
LAST_START = web.AppKey("last_start", FarmStartTime)
READS = web.AppKey("reads", SharedReads[SourceReply])
"""Source reads in flight: concurrent misses of an item share one (nodes.shared_reads)."""
ADMISSION = web.AppKey("admission", Admission)
LOOP_LAG = web.AppKey("loop_lag", LoopLag)


async def source(
    request: web.Request, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> SourceReply:
    app = request.app
    settings = app[SETTINGS]
    return await call_source(
        app[SOURCE], app[COUNTERS], method, settings.source_url + path, node=settings.name, body=body, headers=headers
    )
