"""Scenario files: a good one reads into steps; a bad one lists every problem with file, line and field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from farm.errors import FarmError
from farm.scenario.catalogue import FIGURE_NAMES
from farm.scenario.errors import ScenarioSpecError
from farm.scenario.load import LoadSpec
from farm.scenario.reference import render_guide
from farm.scenario.schema import SCHEMA
from farm.scenario.spec import load_scenario, parse_scenario
from farm.scenario.steps import STEP_TYPES, ExpectStep, KillStep, LoadStep, RestartStep, SourceStep, WaitStep, WriteStep
from farm.scenario.steps.base import StepContext
from farm.scenario.steps.cache import ACTION_STEPS, CacheStopStep
from farm.scenario.steps.traffic import target_url
from farm.state import FarmState
from farm.topology import CACHE_ACTIONS
from nodes.admission import AdmissionLimits

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
    assert scenario.steps == (
        LoadStep(
            line=8,
            spec=LoadSpec(duration_s=5, concurrency=20, keys=100, distribution="zipf", zipf_s=1.2),
            seed=7,
            background=True,
        ),
        RestartStep(line=9, rolling=True),
        WaitStep(line=10, seconds=1.5),
        WriteStep(line=11, keys=(1, 2)),
        CacheStopStep(line=12),
        KillStep(line=13, node="node-2"),
        ExpectStep(line=14, thresholds={"coherence_violations": 0, "hit_ratio_after_restart": {"min": 0.95}}),
    )
    assert [s.numbered(i) for i, s in enumerate(scenario.steps, 1)] == [
        "1. load 5 s x20 (background)",
        "2. restart all, rolling",
        "3. wait 1.5 s",
        "4. write keys 1, 2",
        "5. cache stop",
        "6. kill node-2",
        "7. expect coherence_violations, hit_ratio_after_restart",
    ]


def test_a_load_without_concurrency_or_rate_has_ten_clients_and_labels_name_what_they_do() -> None:
    text = """\
name: labels
steps:
  - load: {name: warm-up, requests: 600}
  - load: {duration_s: 2, rate: 50, page: home}
  - restart: {node: node-1}
  - restart: {all: true}
  - add: {count: 2}
  - remove: {node: node-4}
  - pause: {node: node-2}
  - resume: {node: node-2}
  - write: {keys: [7], via: node-3}
"""
    steps = parse_scenario(text).steps
    assert isinstance(steps[0], LoadStep)
    assert steps[0].spec.concurrency == 10
    assert [s.numbered(i) for i, s in enumerate(steps, 1)] == [
        "1. load warm-up 600 requests x10",
        "2. load 2 s 50/s",
        "3. restart node-1",
        "4. restart all at once",
        "5. add 2 node(s)",
        "6. remove node-4",
        "7. pause node-2",
        "8. resume node-2",
        "9. write keys 7 via node-3",
    ]


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
        "s.yaml:4: farm.caches[1]: 'memcached' is not one of ['none', 'memory', 'redis', 'sql', 'sqlite', "
        "'redis/available', 'sql/available', 'sqlite/available']",
        "s.yaml:6: steps[0].load.concurrency: -2 is less than the minimum of 1",
        "s.yaml:6: steps[0].load.distribution: 'pareto' is not one of ['uniform', 'zipf']",
        "s.yaml:7: steps[1]: a step is one of load, restart, add, remove, kill, pause, resume, cache, source, "
        "partition, latency, reset, heal, write, wait, expect; found restrat",
        "s.yaml:8: steps[2].kill.node: 'web-1' does not match '^node-[0-9]+$'",
        "s.yaml:9: steps[3].expect: Additional properties are not allowed ('p99' was unexpected)",
    ]


def test_a_threshold_names_known_caches_and_a_bound() -> None:
    text = """\
name: bad
steps:
  - expect: {hit_ratio: {min: 0.9, expected_to_fail: [memcached]}, errors: {expected_to_fail: [memory]}}
"""
    assert problems(text) == [
        "s.yaml:3: steps[0].expect.errors: {'expected_to_fail': ['memory']} is not valid under any of the given "
        "schemas",
        "s.yaml:3: steps[0].expect.hit_ratio.expected_to_fail[0]: 'memcached' is not one of ['none', 'memory', "
        "'redis', 'sql', 'sqlite', 'redis/available', 'sql/available', 'sqlite/available']",
    ]
    good = parse_scenario("name: ok\nsteps:\n  - expect: {hit_ratio: {min: 0.9, expected_to_fail: [memory]}}\n")
    assert good.steps[0] == ExpectStep(line=3, thresholds={"hit_ratio": {"min": 0.9, "expected_to_fail": ["memory"]}})


def test_rules_between_fields_say_what_to_write() -> None:
    text = """\
