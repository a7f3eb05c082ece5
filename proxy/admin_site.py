"""Where the admin API listens: a Unix socket in a private folder, which the data path forwards ``/_proxy/...``
to, and optionally a loopback TCP port of its own (``--admin-port``) that operators can firewall apart from
the data port. Both take request bodies up to ``ADMIN_BODY_LIMIT``: the API's bodies are a few hundred bytes,
and a client with the token must not make the proxy hold more; one without it is answered 401 before any of its
body is read."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from proxy.admin import PREFIX, TOKEN, Handler, admin_app, require_token
from proxy.backends import BackendPool

ADMIN_BODY_LIMIT = 64 * 1024
"""Bytes of request body the admin API takes; 413 beyond."""
ADMIN_HOST = "127.0.0.1"


def _too_large(length: str) -> web.Response:
    response = web.json_response(
        {"error": f"the admin API takes request bodies up to {ADMIN_BODY_LIMIT} bytes; this one is {length}"},
        status=413,
    )
    response.force_close()  # the rest of the body is not read: the connection cannot carry another request
    return response


@web.middleware
async def token_first(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token is checked before ``limit_body`` reads a byte of the body (a path no route takes is a 404)."""
    if request.match_info.http_exception is not None:
        return await handler(request)
    return await require_token(request, handler)


@web.middleware
async def limit_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 for a body announced too long before a byte of it is read, and for a chunked one once it grows too
    long: read here (up to the application's ``client_max_size``) so that no handler ever reads more."""
    if request.content_length is not None and request.content_length > ADMIN_BODY_LIMIT:
        return _too_large(f"{request.content_length} bytes")
    if request.body_exists:
        try:
            await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large("longer")
    return await handler(request)


class AdminSite:
    """The admin API's server; ``start`` it, then ``aclose`` it."""

    def __init__(self, pool: BackendPool, token: str) -> None:
        root = web.Application(client_max_size=ADMIN_BODY_LIMIT, middlewares=[token_first, limit_body])
        root[TOKEN] = token
        root.add_subapp(PREFIX, admin_app(pool, token))
        self._runner = web.AppRunner(root, access_log=None)
        self._folder: Path | None = None
        self.socket_path = ""
        self.url = ""
        """``http://127.0.0.1:PORT`` when it listens on a TCP port too, else empty."""

    async def start(self, port: int | None = None) -> None:
        """Listens on its Unix socket, and on 127.0.0.1:``port`` unless ``port`` is None (0: a free port)."""
        await self._runner.setup()
        self._folder = Path(tempfile.mkdtemp(prefix="cachefarm-proxy-"))  # mode 0700: the socket's home
        self.socket_path = str(self._folder / "admin.sock")
        await web.UnixSite(self._runner, self.socket_path).start()
        if port is not None:
            await web.TCPSite(self._runner, ADMIN_HOST, port).start()
            bound = next(address[1] for address in self._runner.addresses if isinstance(address, tuple))
            self.url = f"http://{ADMIN_HOST}:{bound}"

    async def aclose(self) -> None:
        await self._runner.cleanup()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
