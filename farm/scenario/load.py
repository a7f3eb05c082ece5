"""The load generator: aiohttp clients that read and write items through the proxy and record every request.

Closed loop with ``concurrency`` workers, or open loop at a fixed ``rate`` (requests start on schedule
whether or not earlier ones have finished, so a slow farm shows up as latency, not as a lower rate).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass

import aiohttp

from farm.scenario.history import HOME_KEY, Record, RecordSink
from farm.scenario.keys import KeyChooser
from nodes.admission import SHED_HEADER

DEFAULT_CONCURRENCY = 10
"""Clients of a load that gives neither a concurrency nor a rate."""


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    duration_s: float | None = None
    requests: int | None = None
    concurrency: int | None = None
    rate: float | None = None
    keys: int = 100
    distribution: str = "uniform"
    zipf_s: float = 1.1
    read_ratio: float = 1.0
    seed: int = 0
    fixed_keys: tuple[int, ...] = ()
    """When given, request these keys in this order (a ``write`` step) instead of drawing them."""
    page: str = "items"
    """``items``: GET/PUT /items/{key}; ``home``: GET / (the sample's page with the cached time)."""


CACHED_TIME = re.compile(rb'<dd id="cached-time">([^<]*)</dd>')
EXPIRED = b"Cached Time Expired"


class LoadRun:
    """One load step against ``base_url``; records go to ``sink`` as requests finish."""

    def __init__(self, base_url: str, spec: LoadSpec, step: str, sink: RecordSink, epoch: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.spec = spec
        self.step = step
        self.sink = sink
        self.epoch = epoch
        self.keys = KeyChooser(spec.keys, spec.distribution, spec.zipf_s, spec.seed)
        self._issued = 0
        self._deadline = time.monotonic() + spec.duration_s if spec.duration_s is not None else None

    def _more(self) -> bool:
        if self.spec.requests is not None and self._issued >= self.spec.requests:
            return False
        return self._deadline is None or time.monotonic() < self._deadline

    async def _one(self, http: aiohttp.ClientSession) -> None:
        self._issued += 1
        home = self.spec.page == "home"
        if home:
            key = HOME_KEY
        elif self.spec.fixed_keys:
            key = self.spec.fixed_keys[(self._issued - 1) % len(self.spec.fixed_keys)]
        else:
            key = self.keys.next()
        write = not home and self.keys.random.random() >= self.spec.read_ratio
        method = "PUT" if write else "GET"
        body = {"price": round(self.keys.random.uniform(1, 100), 2)} if write else None
        url = f"{self.base_url}/" if home else f"{self.base_url}/items/{key}"
        start = time.monotonic() - self.epoch
        node = hit = version = last_start = cached_time = None
        shed = False
        try:
            async with http.request(method, url, json=body) as reply:
                status = reply.status
                data = await reply.read()
                node = reply.headers.get("X-Node")
                last_start = reply.headers.get("Last-Server-Start-Time")
                cache = reply.headers.get("X-Cache")
                hit = None if cache is None else cache == "HIT"
                shed = SHED_HEADER in reply.headers
                if status == 200 and home:
                    found = CACHED_TIME.search(data)
                    cached_time = found[1].decode() if found and found[1] != EXPIRED else None
                elif status == 200:
                    version = json.loads(data).get("version")
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        end = time.monotonic() - self.epoch
        record = Record(start, end, node, key, method, status, version, hit, self.step, last_start, cached_time, shed)
        self.sink.append(record)

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            if self.spec.rate is not None:
                await self._open_loop(http, self.spec.rate)
            else:
                await asyncio.gather(*(self._worker(http) for _ in range(self.spec.concurrency or 1)))

    async def _worker(self, http: aiohttp.ClientSession) -> None:
        while self._more():
            await self._one(http)

    async def _open_loop(self, http: aiohttp.ClientSession, rate: float) -> None:
        interval = 1 / rate
        started = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        while self._more():
            task = asyncio.create_task(self._one(http))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            next_start = started + self._issued * interval
            await asyncio.sleep(max(0.0, next_start - time.monotonic()))
        if in_flight:
            await asyncio.gather(*in_flight)


async def write_keys(base_url: str, keys: list[int], step: str, sink: RecordSink, epoch: float) -> None:
    """PUT each key once, one after another, recorded like any other request."""
    spec = LoadSpec(requests=len(keys), concurrency=1, read_ratio=0.0, fixed_keys=tuple(keys))
    await LoadRun(base_url, spec, step, sink, epoch).run()