name: bad
steps:
  - load: {concurrency: 5, rate: 100}
  - restart: {rolling: true}
"""
    assert problems(text) == [
        "s.yaml:3: steps[0].load: give concurrency or rate, not both",
        "s.yaml:3: steps[0].load: give one of duration_s, requests or until: expect",
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


DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "regenerate with: .venv/bin/python -m farm.scenario.reference docs"


def test_the_published_json_schema_is_the_one_the_runner_uses() -> None:
    published = json.loads((DOCS / "scenario.schema.json").read_text())
    assert published == SCHEMA, REGENERATE


def test_the_guide_lists_every_step_and_figure_as_the_code_has_them() -> None:
    guide = (DOCS / "scenarios.md").read_text()
    assert render_guide(guide) == guide, REGENERATE
    for kind in STEP_TYPES:
        assert f"| `{kind}` |" in guide
    for name in FIGURE_NAMES:
        assert f"| `{name}` |" in guide
    with pytest.raises(ValueError, match="no block for the figures table"):
        render_guide(guide.replace("<!-- end of figures -->", ""))


def test_every_step_kind_is_in_the_schema_with_its_own_body() -> None:
    kinds = [next(iter(s["properties"])) for s in SCHEMA["properties"]["steps"]["items"]["oneOf"]]
    assert kinds == list(STEP_TYPES)
    for one in SCHEMA["properties"]["steps"]["items"]["oneOf"]:
        kind = next(iter(one["properties"]))
        assert one["properties"][kind] is STEP_TYPES[kind].schema
    expect = STEP_TYPES["expect"].schema["properties"]
    assert list(expect) == list(FIGURE_NAMES), "an expect may name every figure, and nothing else"


def test_every_shipped_scenario_is_valid() -> None:
    shipped = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
    assert [p.stem for p in shipped] == [
        "cache-outage",
        "coherence",
        "demo",
        "overload",
        "partition",
        "redis-vs-sql",
        "restarts",
        "sample",
        "scale",
        "slow-source",
        "source-load",
    ]
    for path in shipped:
        assert load_scenario(path).name == path.stem


def test_a_load_body_is_a_load_spec_and_the_steps_own_fields() -> None:
    """A field added to LoadSpec and the schema reaches the load: nothing lists them a third time."""
    spec_fields = {f.name for f in dataclasses.fields(LoadSpec)} - {"seed", "fixed_keys"}
    assert set(LoadStep.schema["properties"]) == spec_fields | {"name", "seed", "background", "via", "until"}
    step = parse_scenario("name: s\nsteps:\n  - load: {requests: 5, keys: 3, zipf_s: 1.5, read_ratio: 0.5}\n").steps[0]
    assert isinstance(step, LoadStep)
    assert (step.spec.keys, step.spec.zipf_s, step.spec.read_ratio) == (3, 1.5, 0.5)


def test_cache_and_source_fault_steps_read_into_their_classes() -> None:
    text = """\
name: faults
farm: {caches: [sql, sqlite], cache_persistence: false}
steps:
  - cache: pause
  - cache: resume
  - cache: restart
  - source: {latency_ms: 200, fail_writes_after_apply: 0.1}
"""
    scenario = parse_scenario(text)
    assert (scenario.farm.caches, scenario.farm.cache_persistence) == (("sql", "sqlite"), False)
    assert [s.numbered(i) for i, s in enumerate(scenario.steps, 1)] == [
        "1. cache pause",
        "2. cache resume",
        "3. cache restart",
        "4. source latency_ms 200, fail_writes_after_apply 0.1",
    ]
    assert [s.ends_fault for s in scenario.steps] == [False, True, True, False]
    assert scenario.steps[3] == SourceStep(line=7, changes={"latency_ms": 200, "fail_writes_after_apply": 0.1})


def test_every_cache_action_has_its_step_and_only_resume_start_restart_end_a_fault() -> None:
    assert list(ACTION_STEPS) == list(CACHE_ACTIONS)
    assert {a for a, step in ACTION_STEPS.items() if step.ends_fault} == {"start", "resume", "restart"}


def test_bad_fault_steps_name_the_field() -> None:
    text = """\
