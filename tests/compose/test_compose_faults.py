"""Network faults on the compose farm (`farm up --engine compose --faults`): real iptables rules and a real netfilter
queue in a node's network namespace, driven through the same commands, steps and JSON as on processes. One farm for
the module (two nodes on redis, strict writes); each test leaves it healed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from farm.config import CacheChoice
from farm.containers.compose_farm import ComposeFarm
from farm.containers.network_faults import PROJECT
from farm.testing import RunScenario
from farm.testing.running import Reply, http
from tests.compose.conftest import project_leftovers
from tests.farm.test_farm import cli

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FAULT_FIELDS = {"id", "kind", "links", "parameters", "duration_s", "started", "ends_at"}
"""The fault proxy's JSON of a fault (faults/spec.py), which `farm status`, `farm heal` and the steps read."""


@pytest.fixture(scope="module")
def faulty(images: Path, engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    farm = ComposeFarm(tmp_path_factory.mktemp("compose-faults") / "farm")
    farm.up(nodes=2, cache=CacheChoice("redis", None), proxy_port=None, source_latency_ms=5, fault_links=True)
    try:
        yield farm.run
    finally:
        farm.down()
    agents = engine.containers.list(all=True, filters={"label": [f"{PROJECT}={farm.project}"]})
    assert agents == [], "farm down left fault agents behind"
    assert project_leftovers(engine, farm.project) == [], "farm down left containers or networks behind"


def status(run: Path) -> dict[str, Any]:
    done = cli("status", "--json", run=run)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def node_url(run: Path, name: str) -> str:
    return str(next(n["url"] for n in status(run)["nodes"] if n["name"] == name))


def read(url: str, item: int) -> Reply:
    return http("GET", f"{url}/items/{item}")


def write(url: str, item: int, price: float) -> Reply:
    return http("PUT", f"{url}/items/{item}", json.dumps({"price": price}).encode())


def stats(url: str) -> dict[str, Any]:
    return dict(http("GET", f"{url}/stats").json())


def test_a_partition_of_the_cache_refuses_strict_writes_until_healed(faulty: Path) -> None:
    one, two = node_url(faulty, "node-1"), node_url(faulty, "node-2")
    written = write(one, 11, 1.0)
    assert written.status == 200
    assert read(two, 11).hit is True

    done = cli("partition", "--from", "cache", "--nodes", "node-1", run=faulty)
    assert done.returncode == 0, done.stderr
    assert "partition" in done.stdout
    assert "node-1/cache   (until healed)" in done.stdout
    (fault,) = status(faulty)["faults"]
    assert set(fault) == FAULT_FIELDS
    assert (fault["kind"], fault["links"], fault["ends_at"]) == ("partition", ["node-1/cache"], None)

    refused = write(one, 11, 2.0)
    assert refused.status == 503, refused.body
    assert "Retry-After" in refused.headers
    assert stats(one)["refused_writes"] >= 1  # its published port answers while its cache link is cut
    assert read(one, 11).hit is False  # from the source store, within the cache timeout
    assert read(two, 11).hit is True  # the other node still reaches the cache
    assert read(two, 11).version == written.version, "nothing of the refused write was kept"

    healed = cli("heal", run=faulty)
    assert healed.returncode == 0, healed.stderr
    assert f"healed {fault['id']} partition on node-1/cache" in healed.stdout
    assert status(faulty)["faults"] == []
    assert write(one, 11, 3.0).status == 200
    assert read(two, 11).version == (written.version or 0) + 1


def test_latency_on_the_cache_link_outlasts_the_read_timeout_until_healed(faulty: Path) -> None:
    farm = ComposeFarm(faulty)
    one = node_url(faulty, "node-1")
    read(one, 12)
    assert read(one, 12).hit is True
    errors = stats(one)["cache_errors"]

    fault = farm.fault("latency", "cache", ["node-1"], ms=300, jitter_ms=0)
    assert (fault["parameters"], fault["links"]) == ({"ms": 300, "jitter_ms": 0}, ["node-1/cache"])
    # A cache round trip now takes at least 600 ms, past the node's 200 ms read timeout: the cached item is read
    # from the source store instead, and the node counts a cache error.
    slow = read(one, 12)
    assert (slow.status, slow.hit) == (200, False)
    assert stats(one)["cache_errors"] > errors
    assert read(node_url(faulty, "node-2"), 12).hit is True

    assert [f["id"] for f in farm.heal(["node-1"], "cache")] == [fault["id"]]
    assert farm.faults() == []
    assert read(one, 12).hit is True


def test_a_reset_for_a_while_cuts_the_cache_connections_and_ends_by_itself(faulty: Path) -> None:
    farm = ComposeFarm(faulty)
    one = node_url(faulty, "node-1")
    read(one, 13)
    assert read(one, 13).hit is True
    errors = stats(one)["cache_errors"]

    done = cli("reset", "--to", "cache", "--nodes", "node-1", "--duration-s", "3", run=faulty)
    assert done.returncode == 0, done.stderr
    (fault,) = farm.faults()
    assert fault["ends_at"] == pytest.approx(fault["started"] + 3)
    assert read(one, 13).hit is False  # every connection to the cache is answered with a RST
    assert stats(one)["cache_errors"] > errors

    deadline = fault["ends_at"] + 15
    while farm.faults():  # no farm process runs meanwhile: the agent ends the fault itself
        assert time.time() < deadline, "the reset did not end by itself"
        time.sleep(0.2)
    assert read(one, 13).hit is True


def test_bad_faults_are_refused_with_what_to_do(faulty: Path) -> None:
    farm = ComposeFarm(faulty)
    latency = farm.fault("latency", "source", ["node-2"], ms=10, duration_s=60)
    try:
        again = cli("latency", "--to", "source", "--ms", "20", run=faulty)
        assert again.returncode == 1
        assert "node-2/source has a latency already" in again.stderr
        unknown = cli("partition", "--from", "cache", "--nodes", "node-9", run=faulty)
        assert (unknown.returncode, "no node named 'node-9'" in unknown.stderr) == (1, True)
    finally:
        farm.heal()
    assert [f["id"] for f in farm.faults()] == []
    assert latency["ends_at"] == pytest.approx(latency["started"] + 60)


@pytest.mark.timeout(400)
def test_the_partition_scenario_passes_on_compose(images: Path, run_scenario: RunScenario) -> None:
    outcome = run_scenario(SCENARIOS / "partition.yaml", caches=["redis"], seed=5, engine="compose")
    assert outcome.passed, outcome.failures()
    figures = outcome.figures("redis")
    assert (figures["refused_writes"] or 0) > 0, "node-1 was cut off from the cache and refused writes"
    assert (figures["failed_reads"], figures["stale_reads"]) == (0, 0)
