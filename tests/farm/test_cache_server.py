"""The farm's own cache server (redis-server, PostgreSQL) paused, resumed, stopped and restarted under real nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.cache import from_url
from farm.servers.process_tree import descendants, is_stopped
from farm.testing.options import FarmOptions
from farm.testing.running import RunningFarm, http, running_farm
from tests.processes import alive, farm_pids

SHARED_CACHES = ["redis", "sql"]


def cli(*args: str, run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farm.cli", *args, "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hits_again(farm: RunningFarm, item: int, node: str, seconds: float = 10.0) -> bool:
    """Reads until one is a hit, within a deadline: a node's first call after an outage may still fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if farm.read(item, node=node).hit:
            return True
    return False


def cached(farm: RunningFarm, key: str) -> bytes | None:
    with from_url(farm.state.cache_url or "") as cache:
        return cache.get(key)


def store(farm: RunningFarm, key: str, value: bytes) -> None:
    with from_url(farm.state.cache_url or "") as cache:
        cache.set(key, value)


@pytest.fixture(scope="module", params=SHARED_CACHES)
def kept(request: pytest.FixtureRequest) -> Iterator[RunningFarm]:
    """Two nodes on the farm's own cache server, which keeps its data (the default)."""
    with running_farm(FarmOptions(nodes=2, cache=request.param)) as farm:
        yield farm


@pytest.fixture(scope="module", params=SHARED_CACHES)
def forgetful(request: pytest.FixtureRequest) -> Iterator[RunningFarm]:
    """One node on the farm's own cache server, which starts empty each time (``--no-cache-persistence``)."""
    with running_farm(FarmOptions(nodes=1, cache=request.param, cache_persistence=False)) as farm:
        yield farm


@pytest.fixture(params=SHARED_CACHES)
def own_farm(request: pytest.FixtureRequest) -> Iterator[RunningFarm]:
    """A farm that the test itself takes down."""
    with running_farm(FarmOptions(nodes=1, cache=request.param)) as farm:
        yield farm


def test_a_paused_cache_times_out_into_source_reads_and_resume_brings_hits_back(kept: RunningFarm) -> None:
    for node in kept.nodes:
        kept.read(11, node=node)
    assert hits_again(kept, 11, "node-1")
    kept.pause_cache()
    try:
        status = kept.status()
        assert status["cache_state"] == "paused"
        server = status["processes"][status["cache_server"]]["pid"]
        tree = [server, *descendants(server)]
        assert [pid for pid in tree if not is_stopped(pid)] == [], "the server and every backend are stopped"
        during = [kept.read(11, node=node) for node in kept.nodes for _ in range(3)]
        assert [(r.status, r.hit) for r in during] == [(200, False)] * 6
    finally:
        kept.resume_cache()
    assert kept.status()["cache_state"] == "running"
    assert all(hits_again(kept, 11, node) for node in kept.nodes)


def test_status_names_the_server_and_its_state_in_text_and_json(kept: RunningFarm) -> None:
    server = {"redis": "redis", "sql": "postgres"}[kept.state.cache_kind]
    shown = json.loads(cli("status", "--json", run=kept.run_dir).stdout)
    assert (shown["cache_server"], shown["cache_state"], shown["cache_persistence"]) == (server, "running", True)
    assert shown["processes"][server]["state"] == "running"
    assert f"({server} running)" in cli("status", run=kept.run_dir).stdout


def test_a_restarted_cache_keeps_its_data(kept: RunningFarm) -> None:
    store(kept, "kept-across-restart", b"still here")
    restarted = cli("cache", "restart", run=kept.run_dir)
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.strip() == "cache restart: running"
    assert cached(kept, "kept-across-restart") == b"still here"
    assert hits_again(kept, 12, "node-1")


def test_without_persistence_a_restart_empties_the_cache(forgetful: RunningFarm) -> None:
    store(forgetful, "gone-after-restart", b"soon forgotten")
    forgetful.restart_cache()
    assert cached(forgetful, "gone-after-restart") is None
    assert forgetful.read(13).status == 200, "the nodes go on with the emptied cache"
    assert hits_again(forgetful, 13, "node-1")


def test_down_stops_a_paused_cache_and_leaves_nothing_behind(own_farm: RunningFarm) -> None:
    pids = farm_pids(own_farm.run_dir)
    server = own_farm.farm.status()["processes"]
    own_farm.pause_cache()

    backends = [p for name in ("redis", "postgres") if name in server for p in descendants(server[name]["pid"])]
    pg_dir = own_farm.state.postgres_dir
    assert cli("down", run=own_farm.run_dir).returncode == 0
    assert not [pid for pid in {*pids, *backends} if alive(pid)], "farm down left processes behind"
    assert pg_dir is None or not Path(pg_dir).exists(), "farm down left the PostgreSQL folder behind"


def test_cache_commands_that_cannot_apply_are_clear_errors(forgetful: RunningFarm) -> None:
    forgetful.farm.cache_service("stop")
    assert forgetful.status()["cache_state"] == "stopped"
    for action, message in (("resume", "is stopped, not paused"), ("pause", "is stopped: `farm cache start` first")):
        refused = cli("cache", action, run=forgetful.run_dir)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert message in refused.stderr
    assert forgetful.read(14).status == 200, "a stopped cache fails no request"
    forgetful.start_cache()
    assert forgetful.status()["cache_state"] == "running"


def test_a_sqlite_farm_shares_its_file_and_refuses_cache_actions(tmp_path: Path) -> None:
    run = tmp_path / "farm"
    up = cli("up", "--nodes", "2", "--cache", "sqlite", run=run)
    assert up.returncode == 0, up.stderr
    try:
        shown = json.loads(cli("status", "--json", run=run).stdout)
        assert (shown["cache_kind"], shown["cache"]) == (
            "sqlite",
            f"sqlite:///{run.resolve()}/cache.db?table=DistributedCache",
        )
        first = http("GET", shown["nodes"][0]["url"] + "/items/5")
        second = http("GET", shown["nodes"][1]["url"] + "/items/5")
        assert (first.hit, second.hit) == (False, True), "the second node reads what the first one cached"
        refused = cli("cache", "pause", run=run)
        assert refused.returncode == 1
        assert "is not a server the farm started" in refused.stderr
        assert json.loads(cli("status", "--json", run=run).stdout)["cache_state"] is None
    finally:
        cli("down", run=run)
