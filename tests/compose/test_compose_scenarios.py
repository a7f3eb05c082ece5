"""The shipped scenarios, a crash under load and a scale-out, on the farm as compose containers: the same steps,
the same checks and the same expectations as on processes (tests/scenario), with the nodes as replicas of one
compose service that the proxy finds by DNS. (The shipped `coherence` scenario runs on containers in
test_ci_workflow.py, as the users' CI workflow runs it.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.testing.scenarios import RunScenario, ScenarioOutcome

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("images")]
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def passed(outcome: ScenarioOutcome) -> ScenarioOutcome:
    assert outcome.passed, "\n".join(outcome.failures())
    return outcome


def test_cached_data_survives_rolling_and_all_at_once_restarts_of_the_containers(run_scenario: RunScenario) -> None:
    outcome = passed(run_scenario(SCENARIOS / "restarts.yaml", caches=["sql"], engine="compose"))
    restarts = [e for e in outcome.results["sql"].events if e.kind == "restart"]
    assert len(restarts) == 6, "three rolling restarts, then three at once"


CRASH_AND_SCALE = {
    "name": "crash-and-scale",
    "farm": {"nodes": 2, "source_latency_ms": 20},
    "steps": [
        {"load": {"name": "warm-up", "requests": 800, "concurrency": 8, "keys": 80}},
        {"load": {"name": "crash", "duration_s": 6, "concurrency": 8, "keys": 80, "background": True}},
        {"wait": 1},
        {"kill": {"node": "node-2"}},
        {"wait": 4},
        {"expect": {"errors": 0}},
        {"load": {"name": "scaling", "duration_s": 6, "concurrency": 8, "keys": 80, "background": True}},
        {"wait": 1},
        {"add": {"count": 2}},
        {"expect": {"errors": 0, "hit_ratio_after_add": {"min": 0.95}}},
    ],
}
"""One farm for both (each compose farm costs seconds to start): a crash under load, then a scale-out from 2 to 4."""


def test_a_killed_node_container_comes_back_and_the_farm_scales_from_two_to_four_under_load(
    run_scenario: RunScenario,
) -> None:
    outcome = passed(run_scenario(CRASH_AND_SCALE, caches=["redis"], engine="compose"))
    result = outcome.results["redis"]
    kill = next(e for e in result.events if e.kind == "kill")
    starts = [s.at for s in result.starts if s.node == "node-2"]
    assert len(starts) == 2, "the engine started node-2's container again after the crash"
    assert starts[1] > kill.start
    back = [r for r in result.records if r.node == "node-2" and "crash" in r.step and r.start > starts[1]]
    assert back, "the proxy sent requests to node-2 again once it was back"
    assert result.verdicts[0].passed, "no request failed while node-2 crashed"

    assert [e.node for e in result.events if e.kind == "add"] == ["node-3", "node-4"]
    served = {r.node for r in result.records if "scaling" in r.step}
    assert served == {"node-1", "node-2", "node-3", "node-4"}, "the proxy found the new replicas by DNS"
