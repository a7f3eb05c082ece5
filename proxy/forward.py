"""Forwarding one request to a backend: headers, streaming, one retry for idempotent requests."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from proxy.backends import Backend, BackendPool, BackendState

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
    )
)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
BUFFER_LIMIT = 256 * 1024
"""Responses of known length up to this size are read whole, larger or unknown ones streamed."""
CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
"""A connection refused, reset or closed before the whole answer was read."""


def _connection_listed(headers: Any) -> frozenset[str]:
    value = headers.get("Connection")
    if not value:
        return frozenset()
    return frozenset(t.strip().lower() for t in value.split(",") if t.strip())


def forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    """The request's end-to-end headers plus the X-Forwarded-* ones."""
    skip = HOP_BY_HOP | _connection_listed(request.headers) | {"host"}
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in request.headers.items() if name.lower() not in skip
    )
    peer = request.remote or ""
    previous = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
    headers["X-Forwarded-Proto"] = request.headers.get("X-Forwarded-Proto", request.scheme)
    headers["X-Forwarded-Host"] = request.headers.get("X-Forwarded-Host", request.host)
    return headers


def response_headers(reply: aiohttp.ClientResponse) -> CIMultiDict[str]:
    skip = HOP_BY_HOP | _connection_listed(reply.headers) | {"content-length"}
    return CIMultiDict((name, value) for name, value in reply.headers.items() if name.lower() not in skip)


class Forwarder:
    """Sends requests to the pool's backends through one keep-alive client session."""

    def __init__(self, pool: BackendPool, session: aiohttp.ClientSession, timeout: float) -> None:
        self.pool = pool
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        backend = self.pool.pick()
        if backend is None:
            return web.Response(status=502, text="no backend is available\n")
        retryable = request.method in IDEMPOTENT and not request.body_exists
        try:
            return await self._forward(request, backend)
        except CONNECTION_ERRORS as exc:
            self._eject(backend, exc)
            if not retryable:
                return web.Response(status=502, text=f"backend {backend.name} failed: {type(exc).__name__}\n")
        # A connection that failed before any answer: the request did not happen, so it may go elsewhere.
        retry = self.pool.pick(exclude=backend)
        if retry is None:
            return web.Response(status=502, text="no other backend is available\n")
        try:
            return await self._forward(request, retry)
        except CONNECTION_ERRORS as exc:
            self._eject(retry, exc)
            return web.Response(status=502, text=f"backends {backend.name} and {retry.name} failed\n")

    def _eject(self, backend: Backend, exc: BaseException) -> None:
        """Passive health check: a backend that refused or dropped a connection gets no requests until the
        active check finds it healthy again."""
        backend.errors += 1
        backend.last_error = f"{type(exc).__name__}: {exc}"
        if backend.state is BackendState.UP:
            backend.state = BackendState.DOWN

    async def _forward(self, request: web.Request, backend: Backend) -> web.StreamResponse:
        backend.started()
        try:
            body = request.content if request.body_exists else None
            try:
                async with self.session.request(
                    request.method,
                    backend.url + request.rel_url.raw_path_qs,
                    headers=forwarded_headers(request),
                    data=body,
                    allow_redirects=False,
                    timeout=self.timeout,
                ) as reply:
                    headers = response_headers(reply)
                    length = reply.content_length
                    if length is not None and length <= BUFFER_LIMIT:
                        return web.Response(status=reply.status, headers=headers, body=await reply.read())
                    response = web.StreamResponse(status=reply.status, headers=headers)
                    if length is not None:
                        response.content_length = length
                    await response.prepare(request)
                    try:
                        async for chunk in reply.content.iter_chunked(64 * 1024):
                            await response.write(chunk)
                    except CONNECTION_ERRORS as exc:
                        # Part of the answer is on its way to the client: all that is left is to cut it short.
                        backend.errors += 1
                        backend.last_error = f"{type(exc).__name__}: {exc}"
                        if request.transport is not None:
                            request.transport.close()
                        return response
                    await response.write_eof()
                    return response
            except TimeoutError:
                backend.errors += 1
                return web.Response(status=504, text=f"backend {backend.name} did not answer in time\n")
        finally:
            backend.finished()
