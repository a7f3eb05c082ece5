"""`farm up --max-in-flight/--max-queue/--queue-timeout-ms` reach every node, on processes and in compose.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from farm.containers.compose_farm import ComposeFarm
from farm.state import FarmState
from farm.testing.running import http
from nodes.admission import AdmissionLimits

LIMITS = AdmissionLimits(max_in_flight=7, max_queue=9, queue_timeout=0.25)


def farm(*args: str, run: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "farm.cli", *args, "--run-dir", str(run)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_farm_up_passes_the_admission_limits_to_every_node_including_one_added_later(tmp_path: Path) -> None:
    run = tmp_path / "farm"
    flags = ["--max-in-flight", "7", "--max-queue", "9", "--queue-timeout-ms", "250"]
    up = farm("up", "--nodes", "1", "--cache", "memory", *flags, run=run)
    try:
        assert up.returncode == 0, up.stderr
        added = farm("add-node", run=run)
        assert added.returncode == 0, added.stderr
        state = FarmState.load(run)
        assert state.admission == LIMITS
        for name in state.nodes:
            stats = json.loads(http("GET", state.node_url(name) + "/stats").body)
            assert stats["admission"] == {"max_in_flight": 7, "max_queue": 9, "queue_timeout_ms": 250}, name
    finally:
        farm("down", run=run)


def test_a_wrong_limit_is_named_and_nothing_starts(tmp_path: Path) -> None:
    for flags, message in (
        (["--max-queue", "-1"], "argument --max-queue: -1: give 0 to 1,000,000 requests"),
        (["--queue-timeout-ms", "0"], "argument --queue-timeout-ms: 0: give 1 to 3,600,000 milliseconds"),
    ):
        up = farm("up", "--nodes", "1", "--cache", "memory", *flags, run=tmp_path / "farm")
        assert (up.returncode, up.stderr.strip().splitlines()[-1]) == (2, f"farm up: error: {message}")
        assert not (tmp_path / "farm").exists()


def node_command(run: Path, state: FarmState) -> str:
    """The node's command as compose renders compose.yaml with the farm's environment (no engine needed)."""
    run.mkdir(parents=True, exist_ok=True)
    rendered = ComposeFarm(run)._compose(state, ["config"], "rendering compose.yaml")
    command = yaml.safe_load(rendered)["services"]["node"]["command"]
    return " ".join(command) if isinstance(command, list) else str(command)


def compose_state(limits: AdmissionLimits) -> FarmState:
    return FarmState(
        proxy_port=0, admin_token="t", source_port=0, cache_kind="redis", cache_url="redis://redis:6379/0",
        engine="compose", admission=limits,
    )  # fmt: skip


def test_the_compose_farm_gives_its_nodes_the_admission_limits(tmp_path: Path) -> None:
    command = node_command(tmp_path / "farm", compose_state(LIMITS))
    assert " --max-in-flight 7 --max-queue 9 --queue-timeout-ms 250" in command


def test_compose_yaml_defaults_to_the_nodes_own_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """compose.yaml run by hand, without the FARM_MAX_* variables, gives the nodes what they default to."""
    state = compose_state(AdmissionLimits())
    environment = ComposeFarm(tmp_path)._environment(state)
    for name in ("FARM_MAX_IN_FLIGHT", "FARM_MAX_QUEUE", "FARM_QUEUE_TIMEOUT_MS"):
        del environment[name]
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ComposeFarm, "_environment", lambda self, state: environment)
    assert " ".join(AdmissionLimits().node_arguments()) in node_command(tmp_path / "farm", state)