name: bad-faults
farm: {cache_persistence: maybe}
steps:
  - cache: freeze
  - source: {fail_writes_after_apply: 1.5}
  - source: {}
"""
    assert problems(text) == [
        "s.yaml:2: farm.cache_persistence: 'maybe' is not of type 'boolean'",
        "s.yaml:4: steps[0].cache: 'freeze' is not one of ['stop', 'start', 'pause', 'resume', 'restart']",
        "s.yaml:5: steps[1].source.fail_writes_after_apply: 1.5 is greater than the maximum of 1",
        "s.yaml:6: steps[2].source: give one or more of latency_ms, jitter_ms, fail_writes_after_apply",
    ]


def test_a_load_via_a_node_goes_straight_to_it() -> None:
    step = parse_scenario("name: s\nsteps:\n  - load: {duration_s: 2, concurrency: 512, via: node-2}\n").steps[0]
    assert isinstance(step, LoadStep)
    assert step.describe() == "load 2 s x512 via node-2"
    state = FarmState(proxy_port=1000, admin_token="t", source_port=1001, cache_kind="redis", cache_url=None)
    state.nodes = {"node-1": 1002, "node-2": 1003}
    context = cast(StepContext, SimpleNamespace(state=state))
    assert (target_url(context, None), target_url(context, "node-2")) == (state.proxy_url, state.node_url("node-2"))
    with pytest.raises(FarmError, match=r"via node-7: no such node now \(nodes: node-1, node-2\)"):
        target_url(context, "node-7")


def test_the_farm_section_sets_the_nodes_admission_limits() -> None:
    scenario = parse_scenario(
        "name: s\nfarm: {max_in_flight: 0, max_queue: 8.0, queue_timeout_ms: 250}\nsteps:\n  - wait: 1\n"
    )
    assert scenario.farm.admission == AdmissionLimits(max_in_flight=0, max_queue=8, queue_timeout=0.25)
    assert parse_scenario("name: s\nsteps:\n  - wait: 1\n").farm.admission == AdmissionLimits()
    assert problems("name: s\nfarm: {max_queue: -1, queue_timeout_ms: 0}\nsteps:\n  - wait: 1\n") == [
        "s.yaml:2: farm.max_queue: -1 is less than the minimum of 0",
        "s.yaml:2: farm.queue_timeout_ms: 0 is less than the minimum of 1",
    ]


def test_the_farm_section_is_held_to_the_bounds_of_the_flags_it_becomes() -> None:
    farm = "{item_sliding_s: 1.0e+9, source_latency_ms: 1.0e+6, max_in_flight: 1.0e+7}"
    assert sorted(problems(f"name: s\nfarm: {farm}\nsteps:\n  - wait: 1\n")) == [
        "s.yaml:2: farm.item_sliding_s: 1000000000.0 is greater than the maximum of 31536000",
        "s.yaml:2: farm.max_in_flight: 10000000.0 is greater than the maximum of 1000000",
        "s.yaml:2: farm.source_latency_ms: 1000000.0 is greater than the maximum of 60000",
    ]


def test_a_load_until_the_next_expect_runs_in_the_background_and_says_so() -> None:
    text = "name: s\nsteps:\n  - load: {name: during, concurrency: 4, until: expect}\n  - restart: {all: true}\n"
    step = parse_scenario(text).steps[0]
    assert isinstance(step, LoadStep)
    assert (step.until_expect, step.background) == (True, True)
    assert (step.spec.duration_s, step.spec.requests) == (None, None)
    assert step.describe() == "load during until expect x4 (background)"
    assert problems("name: s\nsteps:\n  - load: {until: expect, background: false}\n") == [
        "s.yaml:3: steps[0].load.background: a load until: expect runs in the background: leave background out"
    ]
    assert problems("name: s\nsteps:\n  - load: {until: expect, duration_s: 3}\n") == [
        "s.yaml:3: steps[0].load: give one of duration_s, requests or until: expect"
    ]
    assert problems("name: s\nsteps:\n  - load: {until: restart}\n") == [
        "s.yaml:3: steps[0].load.until: 'expect' was expected"
    ]


def test_the_guides_first_example_is_a_scenario_farm_run_takes() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text()
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(example, "docs/scenarios.md")
    assert scenario.name == "restarts"
    assert [step.kind for step in scenario.steps] == ["load", "load", "restart", "expect"]
