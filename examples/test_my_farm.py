"""A user's own farm tests, with the pytest plugin that comes with cachefarm: `pytest examples/test_my_farm.py`."""

import pytest

from farm.testing import RunningFarm, RunScenario


@pytest.mark.farm(nodes=3, cache="redis")
def test_a_deployment_keeps_the_cache_warm(farm: RunningFarm) -> None:
    assert farm.read(42).hit is False  # the first read fills the shared cache
    farm.restart_all(rolling=True)
    replies = [farm.read(42) for _ in range(3)]
    assert [r.hit for r in replies] == [True, True, True]
    assert {r.node for r in replies} == {"node-1", "node-2", "node-3"}
    assert farm.source_counts()["reads"] == 1


def test_the_shipped_coherence_scenario_holds_on_redis(run_scenario: RunScenario) -> None:
    outcome = run_scenario("scenarios/coherence.yaml", caches=["redis"])
    assert outcome.passed, outcome.failures()
