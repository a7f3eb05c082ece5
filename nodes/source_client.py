"""Calls to the source store, and what it answered (or why it could not)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from nodes.counters import NodeCounters


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

    @property
    def refused(self) -> bool:
        """The source answered that it did not apply the request (a 4xx)."""
        return 400 <= self.status < 500

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=self.body, status=self.status, content_type=self.content_type, headers=headers)


async def call_source(
    session: aiohttp.ClientSession,
    counters: NodeCounters,
    method: str,
    url: str,
    *,
    node: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> SourceReply:
    """One call to the source store; when it cannot be reached or does not answer in time, a 502 that says so."""
    counters.add("source_calls")
    sent = {"X-Node": node, "Content-Type": "application/json", **(headers or {})}
    try:
        async with session.request(method, url, data=body, headers=sent) as reply:
            return SourceReply(reply.status, await reply.read(), reply.content_type)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return SourceReply(502, f"source store unavailable: {exc or type(exc).__name__}\n".encode(), "text/plain")
