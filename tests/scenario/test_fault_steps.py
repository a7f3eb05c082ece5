"""Network fault steps: parsed from YAML with clear errors, and run on a real farm with fault links."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from farm.config import CacheChoice
from farm.scenario.errors import ScenarioSpecError
from farm.scenario.runner import ScenarioRunner
from farm.scenario.spec import parse_scenario
from farm.scenario.steps import STEP_TYPES
from farm.topology import Farm

PARTITION = """
name: partition
farm: {nodes: 2, source_latency_ms: 2}
steps:
  - load: {name: warm, requests: 100, concurrency: 4, keys: 10}
  - partition: {nodes: [node-1], from: cache}
  - load: {name: cut-off, requests: 60, concurrency: 4, keys: 10}
  - heal: {nodes: [node-1], from: cache}
  - latency: {to: source, ms: 20, jitter_ms: 5, duration_s: 0.5}
  - reset: {to: cache}
  - expect: {errors: 0}
"""


def test_fault_steps_say_they_need_fault_links_and_heal_ends_a_fault() -> None:
    scenario = parse_scenario(PARTITION)
    assert scenario.needs_fault_links
    assert [k for k, step in STEP_TYPES.items() if step.ends_fault] == ["heal"]
    assert not parse_scenario("name: x\nsteps:\n  - wait: 1\n").needs_fault_links
    labels = [step.describe() for step in scenario.steps if step.needs_fault_links]
    assert labels == [
        "partition node-1 from cache",
        "heal node-1 from cache",
        "latency 20 ± 5 ms to source on all nodes for 0.5 s",
        "reset all nodes to cache",
    ]
    assert parse_scenario("name: x\nsteps:\n  - heal: all\n").steps[0].describe() == "heal all"


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        ("partition: {nodes: [node-1]}", "steps[0].partition.from", "is required"),
        ("partition: {from: disk}", "steps[0].partition.from", "'disk' is not one of"),
        ("latency: {to: cache}", "steps[0].latency.ms", "is required"),
        ("latency: {to: cache, ms: -1}", "steps[0].latency.ms", "less than the minimum"),
        ("reset: {to: cache, duration_s: 0}", "steps[0].reset.duration_s", "less than or equal to the minimum"),
        ("heal: some", "steps[0].heal", "give `all`"),
        ("latency: {to: cache, ms: 10, jitter_ms: 20}", "steps[0].latency.jitter_ms", "20 is more than ms (10)"),
    ],
)
def test_bad_fault_steps_name_their_line_and_field(step: str, field: str, message: str) -> None:
    with pytest.raises(ScenarioSpecError) as raised:
        parse_scenario(f"name: x\nsteps:\n  - {step}\n", "x.yaml")
    assert f"x.yaml:3: {field}: " in str(raised.value)
    assert message in str(raised.value)


async def test_a_partitioned_node_still_answers_and_every_fault_end_is_an_event(tmp_path: Path) -> None:
    farm = Farm(tmp_path / "farm")
    try:
        result = await ScenarioRunner(parse_scenario(PARTITION), CacheChoice("redis", None), farm, seed=1).run()
    finally:
        await asyncio.to_thread(farm.down)
    assert result.failure is None
    assert [v.metric for v in result.verdicts if not v.passed] == []
    events = [(e.kind, e.node) for e in result.events]
    assert events == [
        ("partition", "node-1"),
        ("heal", "node-1"),
        ("latency", None),
        ("reset", None),
        ("heal", None),  # the reset is over as it happens
        ("heal", None),  # the latency healed by itself after 0.5 s
    ]
    records = await asyncio.to_thread(list, result.records)  # thousands: made off the test's loop
    cut_off = [r for r in records if "cut-off" in r.step]
    assert cut_off
    assert all(r.ok for r in cut_off)
    assert {r.hit for r in cut_off if r.node == "node-1"} == {False}  # from the source store
    assert True in {r.hit for r in cut_off if r.node == "node-2"}
    latency, self_heal = result.events[2], result.events[5]
    assert self_heal.start >= latency.end + 0.5 - 0.2
