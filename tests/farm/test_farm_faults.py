"""Network faults on a real farm (`farm up --faults`): the fault proxy between each node and its redis and source
store, driven with the `farm` commands; and a farm with fault links that leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from farm.ports import port_open
from farm.state import FarmState
from farm.testing import FarmOptions
from farm.testing.running import http, running_farm
from tests.farm.test_farm import cli
from tests.processes import alive, farm_pids


@pytest.fixture(scope="module")
def faulty_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run = tmp_path_factory.mktemp("faults") / "farm"
    up = cli("up", "--nodes", "2", "--cache", "redis", "--faults", "--source-latency-ms", "5", run=run)
    assert up.returncode == 0, up.stderr
    yield run
    cli("down", run=run)


def status(run: Path) -> dict[str, Any]:
    result = cli("status", "--json", run=run)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def read(run: Path, node: str, item: int) -> tuple[int, str | None]:
    url = next(n["url"] for n in status(run)["nodes"] if n["name"] == node)
    reply = http("GET", f"{url}/items/{item}")
    return reply.status, reply.headers.get("X-Cache")


def test_a_node_cut_off_from_the_cache_reads_the_source_while_the_others_hit(faulty_farm: Path) -> None:
    for node in ("node-1", "node-2"):
        read(faulty_farm, node, 7)  # cached by now
    assert read(faulty_farm, "node-1", 7) == (200, "HIT")

    done = cli("partition", "--from", "cache", "--nodes", "node-1", run=faulty_farm)
    assert done.returncode == 0, done.stderr
    assert "partition" in done.stdout
    assert "node-1/cache" in done.stdout
    (fault,) = status(faulty_farm)["faults"]
    assert (fault["kind"], fault["links"], fault["ends_at"]) == ("partition", ["node-1/cache"], None)
    assert "partition" in cli("status", run=faulty_farm).stdout

    assert read(faulty_farm, "node-1", 7) == (200, "MISS")  # from the source store, within the cache timeout
    assert read(faulty_farm, "node-2", 7) == (200, "HIT")

    healed = cli("heal", run=faulty_farm)
    assert healed.returncode == 0, healed.stderr
    assert f"healed {fault['id']} partition on node-1/cache" in healed.stdout
    assert status(faulty_farm)["faults"] == []
    assert "faults  0 active" in cli("status", run=faulty_farm).stdout


def test_latency_and_reset_on_the_source_links_leave_reads_answered(faulty_farm: Path) -> None:
    done = cli("latency", "--to", "source", "--ms", "30", "--jitter-ms", "10", "--duration-s", "30", run=faulty_farm)
    assert done.returncode == 0, done.stderr
    (fault,) = status(faulty_farm)["faults"]
    assert fault["parameters"] == {"ms": 30, "jitter_ms": 10}
    assert fault["links"] == ["node-1/source", "node-2/source"]
    assert fault["ends_at"] == pytest.approx(fault["started"] + 30)
    assert read(faulty_farm, "node-2", 8) == (200, "MISS")
    reset = cli("reset", "--to", "source", "--nodes", "node-2", run=faulty_farm)
    assert reset.returncode == 0
    assert reset.stdout.rstrip().endswith("node-2/source   (once)")
    assert read(faulty_farm, "node-2", 9)[0] == 200  # a new connection to the source store
    assert cli("heal", "--nodes", "node-1,node-2", "--from", "source", run=faulty_farm).returncode == 0
    assert status(faulty_farm)["faults"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("partition", "--from", "cache", "--nodes", "node-9"), "no node named 'node-9'"),
        (("latency", "--to", "cache", "--ms", "10", "--jitter-ms", "20"), "--jitter-ms 20 is more than --ms 10"),
        (("heal", "--nodes", "node-3"), "no node named 'node-3'"),
    ],
)
def test_bad_requests_name_what_is_wrong(faulty_farm: Path, args: tuple[str, ...], message: str) -> None:
    result = cli(*args, run=faulty_farm)
    assert result.returncode == 1
    assert message in result.stderr
    assert status(faulty_farm)["faults"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("latency", "--to", "cache", "--ms", "-5"), "must not be negative"),
        (("latency", "--to", "cache", "--ms", "nan"), "give a finite number"),
        (("latency", "--to", "cache", "--ms", "10", "--jitter-ms", "inf"), "give a finite number"),
        (("partition", "--from", "disk"), "invalid choice: 'disk'"),
        (("reset", "--to", "cache", "--duration-s", "0"), "give a positive number"),
        (("partition", "--from", "cache", "--nodes", "node-1,,node-2"), "give node names separated by commas"),
    ],
)
def test_bad_values_are_refused_before_the_farm_is_asked(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = cli(*args, run=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_farm_without_fault_links_says_how_to_get_them(tmp_path: Path) -> None:
    FarmState(proxy_port=1, admin_token="t", source_port=2, cache_kind="memory", cache_url=None).save(tmp_path)
    for args in (("partition", "--from", "source"), ("heal", "--from", "cache")):
        result = cli(*args, run=tmp_path)
        assert result.returncode == 1
        assert "start it again with `farm up --faults" in result.stderr


def test_nodes_added_and_removed_get_and_lose_their_links_and_down_leaves_nothing(tmp_path: Path) -> None:
    with running_farm(FarmOptions(nodes=1, cache="redis", faults=True)) as farm:
        name = farm.add_node()
        state = FarmState.load(farm.run_dir)
        assert set(state.link_ports) == {f"{n}/{t}" for n in ("node-1", name) for t in ("cache", "source")}
        farm.read(3, node=name)
        assert farm.read(3, node=name).hit is True  # its cache link carries its reads
        fault = farm.partition("cache", [name])
        assert fault["links"] == [f"{name}/cache"]
        farm.remove_node(name)
        assert farm.faults() == []  # its links went, and their faults with them
        assert set(FarmState.load(farm.run_dir).link_ports) == {"node-1/cache", "node-1/source"}
        assert not port_open("127.0.0.1", state.link_ports[f"{name}/cache"])
        pids = farm_pids(farm.run_dir)
        ports = [state.faults_port or 0, *FarmState.load(farm.run_dir).link_ports.values()]
        assert all(port_open("127.0.0.1", port) for port in ports)
    assert not [pid for pid in pids if alive(pid)]
    assert not [port for port in ports if port_open("127.0.0.1", port)]


def test_heal_without_options_ends_every_kind_of_fault(faulty_farm: Path) -> None:
    for args in (
        ("partition", "--from", "cache", "--nodes", "node-2"),
        ("cache", "pause"),
        ("source", "--latency-ms", "300", "--fail-writes-after-apply", "0.5"),
    ):
        done = cli(*args, run=faulty_farm)
        assert done.returncode == 0, done.stderr
    before = status(faulty_farm)
    assert (len(before["faults"]), before["cache_state"]) == (1, "paused")
    assert before["source_faults"]["fail_writes_after_apply"] == 0.5

    healed = cli("heal", run=faulty_farm)
    assert healed.returncode == 0, healed.stderr
    assert healed.stdout.splitlines() == [
        f"healed {before['faults'][0]['id']} partition on node-2/cache",
        "cache redis was paused: resumed",
        "source store back to 5 ms, no lost replies",
    ]
    after = status(faulty_farm)
    assert (after["faults"], after["cache_state"]) == ([], "running")
    assert after["source_faults"] == {"latency_ms": 5.0, "jitter_ms": 0.0, "fail_writes_after_apply": 0.0}
    assert read(faulty_farm, "node-2", 7)[0] == 200
    assert cli("heal", run=faulty_farm).stdout == "no fault to heal\n"


def test_a_cache_slower_than_a_reads_timeout_still_takes_writes(faulty_farm: Path) -> None:
    """Reads fall back to the source store after 200 ms; a write has no such fallback, only a 503, so its cache
    calls may take longer before it is refused."""
    node = next(n["url"] for n in status(faulty_farm)["nodes"] if n["name"] == "node-1")
    # 110 ms each way: a round trip takes 220 ms, more than a read waits, and a few fit in a write's 2 s
    done = cli("latency", "--to", "cache", "--ms", "110", "--nodes", "node-1", run=faulty_farm)
    assert done.returncode == 0, done.stderr
    try:
        write = http("PUT", f"{node}/items/9", b'{"price": 9.5}')
        assert write.status == 200, write.body
        read = http("GET", f"{node}/items/9")
        assert (read.status, read.headers.get("X-Cache")) == (200, "MISS")
        assert json.loads(read.body)["version"] == json.loads(write.body)["version"]
    finally:
        assert cli("heal", run=faulty_farm).returncode == 0
