"""Item requests go through admission (nodes.admission); what the node cannot take is answered 503 at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from nodes.admission import SHED_HEADER, Overloaded
from nodes.item_writes import RETRY_AFTER_S
from nodes.state import ADMISSION, COUNTERS, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def shed(request: web.Request, reason: str) -> web.Response:
    """503 with ``Retry-After``, counted: nothing was done for this request, so any node may be asked again."""
    app = request.app
    app[COUNTERS].add("shed")
    text = f"{app[SETTINGS].name} is overloaded ({reason}): nothing was done, try again\n"
    return web.Response(status=503, text=text, headers={"Retry-After": RETRY_AFTER_S, SHED_HEADER: reason})


def admitted(handler: Handler) -> Handler:
    """``handler`` runs only with a slot of the node's admission; without one, the request is shed. A body is read
    first: a client that sends it slowly would otherwise hold a slot for as long as it likes, and others be shed."""

    async def admit(request: web.Request) -> web.StreamResponse:
        if request.body_exists:
            await request.read()  # kept by aiohttp: the handler's read gets it at once
        admission = request.app[ADMISSION]
        if not admission.try_enter():
            try:
                await admission.wait()
            except Overloaded as refused:
                return shed(request, refused.reason)
        try:
            return await handler(request)
        finally:
            admission.leave()

    return admit
