"""The JSON Schema of scenario files: what `farm run` accepts, checked before anything runs."""

from __future__ import annotations

from typing import Any

METRICS = (
    "requests", "requests_per_second", "errors", "hit_ratio", "hit_ratio_after_restart", "misses_after_restart",
    "hit_ratio_after_add", "source_requests", "source_writes", "source_requests_per_key", "coherence_violations",
    "start_time_mismatches", "cached_time_values", "cached_time_expired", "p50_ms", "p95_ms", "p99_ms", "max_ms",
)  # fmt: skip
"""Every figure an ``expect`` step can judge; `farm.scenario.figures.measure` computes each of them."""
CACHES = ("none", "memory", "redis", "sql")
NODE_NAME = {"type": "string", "pattern": "^node-[0-9]+$"}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}


def _one_of_node_or_all() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"node": NODE_NAME, "all": {"const": True}, "rolling": {"type": "boolean"}},
        "additionalProperties": False,
        "oneOf": [{"required": ["node"], "not": {"required": ["all"]}}, {"required": ["all"]}],
    }


def _step(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {kind: body}, "required": [kind], "additionalProperties": False}


THRESHOLD = {
    "oneOf": [
        {"type": "number"},
        {
            "type": "object",
            "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
            "additionalProperties": False,
            "minProperties": 1,
        },
    ]
}

LOAD = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "duration_s": POSITIVE,
        "requests": {"type": "integer", "minimum": 1},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
        "rate": POSITIVE,
        "keys": {"type": "integer", "minimum": 1},
        "distribution": {"enum": ["uniform", "zipf"]},
        "zipf_s": {"type": "number", "exclusiveMinimum": 1},
        "read_ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"type": "integer"},
        "background": {"type": "boolean"},
        "page": {"enum": ["items", "home"]},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["duration_s"]}, {"required": ["requests"]}],
    "not": {"required": ["concurrency", "rate"]},
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cachefarm scenario",
    "type": "object",
    "required": ["name", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "description": {"type": "string"},
        "expected_to_fail": {"type": "array", "items": {"enum": list(CACHES)}, "uniqueItems": True},
        "farm": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "nodes": {"type": "integer", "minimum": 1, "maximum": 50},
                "caches": {"type": "array", "items": {"enum": list(CACHES)}, "minItems": 1, "uniqueItems": True},
                "item_sliding_s": POSITIVE,
                "item_absolute_s": POSITIVE,
                "source_latency_ms": {"type": "number", "minimum": 0},
            },
        },
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "oneOf": [
                    _step("load", LOAD),
                    _step("restart", _one_of_node_or_all()),
                    _step(
                        "add",
                        {
                            "type": "object",
                            "properties": {"count": {"type": "integer", "minimum": 1}},
                            "additionalProperties": False,
                        },
                    ),
                    *(
                        _step(
                            kind,
                            {
                                "type": "object",
                                "properties": {"node": NODE_NAME},
                                "required": ["node"],
                                "additionalProperties": False,
                            },
                        )
                        for kind in ("remove", "kill", "pause", "resume")
                    ),
                    _step("cache", {"enum": ["stop", "start"]}),
                    _step(
                        "write",
                        {
                            "type": "object",
                            "properties": {
                                "keys": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}},
                                "via": NODE_NAME,
                            },
                            "required": ["keys"],
                            "additionalProperties": False,
                        },
                    ),
                    _step("wait", POSITIVE),
                    _step(
                        "expect",
                        {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": False,
                            "properties": {m: THRESHOLD for m in METRICS},
                        },
                    ),
                ]
            },
        },
    },
}
STEP_KINDS = ("load", "restart", "add", "remove", "kill", "pause", "resume", "cache", "write", "wait", "expect")
