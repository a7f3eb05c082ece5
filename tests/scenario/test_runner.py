"""The runner and its checks on small real farms: supervisord, redis-server, the source store, nodes, proxy."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from farm.config import CacheChoice
from farm.scenario.history import Record
from farm.scenario.result import CacheResult
from farm.scenario.runner import ScenarioRunner
from farm.scenario.spec import parse_scenario
from farm.topology import Farm

RESTART_UNDER_LOAD = """
name: restart-under-load
farm: {nodes: 2, source_latency_ms: 2}
expected_to_fail: [memory]
steps:
  - load: {name: warm-up, requests: 600, concurrency: 8, keys: 40}
  - load: {name: during, concurrency: 8, keys: 40, until: expect}
  - wait: 0.5
  - restart: {node: node-1}
  - wait: 0.5
  - expect: {errors: 0, hit_ratio_after_restart: {min: 0.9}}
"""

SAMPLE_PAGES = """
name: pages
farm: {nodes: 2}
steps:
  - load: {page: home, duration_s: 1.5, rate: 10}
  - expect: {cached_time_expired: 0}
  - restart: {node: node-1}
  - load: {page: home, duration_s: 2.5, rate: 10}
  - expect: {start_time_mismatches: 0, cached_time_values: 1}
"""


async def records_of(result: CacheResult) -> list[Record]:
    """The run's records as objects, made in a thread: thousands of them would hold the test's loop up."""
    return await asyncio.to_thread(list, result.records)


async def run(text: str, cache: str, run_dir: Path) -> CacheResult:
    farm = Farm(run_dir)
    try:
        return await ScenarioRunner(parse_scenario(text), CacheChoice(cache, None), farm, seed=1).run()
    finally:
        await asyncio.to_thread(farm.down)


async def test_a_shared_cache_keeps_a_restarted_node_warm(tmp_path: Path) -> None:
    result = await run(RESTART_UNDER_LOAD, "redis", tmp_path / "farm")
    assert result.failure is None
    assert [(e.kind, e.node) for e in result.events] == [("restart", "node-1")]
    restart = result.events[0]
    assert restart.end > restart.start
    assert [v.metric for v in result.verdicts if not v.passed] == [], result.verdicts
    assert result.passed
    assert result.acceptable
    figures = result.figures
    assert figures is not None
    assert (figures.values["hit_ratio_after_restart"] or 0) >= 0.9
    assert figures.values["coherence_violations"] is None, "reads only: nothing to judge them against"
    # The source store's own counter: each of the 40 keys read about once for the whole farm.
    reads = figures.values["source_requests"] or 0
    assert 40 <= reads <= 60
    assert figures.values["source_requests_per_key"] == pytest.approx(reads / 40)
    assert Counter(s.node for s in result.starts) == {"node-1": 2, "node-2": 1}, "node-1 started twice"
    during = "2. load during until expect x8 (background)"
    records = await records_of(result)
    assert {r.step for r in records} == {"1. load warm-up 600 requests x8", during}
    last = max(r.start for r in records if r.step == during)
    assert last > restart.end, "the load went on until the expect step, past the restart"


async def test_per_node_memory_caches_start_cold_after_a_restart(tmp_path: Path) -> None:
    result = await run(RESTART_UNDER_LOAD, "memory", tmp_path / "farm")
    assert result.failure is None
    failed = {v.metric: v.value for v in result.verdicts if not v.passed}
    assert set(failed) == {"hit_ratio_after_restart"}
    assert (failed["hit_ratio_after_restart"] or 0) < 0.6
    assert not result.passed
    assert result.acceptable, "the scenario expects memory to fall short here"
    assert result.figures is not None
    assert (result.figures.values["source_requests"] or 0) > 80, "each node reads each key from the source"


async def test_without_a_cache_the_source_store_counts_every_read_and_write(tmp_path: Path) -> None:
    text = """
name: no-cache
farm: {nodes: 2, source_latency_ms: 1}
steps:
  - load: {requests: 300, concurrency: 6, keys: 30, read_ratio: 0.8}
  - write: {keys: [1, 2, 3]}
  - expect: {hit_ratio: 0}
"""
    result = await run(text, "none", tmp_path / "farm")
    assert result.passed
    assert result.figures is not None
    gets = sum(r.method == "GET" and r.ok for r in result.records)
    puts = sum(r.method == "PUT" and r.ok for r in result.records)
    assert result.figures.values["source_requests"] == gets
    assert result.figures.values["source_writes"] == puts
    assert puts >= 3
    assert result.figures.values["requests"] == len(result.records) == 303


async def test_requests_that_fail_while_every_node_restarts_count_against_their_step(tmp_path: Path) -> None:
    text = """
