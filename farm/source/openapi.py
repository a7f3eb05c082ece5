"""The source store's HTTP API as OpenAPI: what it serves at ``GET /openapi.json`` and docs/http-api.md shows."""

from __future__ import annotations

from farm.openapi import (
    ITEM,
    ITEM_CHANGES,
    ITEM_ID,
    JSON,
    METHOD_NOT_ALLOWED,
    OPENAPI_VERSION,
    TOO_LARGE,
    Schema,
    counts,
    description_operation,
    json_body,
    text,
)
from farm.source.faults import LIMITS
from farm.source.write_guard import DEADLINE_HEADER, FENCE_HEADER

X_NODE: Schema = {
    "name": "X-Node",
    "in": "header",
    "description": "The node asking, for the counters (unknown if not given).",
    "schema": {"type": "string"},
}
STATS: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{
            name: {"type": "integer", "minimum": 0}
            for name in (
                *("requests", "reads", "writes", "lost_write_replies"),
                *("overlapping_writes", "fenced_writes", "late_writes"),
            )
        },
        "by_key": counts("Reads and writes by item id."),
        "by_node": counts("Reads and writes by the X-Node that asked."),
    },
}
STATS["required"] = list(STATS["properties"])


def _fault(name: str, description: str) -> Schema:
    low, high = LIMITS[name]
    schema: Schema = {"type": "number", "minimum": low, "description": description}
    if high != float("inf"):
        schema["maximum"] = high
    return schema


FAULT_FIELDS: Schema = {
    "latency_ms": _fault("latency_ms", "Added to every item request."),
    "jitter_ms": _fault("jitter_ms", "Up to this much more, at random."),
    "fail_writes_after_apply": _fault(
        "fail_writes_after_apply", "The share of writes that are applied and then lose their reply (closed unanswered)."
    ),
}
FAULTS: Schema = {"type": "object", "required": list(LIMITS), "additionalProperties": False, "properties": FAULT_FIELDS}
FAULT_CHANGES: Schema = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": FAULT_FIELDS,
    "description": "One or more faults to change; nothing changes unless every field is valid.",
}
BAD_ID = text("The item id is not a whole number.")

DESCRIPTION: Schema = {
    "openapi": OPENAPI_VERSION,
    "info": {
        "title": "cachefarm source store",
        "version": "1",
        "description": "The slow system of record the cache protects: a catalog of items with exact counters of "
        "what it served, and faults that can be changed while it runs.",
    },
    "paths": {
        "/items/{item_id}": {
            "parameters": [ITEM_ID, X_NODE],
            "get": {
                "summary": "The item (after the latency in force).",
                "responses": {
                    "200": json_body("The item.", ITEM),
                    "400": BAD_ID,
                    "404": text("No such item."),
                    "405": METHOD_NOT_ALLOWED,
                },
            },
            "put": {
                "summary": "Changes the item and bumps its version, unless the writer's fence or deadline refuses it.",
                "parameters": [
                    {
                        "name": FENCE_HEADER,
                        "in": "header",
                        "description": "The writer's fencing token: a write with a lower one than already applied to "
                        "the item is refused (409).",
                        "schema": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
                    },
                    {
                        "name": DEADLINE_HEADER,
                        "in": "header",
                        "description": "Unix seconds after which the write must not be applied (412).",
                        "schema": {"type": "number"},
                    },
                ],
                "requestBody": {"required": True, "content": {JSON: {"schema": ITEM_CHANGES}}},
                "responses": {
                    "200": json_body("The item as written.", ITEM),
                    "400": text("The item id, the body or a header is wrong; the message says how."),
                    "404": text("No such item."),
                    "405": METHOD_NOT_ALLOWED,
                    "409": text(f"Not applied: a write with a higher {FENCE_HEADER} was applied already."),
                    "412": text(f"Not applied: its {DEADLINE_HEADER} passed first."),
                    "413": TOO_LARGE,
                },
            },
        },
        "/stats": {
            "get": {
                "summary": "What the store served since the last reset.",
                "responses": {"200": json_body("The counters.", STATS)},
            }
        },
        "/stats/reads-by-node": {
            "get": {
                "summary": "Reads by node, then by item id, since the last reset.",
                "responses": {
                    "200": json_body("The reads.", {"type": "object", "additionalProperties": counts("By item id.")})
                },
            }
        },
        "/stats/reset": {
            "post": {
                "summary": "Sets every counter to zero.",
                "responses": {"200": json_body("The counters, now zero.", STATS)},
            }
        },
        "/control": {
            "get": {"summary": "The faults in force.", "responses": {"200": json_body("The faults.", FAULTS)}},
            "put": {
                "summary": "Changes faults while the store runs.",
                "requestBody": {"required": True, "content": {JSON: {"schema": FAULT_CHANGES}}},
                "responses": {
                    "200": json_body("The faults now in force.", FAULTS),
                    "400": text("The body is not a JSON object of known faults in range; the message says which."),
                    "413": TOO_LARGE,
                },
            },
        },
        "/healthz": {"get": {"summary": "Whether the store serves.", "responses": {"200": text("ok")}}},
        "/openapi.json": {"get": description_operation("source store")},
    },
}
