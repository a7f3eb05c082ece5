"""Fault steps run by a scenario on real farms: the cache server paused and resumed, restarted with its data, and
the source store slowed, each one event on the report's time axis; a cache of nodes only gets a note."""

from __future__ import annotations

from farm.scenario.history import NOTE
from farm.testing.scenarios import RunScenario

SCENARIO = {
    "name": "fault-steps",
    "farm": {"nodes": 1, "caches": ["redis", "sql", "memory"], "source_latency_ms": 5},
    "steps": [
        {"load": {"requests": 40, "keys": 10, "concurrency": 4}},
        {"cache": "pause"},
        {"load": {"requests": 20, "keys": 10, "concurrency": 4}},
        {"cache": "resume"},
        {"cache": "restart"},
        {"source": {"latency_ms": 15, "fail_writes_after_apply": 0}},
        {"load": {"requests": 40, "keys": 10, "concurrency": 4}},
        {"expect": {"errors": 0}},
    ],
}


def test_fault_steps_are_events_and_requests_survive_them(run_scenario: RunScenario) -> None:
    outcome = run_scenario(SCENARIO)
    assert outcome.passed, outcome.failures()
    for cache in ("redis", "sql"):
        events = [(e.kind, e.label) for e in outcome.results[cache].events]
        assert events == [
            ("cache", "cache pause"),
            ("cache", "cache resume"),
            ("cache", "cache restart"),
            ("source", "source latency_ms 15, fail_writes_after_apply 0"),
        ], cache
    memory = [(e.kind, e.label) for e in outcome.results["memory"].events]
    assert memory[:3] == [
        (NOTE, f"cache {action}: not a server of this farm") for action in ("pause", "resume", "restart")
    ]
    assert memory[3] == ("source", "source latency_ms 15, fail_writes_after_apply 0")
