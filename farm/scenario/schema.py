"""The JSON Schema of scenario files: what `farm run` accepts, checked before anything runs.

Put together from its parts' homes: each step's body from its class, the figures from the catalogue (through
the ``expect`` step), the cache kinds from the farm's configuration.
"""

from __future__ import annotations

from typing import Any

from farm.config import CACHE_VARIANTS
from farm.scenario.steps import STEP_TYPES
from farm.scenario.steps.base import POSITIVE, JsonSchema
from farm.source.faults import LIMITS
from nodes.admission import MOST_REQUESTS, QUEUE_TIMEOUT_MS_RANGE
from nodes.settings import LONGEST_ITEM_LIFETIME_S

LIFETIME: JsonSchema = {**POSITIVE, "maximum": LONGEST_ITEM_LIFETIME_S}
"""The bounds of the nodes' and ``farm up``'s flags (``nodes.flags``), so that a file that passes starts a farm."""
REQUESTS: JsonSchema = {"type": "integer", "minimum": 0, "maximum": MOST_REQUESTS}


def step_schema(kind: str) -> JsonSchema:
    """A step as the file holds it: a mapping with the one key ``kind``."""
    body = STEP_TYPES[kind].schema
    return {"type": "object", "properties": {kind: body}, "required": [kind], "additionalProperties": False}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cachefarm scenario",
    "type": "object",
    "required": ["name", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "description": {"type": "string"},
        "expected_to_fail": {"type": "array", "items": {"enum": list(CACHE_VARIANTS)}, "uniqueItems": True},
        "farm": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "nodes": {"type": "integer", "minimum": 1, "maximum": 50},
                "caches": {
                    "type": "array",
                    "items": {"enum": list(CACHE_VARIANTS)},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "item_sliding_s": LIFETIME,
                "item_absolute_s": LIFETIME,
                "source_latency_ms": {
                    "type": "number",
                    "minimum": LIMITS["latency_ms"][0],
                    "maximum": LIMITS["latency_ms"][1],
                },
                "cache_persistence": {"type": "boolean"},
                "max_in_flight": REQUESTS,
                "max_queue": REQUESTS,
                "queue_timeout_ms": {
                    "type": "number",
                    "minimum": QUEUE_TIMEOUT_MS_RANGE[0],
                    "maximum": QUEUE_TIMEOUT_MS_RANGE[1],
                },
            },
        },
        "steps": {"type": "array", "minItems": 1, "items": {"oneOf": [step_schema(kind) for kind in STEP_TYPES]}},
    },
}
