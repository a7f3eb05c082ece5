"""The load generator: clients that read and write items through the proxy and record every request.

Closed loop with ``concurrency`` workers, or open loop at a fixed ``rate`` (requests start on schedule
whether or not earlier ones have finished, so a slow farm shows up as latency, not as a lower rate).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass

from farm.scenario.history import HOME_KEY, Record, RecordSink
from farm.scenario.http_client import HttpClient, HttpClientError
from farm.scenario.keys import KeyChooser
from nodes.admission import SHED_HEADER

DEFAULT_CONCURRENCY = 10
"""Clients of a load that gives neither a concurrency nor a rate."""
REQUEST_TIMEOUT_S = 30.0
"""A request without a whole answer after this is recorded as failed (status 0)."""


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


SHED_HEADER_NAME = SHED_HEADER.lower()
CACHED_TIME = re.compile(rb'<dd id="cached-time">([^<]*)</dd>')
EXPIRED = b"Cached Time Expired"


class LoadRun:
    """One load step against ``base_url``; records go to ``sink`` as requests finish."""

    def __init__(
        self,
        base_url: str,
        spec: LoadSpec,
        step: str,
        sink: RecordSink,
        epoch: float,
        *,
        stop: asyncio.Event | None = None,
    ) -> None:
        """``stop``: once set, no request starts (those under way finish); for a load that has no end of its own."""
        self.base_url = base_url.rstrip("/")
        self.spec = spec
        self.step = step
        self.sink = sink
        self.epoch = epoch
        self.keys = KeyChooser(spec.keys, spec.distribution, spec.zipf_s, spec.seed)
        self._issued = 0
        self._deadline = time.monotonic() + spec.duration_s if spec.duration_s is not None else None
        self._stop = stop

    def _more(self) -> bool:
        if self._stop is not None and self._stop.is_set():
            return False
        if self.spec.requests is not None and self._issued >= self.spec.requests:
            return False
        return self._deadline is None or time.monotonic() < self._deadline

    async def _one(self, http: HttpClient) -> None:
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
        body = json.dumps({"price": round(self.keys.random.uniform(1, 100), 2)}).encode() if write else None
        path = "/" if home else f"/items/{key}"
        start = time.monotonic() - self.epoch
        node = hit = version = last_start = cached_time = None
        shed = False
        try:
            reply = await http.request(method, path, body)
        except (HttpClientError, OSError, TimeoutError):
            status = 0
        else:
            status, headers, data = reply.status, reply.headers, reply.body
            node = headers.get("x-node")
            last_start = headers.get("last-server-start-time")
            cache = headers.get("x-cache")
            hit = None if cache is None else cache == "HIT"
            shed = SHED_HEADER_NAME in headers
            if status == 200 and home:
                found = CACHED_TIME.search(data)
                cached_time = found[1].decode() if found and found[1] != EXPIRED else None
            elif status == 200:
                version = json.loads(data).get("version")
        end = time.monotonic() - self.epoch
        record = Record(start, end, node, key, method, status, version, hit, self.step, last_start, cached_time, shed)
        self.sink.append(record)

    async def run(self) -> None:
        http = HttpClient(self.base_url, timeout_s=REQUEST_TIMEOUT_S)
        try:
            if self.spec.rate is not None:
                await self._open_loop(http, self.spec.rate)
            else:
                await asyncio.gather(*(self._worker(http) for _ in range(self.spec.concurrency or 1)))
        finally:
            http.close()

    async def _worker(self, http: HttpClient) -> None:
        while self._more():
            await self._one(http)

    async def _open_loop(self, http: HttpClient, rate: float) -> None:
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
