"""Scenario files: a good one reads into steps; a bad one lists every problem with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farm.scenario.errors import ScenarioSpecError
from farm.scenario.schema import SCHEMA
from farm.scenario.spec import load_scenario, parse_scenario

GOOD = """\
name: rolling-restart
description: a deployment under load
farm:
  nodes: 3
  caches: [memory, redis]
  source_latency_ms: 10
steps:
  - load: {duration_s: 5, concurrency: 20, keys: 100, distribution: zipf, zipf_s: 1.2, seed: 7, background: true}
  - restart: {all: true, rolling: true}
  - wait: 1.5
  - write: {keys: [1, 2]}
  - cache: stop
  - kill: {node: node-2}
  - expect:
      coherence_violations: 0
      hit_ratio_after_restart: {min: 0.95}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioSpecError) as caught:
        parse_scenario(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_good_file_reads_into_steps_with_their_lines() -> None:
    scenario = parse_scenario(GOOD, "good.yaml")
    assert scenario.name == "rolling-restart"
    assert scenario.farm.caches == ("memory", "redis")
    assert scenario.farm.source_latency_ms == 10
    assert [(s.kind, s.line) for s in scenario.steps] == [
        ("load", 8), ("restart", 9), ("wait", 10), ("write", 11), ("cache", 12), ("kill", 13), ("expect", 14),
    ]  # fmt: skip
    assert scenario.steps[0].args["distribution"] == "zipf"


def test_every_problem_is_reported_with_file_line_and_field() -> None:
    text = """\
name: bad
farm:
  nodes: 0
  caches: [redis, memcached]
steps:
  - load: {duration_s: 5, concurrency: -2, distribution: pareto}
  - restrat: {node: node-1}
  - kill: {node: web-1}
  - expect: {p99: {max: 50}}
"""
    assert problems(text) == [
        "s.yaml:3: farm.nodes: 0 is less than the minimum of 1",
        "s.yaml:4: farm.caches[1]: 'memcached' is not one of ['none', 'memory', 'redis', 'sql']",
        "s.yaml:6: steps[0].load.concurrency: -2 is less than the minimum of 1",
        "s.yaml:6: steps[0].load.distribution: 'pareto' is not one of ['uniform', 'zipf']",
        "s.yaml:7: steps[1]: a step is one of load, restart, add, remove, kill, pause, resume, cache, write, wait, "
        "expect; found restrat",
        "s.yaml:8: steps[2].kill.node: 'web-1' does not match '^node-[0-9]+$'",
        "s.yaml:9: steps[3].expect: Additional properties are not allowed ('p99' was unexpected)",
    ]


def test_rules_between_fields_say_what_to_write() -> None:
    text = """\
name: bad
steps:
  - load: {concurrency: 5, rate: 100}
  - restart: {rolling: true}
"""
    assert problems(text) == [
        "s.yaml:3: steps[0].load: give concurrency or rate, not both",
        "s.yaml:3: steps[0].load: give either duration_s or requests",
        "s.yaml:4: steps[1].restart: give node: NAME, or all: true (with rolling: true for one at a time)",
    ]


def test_missing_fields_are_named() -> None:
    assert problems("description: no name\n") == [
        "s.yaml:1: name: is required",
        "s.yaml:1: steps: is required",
    ]
    assert problems("name: x\nsteps:\n  - write: {}\n") == ["s.yaml:3: steps[0].write.keys: is required"]


def test_yaml_syntax_errors_have_their_line() -> None:
    assert problems("name: x\nsteps:\n  - load: {duration_s: 5\n") == [
        "s.yaml:4: (yaml): expected ',' or '}', but got '<stream end>'"
    ]
    assert problems("- just\n- a list\n") == ["s.yaml:1: (top level): a scenario is a mapping with name and steps"]


def test_an_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioSpecError, match="cannot read: No such file or directory"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "ok.yaml").write_text(GOOD)
    assert load_scenario(tmp_path / "ok.yaml").file.endswith("ok.yaml")


def test_the_published_json_schema_is_the_one_the_runner_uses() -> None:
    published = json.loads((Path(__file__).resolve().parents[2] / "docs" / "scenario.schema.json").read_text())
    assert published == SCHEMA, "regenerate docs/scenario.schema.json (see docs/scenarios.md)"


def test_every_shipped_scenario_is_valid() -> None:
    shipped = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
    assert [p.stem for p in shipped] == [
        "coherence", "demo", "redis-vs-sql", "restarts", "sample", "scale", "source-load",
    ]  # fmt: skip
    for path in shipped:
        assert load_scenario(path).name == path.stem
