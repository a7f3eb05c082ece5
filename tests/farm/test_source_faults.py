"""The source store's faults changed on a running farm: `farm source`, status, and lost write replies."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from farm.testing.options import FarmOptions
from farm.testing.running import RunningFarm, http, running_farm
from tests.farm.test_cache_server import cli


@pytest.fixture(scope="module")
def farm() -> Iterator[RunningFarm]:
    with running_farm(FarmOptions(nodes=1, cache="none")) as up:
        yield up


def source_item(farm: RunningFarm, item: int) -> int:
    return int(http("GET", f"{farm.state.source_url}/items/{item}").json()["version"])


def test_farm_source_changes_the_faults_and_status_shows_them(farm: RunningFarm) -> None:
    changed = cli("source", "--latency-ms", "40", "--jitter-ms", "5", run=farm.run_dir)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "source latency_ms 40, jitter_ms 5, fail_writes_after_apply 0"
    shown = json.loads(cli("status", "--json", run=farm.run_dir).stdout)["source_faults"]
    assert shown == {"latency_ms": 40.0, "jitter_ms": 5.0, "fail_writes_after_apply": 0.0}
    assert "(latency_ms 40, jitter_ms 5, fail_writes_after_apply 0)" in cli("status", run=farm.run_dir).stdout
    assert farm.read(1).status == 200
    farm.farm.source_faults({"latency_ms": 5, "jitter_ms": 0})


def test_a_write_whose_reply_is_lost_is_applied_and_counted(farm: RunningFarm) -> None:
    before = source_item(farm, 21)
    farm.farm.source_faults({"fail_writes_after_apply": 1})
    try:
        lost = farm.write(21, node="node-1")
    finally:
        farm.farm.source_faults({"fail_writes_after_apply": 0})
    assert lost.status >= 500, "the node never heard that its write was done"
    assert source_item(farm, 21) > before, "yet the source store applied it"
    assert farm.source_counts()["lost_write_replies"] >= 1
    assert farm.write(21).status == 200


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 1, "give --latency-ms, --jitter-ms or --fail-writes-after-apply"),
        (("--fail-writes-after-apply", "2"), 2, "argument --fail-writes-after-apply: 2: give 0 to 1"),
        (("--latency-ms", "-5"), 2, "argument --latency-ms: -5: give 0 to 60,000 milliseconds"),
    ],
)
def test_bad_source_faults_are_clear_errors(farm: RunningFarm, args: tuple[str, ...], code: int, message: str) -> None:
    refused = cli("source", *args, run=farm.run_dir)
    assert (refused.returncode, refused.stdout) == (code, "")
    assert message in refused.stderr


def test_a_paused_source_shows_no_faults_and_refuses_changes_with_a_clear_error(farm: RunningFarm) -> None:
    farm.farm.supervisor.signal("source", "STOP")
    try:
        assert "(not answering)" in cli("status", run=farm.run_dir).stdout
        refused = cli("source", "--latency-ms", "5", run=farm.run_dir)
    finally:
        farm.farm.supervisor.signal("source", "CONT")
    assert refused.returncode == 1
    assert f"the source store at {farm.state.source_url} did not answer: timed out" in refused.stderr
    assert farm.farm.source_faults({"latency_ms": 5})["latency_ms"] == 5
