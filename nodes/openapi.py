"""The node's HTTP API as OpenAPI: what it serves at ``GET /openapi.json`` and docs/http-api.md shows."""

from __future__ import annotations

from farm.openapi import (
    ITEM,
    ITEM_CHANGES,
    ITEM_ID,
    JSON,
    METHOD_NOT_ALLOWED,
    OPENAPI_VERSION,
    TEXT,
    TOO_LARGE,
    Schema,
    description_operation,
    json_body,
    text,
)
from nodes.counters import FIELDS

NODE_HEADERS: Schema = {
    "X-Node": {"description": "The node that answered.", "schema": {"type": "string"}},
    "Last-Server-Start-Time": {
        "description": "When the farm's most recently started node started (ISO 8601, UTC).",
        "schema": {"type": "string"},
    },
}
SHED = text(
    "Not done: the node is overloaded (X-Shed says which limit; try again after Retry-After), or a write could not "
    "be kept coherent with the cache (the body says whether it may have been applied)."
)
SOURCE_UNAVAILABLE = text("The source store could not be reached or did not answer in time.")


def _item_answer(description: str) -> Schema:
    answer = json_body(description, ITEM)
    answer["headers"] = {"X-Cache": {"description": "HIT or MISS.", "schema": {"type": "string"}}, **NODE_HEADERS}
    return answer


STATS: Schema = {
    "type": "object",
    "required": ["node", "started_at", "admission", *FIELDS, "debts", "in_flight", "queued"],
    "additionalProperties": False,
    "properties": {
        "node": {"type": "string"},
        "started_at": {"type": "string", "description": "When this node started (ISO 8601, UTC)."},
        "admission": {
            "type": "object",
            "description": "The node's admission limits (0: no limit).",
            "required": ["max_in_flight", "max_queue", "queue_timeout_ms"],
            "additionalProperties": False,
            "properties": {
                "max_in_flight": {"type": "integer", "minimum": 0},
                "max_queue": {"type": "integer", "minimum": 0},
                "queue_timeout_ms": {"type": "number", "minimum": 0},
            },
        },
        **{name: {"type": "integer", "minimum": 0} for name in FIELDS},
        "debts": {"type": "integer", "minimum": 0, "description": "Invalidations and lock releases owed now."},
        "in_flight": {"type": "integer", "minimum": 0},
        "queued": {"type": "integer", "minimum": 0},
    },
}

ITEM_ERRORS: Schema = {
    "400": text("The item id is not a whole number."),
    "404": text("No such item."),
    "405": METHOD_NOT_ALLOWED,
    "502": SOURCE_UNAVAILABLE,
    "503": SHED,
}

DESCRIPTION: Schema = {
    "openapi": OPENAPI_VERSION,
    "info": {
        "title": "cachefarm node",
        "version": "1",
        "description": "A web server of the farm: reads items through the shared cache from the source store, and "
        "writes them to the source store keeping the cache coherent. Every answer carries X-Node and "
        "Last-Server-Start-Time.",
    },
    "paths": {
        "/": {
            "get": {
                "summary": "The home page: the node, the farm's last start time and the cached time.",
                "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {}}}}},
            }
        },
        "/reset-cached-time": {
            "post": {
                "summary": "Puts the current time in the cache (sliding expiry of 20 s) and goes back home.",
                "responses": {
                    "303": {
                        "description": "Done; see the home page.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                        "content": {TEXT: {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/items/{item_id}": {
            "parameters": [ITEM_ID],
            "get": {
                "summary": "The item, from the cache or else from the source store (then added to the cache).",
                "responses": {"200": _item_answer("The item."), **ITEM_ERRORS},
            },
            "put": {
                "summary": "Changes the item in the source store and puts the new version in the cache.",
                "requestBody": {"required": True, "content": {JSON: {"schema": ITEM_CHANGES}}},
                "responses": {
                    "200": _item_answer("The item as written."),
                    **ITEM_ERRORS,
                    "400": text("The item id or the body is wrong; the message says how."),
                    "413": TOO_LARGE,
                },
            },
        },
        "/healthz": {
            "get": {"summary": "Whether the node serves.", "responses": {"200": text("ok")}},
        },
        "/stats": {
            "get": {
                "summary": "The node's counters since it started, and its load now.",
                "responses": {"200": json_body("The counters.", STATS)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "The counters in Prometheus's text format (farm_node_<name>_total{node=...}).",
                "responses": {"200": text("The metrics.")},
            }
        },
        "/openapi.json": {"get": description_operation("node")},
    },
}