name: outage
farm: {nodes: 2, source_latency_ms: 1}
steps:
  - load: {name: under restarts, duration_s: 3, concurrency: 4, keys: 10, background: true}
  - wait: 0.5
  - pause: {node: node-2}
  - wait: 0.3
  - resume: {node: node-2}
  - restart: {all: true}
  - expect: {errors: 0}
"""
    result = await run(text, "redis", tmp_path / "farm")
    assert result.failure is None
    assert result.figures is not None
    label = "1. load under restarts 3 s x4 (background)"
    assert list(result.figures.errors_by_step) == [label], "the proxy had no node to send them to"
    records = await records_of(result)
    assert result.figures.errors_by_step[label] == sum(not r.ok for r in records) > 0
    assert {r.status for r in records if not r.ok} <= {502, 503, 504}
    assert [(v.metric, v.passed) for v in result.verdicts] == [("errors", False)]
    assert [e.label for e in result.events] == ["pause node-2", "resume node-2", "restart node-1", "restart node-2"]


@pytest.mark.parametrize(("cache", "values", "mismatched"), [("redis", 1, False), ("memory", 2, True)])
async def test_the_sample_start_time_and_cached_time(tmp_path: Path, cache: str, values: int, mismatched: bool) -> None:
    """After node-1 restarts, a shared cache shows its start time on every node; memory caches do not."""
    result = await run(SAMPLE_PAGES, cache, tmp_path / "farm")
    measured = {v.metric: v.value for v in result.verdicts}
    assert measured["cached_time_expired"] == 0
    assert measured["cached_time_values"] == values
    assert ((measured["start_time_mismatches"] or 0) > 0) is mismatched
    assert {r.node for r in result.records} == {"node-1", "node-2"}


CACHE_OUTAGE = """
name: cache-outage
farm: {nodes: 2, source_latency_ms: 1}
steps:
  - load: {name: during the outage, duration_s: 3, concurrency: 4, keys: 10, background: true}
  - wait: 0.5
  - cache: stop
  - wait: 1
  - cache: start
  - kill: {node: node-2}
  - expect: {errors: 0, recovery_s: {max: 3}}
"""


async def test_a_cache_outage_costs_hits_not_requests(tmp_path: Path) -> None:
    result = await run(CACHE_OUTAGE, "redis", tmp_path / "farm")
    assert result.failure is None
    assert [e.label for e in result.events] == ["cache stop", "cache start", "kill node-2"]
    stopped, started = result.events[0], result.events[1]
    during = [r for r in await records_of(result) if r.start > stopped.end + 0.3 and r.end < started.start]
    assert during, "requests went on while the cache was down"
    assert {(r.ok, r.hit) for r in during} == {(True, False)}, "served from the source store, as misses"
    assert [e.ends_fault for e in result.events] == [False, True, False], "the cache's start ends the fault"
    assert [(v.metric, v.passed) for v in result.verdicts] == [("errors", True), ("recovery_s", True)], (
        "no request failed, not even on the killed node; hits came back after the start"
    )


async def test_cache_steps_are_notes_when_the_farm_has_no_cache_server(tmp_path: Path) -> None:
    result = await run(CACHE_OUTAGE, "memory", tmp_path / "farm")
    assert [e.label for e in result.events][:2] == [
        "cache stop: not a server of this farm",
        "cache start: not a server of this farm",
    ]
    assert [e.kind for e in result.events] == ["note", "note", "kill"]
    assert [(v.metric, v.value, v.passed) for v in result.verdicts][1] == ("recovery_s", None, False), (
        "no fault ended: nothing measured"
    )


async def test_a_rolling_restart_records_one_event_per_node_as_each_is_back(tmp_path: Path) -> None:
    text = """
name: rolling
farm: {nodes: 2, source_latency_ms: 1}
steps:
  - load: {concurrency: 2, keys: 10, until: expect}
  - restart: {all: true, rolling: true}
  - wait: 0.3
  - expect: {errors: 0, hit_ratio_after_restart: {min: 0.9}}
"""
    result = await run(text, "redis", tmp_path / "farm")
    assert [(e.kind, e.node) for e in result.events] == [("restart", "node-1"), ("restart", "node-2")]
    first, second = result.events
    assert first.start < first.end <= second.start < second.end, "one node at a time, each event its own span"
    assert [v.passed for v in result.verdicts] == [True, True], result.verdicts
