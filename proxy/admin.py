"""The admin API under /_proxy/: list, add and drain-remove backends, metrics. Every call needs the token but
GET /_proxy/openapi.json, its description."""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from farm.openapi import DESCRIPTION_PATH, serve_description
from proxy.backends import BackendPool, DuplicateBackend, UnknownBackend
from proxy.drain import DRAIN_TIMEOUT_S, drain_and_remove
from proxy.metrics import prometheus_text
from proxy.openapi import BACKEND_NAME_PATTERN, BACKEND_NAME_RULE, MAX_DRAIN_TIMEOUT_S, describe

PREFIX = "/_proxy"
DESCRIPTION = describe(PREFIX)
PUBLIC = {f"{PREFIX}{DESCRIPTION_PATH}"}
"""What answers without the token: the API's description."""
BACKEND_NAME = re.compile(BACKEND_NAME_PATTERN)
POOL = web.AppKey("pool", BackendPool)
TOKEN = web.AppKey("admin_token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def authorized(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), request.app[TOKEN].encode())


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC and not authorized(request):
        return web.json_response(
            {"error": "missing or wrong admin token: send Authorization: Bearer <token>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="proxy admin"'},
        )
    return await handler(request)


def backend_problem(name: str, url: str) -> str | None:
    """What is wrong with a backend the admin API or ``python -m proxy --backend`` is given; None: nothing. One
    check for both, so that no backend reaches the pool that the health checks and the listing cannot use."""
    if not BACKEND_NAME.fullmatch(name):
        return f"name {name!r:.80}: {BACKEND_NAME_RULE}"
    try:
        parsed = URL(url)
        usable = parsed.scheme in ("http", "https") and bool(parsed.host) and parsed.port is not None
    except ValueError:  # yarl: not a URL at all (a bad port, an unclosed bracket, a lone surrogate)
        usable = False
    return None if usable else f"url {url!r:.200} is not an http(s) URL with a host"


async def list_backends(request: web.Request) -> web.Response:
    return web.json_response({"backends": [b.to_json() for b in request.app[POOL]]})


async def add_backend(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except UnicodeDecodeError as exc:
        return web.json_response({"error": f"the body is not UTF-8 (byte {exc.start})"}, status=400)
    except (ValueError, RecursionError):  # not JSON, nested too deep, or an integer too long to convert
        return web.json_response({"error": 'the body must be JSON: {"name": ..., "url": ...}'}, status=400)
    name, url = (
        body.get("name") if isinstance(body, dict) else None,
        body.get("url") if isinstance(body, dict) else None,
    )
    if not isinstance(name, str) or not name or not isinstance(url, str):
        return web.json_response({"error": 'give "name" and "url" as strings'}, status=400)
    problem = backend_problem(name, url)
    if problem is not None:
        return web.json_response({"error": problem}, status=400)
    try:
        backend = request.app[POOL].add(name, url)
        request.app[POOL].held.discard(name)
    except DuplicateBackend as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response(backend.to_json(), status=201)


async def remove_backend(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    raw_timeout = request.query.get("drain_timeout", str(DRAIN_TIMEOUT_S))
    try:
        timeout = float(raw_timeout)
    except ValueError:
        timeout = math.nan
    if not 0 <= timeout <= MAX_DRAIN_TIMEOUT_S:
        message = f"drain_timeout={raw_timeout!r:.80} is not a number of seconds from 0 to {MAX_DRAIN_TIMEOUT_S:g}"
        return web.json_response({"error": message}, status=400)
    try:
        request.app[POOL].get(name)
        request.app[POOL].held.add(name)  # before the drain: discovery must not add it back meanwhile
        backend, drained = await drain_and_remove(request.app[POOL], name, timeout)
    except UnknownBackend as exc:
        return web.json_response({"error": str(exc)}, status=404)
    return web.json_response({"removed": backend.to_json(), "drained": drained})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=prometheus_text(request.app[POOL]), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def admin_app(pool: BackendPool, token: str) -> web.Application:
    """A sub-application under /_proxy/: its middleware checks the token, forwarded requests never pass it."""
    app = web.Application(middlewares=[require_token])
    app[POOL] = pool
    app[TOKEN] = token
    app.router.add_get("/backends", list_backends)
    app.router.add_post("/backends", add_backend)
    app.router.add_delete("/backends/{name}", remove_backend)
    app.router.add_get("/metrics", metrics)
    serve_description(app.router, DESCRIPTION)
    return app
