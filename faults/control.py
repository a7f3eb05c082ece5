"""The control API: links and faults, listed, added, removed and healed at run time. Every call needs the token.

GET /links, POST /links {name, listen_port, target_host, target_port}, DELETE /links/{name};
GET /faults, POST /faults {kind, links, ms, jitter_ms, duration_s}, DELETE /faults/{id},
DELETE /faults (all, or ``?links=a,b``: every fault on those links).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from faults.spec import BadFault, UnknownLink
from faults.table import DuplicateLink, FaultTable

TABLE = web.AppKey("table", FaultTable)
TOKEN = web.AppKey("token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), request.app[TOKEN].encode()):
        return web.json_response(
            {"error": "missing or wrong token: send Authorization: Bearer <token>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="faults"'},
        )
    try:
        return await handler(request)
    except BadFault as exc:
        return _error(str(exc), 400)
    except UnknownLink as exc:
        return _error(str(exc.args[0]), 404)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError:
        raise BadFault("the body must be JSON") from None


async def list_links(request: web.Request) -> web.Response:
    table = request.app[TABLE]
    return web.json_response({"links": [link.to_json() for link in table.links.values()]})


async def add_link(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadFault('give {"name", "listen_port", "target_host", "target_port"}')
    name, host = body.get("name"), body.get("target_host", "127.0.0.1")
    if not isinstance(name, str) or not name or not isinstance(host, str) or not host:
        raise BadFault('"name" and "target_host" are non-empty strings')
    listen_port, target_port = _port(body, "listen_port", 0), _port(body, "target_port", None)
    try:
        link = await request.app[TABLE].add_link(name, listen_port, host, target_port)
    except DuplicateLink as exc:
        return _error(str(exc), 409)
    except OSError as exc:
        return _error(f"cannot listen on port {listen_port}: {exc.strerror}", 409)
    return web.json_response(link.to_json(), status=201)


def _port(body: dict[str, Any], field: str, default: int | None) -> int:
    port = body.get(field, default)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise BadFault(f"{field}={port!r}: give a port number")
    return port


async def remove_link(request: web.Request) -> web.Response:
    link = await request.app[TABLE].remove_link(request.match_info["name"])
    return web.json_response({"removed": link.to_json()})


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [fault.to_json() for fault in request.app[TABLE].faults.values()]})


async def add_fault(request: web.Request) -> web.Response:
    fault = request.app[TABLE].add_fault(await _json_body(request))
    return web.json_response(fault.to_json(), status=201)


async def heal_fault(request: web.Request) -> web.Response:
    fault = request.app[TABLE].heal(request.match_info["id"])
    return web.json_response({"healed": [fault.to_json()]})


async def heal_faults(request: web.Request) -> web.Response:
    table = request.app[TABLE]
    links = request.query.get("links")
    healed = table.heal_all() if links is None else table.heal_links(filter(None, links.split(",")))
    return web.json_response({"healed": [fault.to_json() for fault in healed]})


def control_app(table: FaultTable, token: str) -> web.Application:
    app = web.Application(middlewares=[require_token])
    app[TABLE] = table
    app[TOKEN] = token

    async def links_closed(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[TABLE].close()

    app.cleanup_ctx.append(links_closed)
    app.router.add_get("/links", list_links)
    app.router.add_post("/links", add_link)
    app.router.add_delete("/links/{name:.+}", remove_link)
    app.router.add_get("/faults", list_faults)
    app.router.add_post("/faults", add_fault)
    app.router.add_delete("/faults", heal_faults)
    app.router.add_delete("/faults/{id}", heal_fault)
    return app
