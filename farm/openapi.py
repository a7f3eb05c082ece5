"""The parts every OpenAPI description of the farm's HTTP services shares, and the route that serves one.

Each service keeps its description in a module of its own (``nodes.openapi``, ``farm.source.openapi``,
``proxy.openapi``) as plain data built from these parts; the service serves it at ``GET /openapi.json``, the
property tests read it from there, and ``farm.http_reference`` renders docs/http-api.md from the same data.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

OPENAPI_VERSION = "3.0.3"
DESCRIPTION_PATH = "/openapi.json"
JSON = "application/json"
TEXT = "text/plain"

Schema = dict[str, Any]


def text(description: str) -> Schema:
    """A plain-text answer: what a person reads, such as an error's message."""
    return {"description": description, "content": {TEXT: {"schema": {"type": "string"}}}}


def json_body(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def counts(description: str) -> Schema:
    """A JSON object of names to whole numbers."""
    return {"type": "object", "description": description, "additionalProperties": {"type": "integer", "minimum": 0}}


ITEM_ID: Schema = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "description": "The item's id: a whole number (the catalog holds 1 to 1000; others are not found).",
    "schema": {"type": "integer", "minimum": 0},
}
ITEM: Schema = {
    "type": "object",
    "required": ["id", "name", "price", "version"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "price": {"type": "number"},
        "version": {"type": "integer", "minimum": 1, "description": "Bumped by every write."},
    },
}
ITEM_CHANGES: Schema = {
    "type": "object",
    "description": "The fields to change; the others keep their value.",
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
}
METHOD_NOT_ALLOWED = text("The path takes other methods (see the Allow header).")
TOO_LARGE = text("The body is larger than the service takes.")


def description_operation(service: str) -> Schema:
    return {
        "summary": f"This description of the {service}'s HTTP API (OpenAPI {OPENAPI_VERSION}).",
        "responses": {"200": json_body("The description.", {"type": "object"})},
    }


def serve_description(router: web.UrlDispatcher, description: Schema) -> None:
    """``GET /openapi.json`` (relative to ``router``'s application) answers ``description``."""

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(description)

    router.add_get(DESCRIPTION_PATH, openapi)
