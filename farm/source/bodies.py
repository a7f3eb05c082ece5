"""Request bodies the source store takes: UTF-8 JSON, refused with a message that names what is wrong."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


async def json_body(request: web.Request) -> Any:
    """The body as JSON; 400 if it is not UTF-8 or not JSON (413 beyond the size the application takes)."""
    raw = await request.read()
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(text=f"the body is not UTF-8 (byte {exc.start})\n") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of more digits than Python converts
        raise web.HTTPBadRequest(text=f"the body is not JSON: {exc}\n") from None
