"""The proxy's admin API as OpenAPI: what it serves at ``GET /_proxy/openapi.json`` (no token needed: the
description holds nothing of this proxy's) and docs/http-api.md shows."""

from __future__ import annotations

from farm.openapi import (
    JSON,
    METHOD_NOT_ALLOWED,
    OPENAPI_VERSION,
    TEXT,
    Schema,
    description_operation,
    json_body,
    text,
)
from proxy.backends import BackendState
from proxy.drain import DRAIN_TIMEOUT_S

BACKEND_NAME_PATTERN = "^[^/\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]+$"
"""The same text is a JSON Schema (ECMA) and a Python pattern."""
BACKEND_NAME_RULE = "give one or more characters, no '/' and no control characters: DELETE must be able to name it"
MAX_DRAIN_TIMEOUT_S = 3600.0

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {"type": "string", "description": "What is wrong, and what to send instead."}},
}


def error(description: str) -> Schema:
    return json_body(description, ERROR)


BACKEND: Schema = {
    "type": "object",
    "required": ["name", "url", "state", "requests", "errors", "shed", "in_flight", "last_error"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "url": {"type": "string"},
        "state": {"type": "string", "enum": [str(state) for state in BackendState]},
        "requests": {"type": "integer", "minimum": 0},
        "errors": {"type": "integer", "minimum": 0},
        "shed": {"type": "integer", "minimum": 0, "description": "Answers 503 with Retry-After."},
        "in_flight": {"type": "integer", "minimum": 0},
        "last_error": {"type": "string", "nullable": True},
    },
}
NEW_BACKEND: Schema = {
    "type": "object",
    "required": ["name", "url"],
    "properties": {
        "name": {"type": "string", "pattern": BACKEND_NAME_PATTERN, "description": f"Unique: {BACKEND_NAME_RULE}."},
        "url": {"type": "string", "description": "An http(s) URL with a host (400 if it is not)."},
    },
}
UNAUTHORIZED = {
    **error("No token, or the wrong one."),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
}
DATA_PORT: Schema = {
    "400": text(
        "From the proxy's data port, before the admin API sees the request: an ambiguous request path (an "
        "encoded / or \\ would change where it goes), a #fragment, no Host or two, or a Transfer-Encoding "
        "that does not end with chunked."
    ),
    "408": text("From the proxy's data port: the request header or body did not arrive in time."),
    "414": text("From the proxy's data port: the request target is longer than 8 KiB."),
    "431": text("From the proxy's data port: the request line and headers are larger than 32 KiB."),
    "502": text("From the proxy's data port: the admin API did not answer."),
}
"""What the data port answers itself on the way to the admin API (not on --admin-port)."""
COMMON: Schema = {
    "401": UNAUTHORIZED,
    "405": METHOD_NOT_ALLOWED,
    "413": error("The body is larger than the admin API takes (its bodies are a few hundred bytes)."),
}


def answers(responses: Schema) -> Schema:
    """``responses`` and the data port's own answers; a status both give has both bodies, told apart by type."""
    merged = dict(responses)
    for status, answer in DATA_PORT.items():
        if status in merged:
            own = merged[status]
            merged[status] = {
                "description": f"{own['description']} {answer['description']}",
                "content": {**own["content"], **answer["content"]},
            }
        else:
            merged[status] = answer
    return merged


def describe(prefix: str) -> Schema:
    """The admin API as served under ``prefix`` (proxy.admin.PREFIX)."""
    description = _describe(prefix)
    for operations in description["paths"].values():
        for operation in operations.values():
            operation["responses"] = answers(operation["responses"])
    return description


def _describe(prefix: str) -> Schema:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "cachefarm proxy admin API",
            "version": "1",
            "description": f"Under {prefix}/ on the proxy's port, never forwarded to a backend. Every call but this "
            "description needs the admin token (FARM_PROXY_TOKEN) as a bearer token.",
        },
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": {
            f"{prefix}/backends": {
                "get": {
                    "summary": "Every backend, its state and counters.",
                    "responses": {
                        "200": json_body(
                            "The backends.",
                            {
                                "type": "object",
                                "required": ["backends"],
                                "additionalProperties": False,
                                "properties": {"backends": {"type": "array", "items": BACKEND}},
                            },
                        ),
                        **COMMON,
                    },
                },
                "post": {
                    "summary": "Adds a backend; it takes requests at once.",
                    "requestBody": {"required": True, "content": {JSON: {"schema": NEW_BACKEND}}},
                    "responses": {
                        "201": json_body("The backend added.", BACKEND),
                        "400": error(
                            "The body is not a JSON object with a name and an http(s) URL; the message says which."
                        ),
                        "409": error("A backend of that name exists."),
                        **COMMON,
                    },
                },
            },
            f"{prefix}/backends/{{name}}": {
                "delete": {
                    "summary": "Takes the backend out of rotation, lets its requests in flight finish, removes it.",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "description": "The backend's name.",
                            "schema": {"type": "string", "minLength": 1},
                        },
                        {
                            "name": "drain_timeout",
                            "in": "query",
                            "description": f"Seconds its requests in flight get (default {DRAIN_TIMEOUT_S:g}).",
                            "schema": {"type": "number", "minimum": 0, "maximum": MAX_DRAIN_TIMEOUT_S},
                        },
                    ],
                    "responses": {
                        "200": json_body(
                            "Removed; drained says whether every request in flight finished in time.",
                            {
                                "type": "object",
                                "required": ["removed", "drained"],
                                "additionalProperties": False,
                                "properties": {"removed": BACKEND, "drained": {"type": "boolean"}},
                            },
                        ),
                        "400": error(f"drain_timeout is not a number of seconds from 0 to {MAX_DRAIN_TIMEOUT_S:g}."),
                        "404": error("No backend of that name."),
                        **COMMON,
                    },
                }
            },
            f"{prefix}/metrics": {
                "get": {
                    "summary": "Requests, errors and state per backend, in Prometheus's text format.",
                    "responses": {"200": {"description": "The metrics.", "content": {TEXT: {"schema": {}}}}, **COMMON},
                }
            },
            f"{prefix}/openapi.json": {"get": {**description_operation("proxy admin API"), "security": []}},
        },
    }
