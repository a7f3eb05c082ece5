"""The pytest plugin as users meet it: registered by installing cachefarm, its fixtures on real farms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from farm.scenario.errors import ScenarioSpecError
from farm.scenario.fresh_farm import INTERRUPTED
from farm.testing import RunningFarm, RunScenario
from tests.processes import alive

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.farm(nodes=2, cache="redis", source_latency_ms=1)
def test_the_farm_fixture_reads_writes_and_changes_nodes(farm: RunningFarm) -> None:
    first, second = farm.read(7), farm.read(7)
    assert (first.status, first.hit, second.hit) == (200, False, True)
    assert {first.node, second.node} == {"node-1", "node-2"}
    written = farm.write(7, {"price": 1.5}, node="node-1")
    assert written.version == (first.version or 0) + 1
    assert farm.read(7, node="node-2").version == written.version, "a shared cache: every node sees the write"
    assert farm.add_node() == "node-3"
    assert farm.read(7, node="node-3").hit is True
    farm.remove_node("node-3")
    assert farm.nodes == ["node-1", "node-2"]
    farm.kill_node("node-2")
    farm.restart_node("node-2")
    assert farm.read(7, node="node-2").hit is True
    counts = farm.source_counts()
    assert (counts["reads"], counts["writes"]) == (1, 1)
    assert farm.get("/items/nope").status == 400


@pytest.mark.farm(nodes=3)
@pytest.mark.parametrize("farm", [{"nodes": 1, "cache": "none"}], indirect=True)
def test_a_parameter_overrides_the_marker(farm: RunningFarm) -> None:
    assert farm.nodes == ["node-1"]
    assert [farm.read(3).hit, farm.read(3).hit] == [False, False], "no cache: every read is a miss"
    assert farm.status()["cache_kind"] == "none"


def test_options_settings_and_paths_as_a_user_meets_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment picks the cache; a developer's own FARM_* settings never reach a test's farm; bad options
    are named; a scenario file is found next to the test that names it."""
    monkeypatch.setenv("FARM_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("FARM_ENV", "production")
    pytester.makefile(".yaml", tiny="name: tiny\nfarm: {nodes: 1, caches: [none]}\nsteps:\n  - wait: 0.1\n")
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.farm(nodes=1, environment="development")
        def test_development_means_memory(farm):
            assert farm.status()["cache_kind"] == "memory"

        @pytest.mark.farm(nodes=1, cache="redis")
        def test_redis_means_a_private_server(farm):
            assert farm.stop_cache() is None and farm.start_cache() is None
            assert ":1/0" not in farm.status()["cache"]

        @pytest.mark.farm(nodes=1)
        def test_no_cache_and_no_environment_means_development(farm):
            assert farm.status()["cache_kind"] == "memory", "FARM_ENV is not read"

        @pytest.mark.farm(nodes=1, colour="blue")
        def test_an_unknown_option_is_named(farm):
            pass

        @pytest.mark.parametrize("farm", ["redis"], indirect=True)
        def test_a_parameter_that_is_not_a_dict_is_named(farm):
            pass

        def test_a_relative_scenario_path_is_looked_for_beside_the_test(run_scenario, tmp_path):
            os.chdir(tmp_path)
            outcome = run_scenario("tiny.yaml")
            assert outcome.passed and outcome.out.name == "scenario-1"
            assert run_scenario("tiny.yaml").out.name == "scenario-2", "a second run keeps the first one's reports"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.re_match_lines([r".*farm options \['colour'\]: use nodes, cache, environment.*"])
    result.stdout.re_match_lines([r".*an indirect parameter of the farm fixture is a dict of nodes, cache.*'redis'.*"])


def test_a_failing_test_leaves_no_farm_process_behind(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """In a pytest process of its own, as a user's run: the plugin comes from the installed entry point."""
    seen = tmp_path / "pids.json"
    pytester.makepyfile(
        f"""
        import json, subprocess

        def test_fails_with_a_farm_up(farm):
            supervisord = int((farm.run_dir / "supervisord.pid").read_text())
            children = subprocess.run(["pgrep", "-P", str(supervisord)], capture_output=True, text=True).stdout
            json.dump([supervisord, *map(int, children.split())], open({str(seen)!r}, "w"))
            assert farm.read(1).status == 500
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    pids = json.loads(seen.read_text())
    assert len(pids) == 6, "supervisord, the source store, three nodes (memory caches) and the proxy"
    assert not [pid for pid in pids if alive(pid)]
    assert len(list(pytester.path.rglob("farm-logs/node-1.log"))) == 1, "the failed test's farm logs are kept"


def test_run_scenario_returns_figures_and_verdicts(run_scenario: RunScenario) -> None:
    outcome = run_scenario(
        {
            "name": "small",
            "farm": {"nodes": 2, "source_latency_ms": 1},
            "expected_to_fail": ["memory"],
            "steps": [
                {"load": {"requests": 200, "concurrency": 4, "keys": 10}},
                {"restart": {"node": "node-1"}},
                {"load": {"requests": 100, "concurrency": 4, "keys": 10}},
                {"expect": {"errors": 0, "hit_ratio_after_restart": {"min": 0.9}}},
            ],
        },
        caches=["memory", "redis"],
        seed=4,
    )
    assert outcome.passed, outcome.failures()
    assert outcome.figures("redis")["requests"] == 300
    assert [(v.metric, v.passed) for v in outcome.verdicts("redis")] == [
        ("errors", True),
        ("hit_ratio_after_restart", True),
    ]
    assert [v.passed for v in outcome.verdicts("memory")] == [True, False], "memory starts cold, as expected"
    assert outcome.failures() == []
    assert repr(outcome) == f"<ScenarioOutcome small on memory, redis: passed; reports in {outcome.out}>"
    assert sorted(p.name for p in outcome.out.iterdir()) == [
        "history.jsonl",
        "junit.xml",
        "logs",
        "report.html",
        "report.json",
    ]


def test_run_scenario_refuses_a_bad_scenario_before_running_anything(run_scenario: RunScenario) -> None:
    with pytest.raises(ScenarioSpecError, match=r"steps\[0\]\.load\.duration_s"):
        run_scenario({"name": "bad", "steps": [{"load": {"duration_s": -1}}]})
    with pytest.raises(ValueError, match="caches \\['mongo'\\]"):
        run_scenario({"name": "fine", "steps": [{"wait": 0.1}]}, caches=["mongo"])


def test_the_plugin_imports_nothing_heavy_until_a_fixture_is_used() -> None:
    probe = (
        "import sys, farm.testing.plugin\n"
        "print([m for m in ('aiohttp', 'redis', 'pyodbc', 'matplotlib', 'supervisor', 'farm.topology')"
        " if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_users_example_passes(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "examples/test_my_farm.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "base"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_run_scenario_passes_an_interrupt_on_once_the_reports_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a scenario ends the test run as it would without one, after the teardown and the reports."""
    from farm.scenario.result import CacheResult
    from farm.testing import scenarios

    def interrupted(*args: object, **kwargs: object) -> list[CacheResult]:
        return [CacheResult("memory", failure=INTERRUPTED)]

    monkeypatch.setattr(scenarios, "run_caches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scenarios.run_scenario({"name": "s", "steps": [{"wait": 1}]}, out=tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["caches"][0]["failure"] == INTERRUPTED
