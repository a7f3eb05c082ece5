"""`farm up --engine compose` when it cannot work: one clear message, exit code 1, and nothing of the attempt left
on the engine (containers, networks), through the real command and the real engine."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import docker
import pytest

from farm.config import CacheChoice
from farm.containers.checkout import CHECKOUT
from farm.containers.compose_farm import ComposeFarm, project_name
from farm.containers.engine import no_engine_message
from farm.errors import FarmError
from farm.state import STATE_FILE
from tests.compose.conftest import BUILD_TIMEOUT_S, project_leftovers

UP_TIMEOUT_S = 180
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + UP_TIMEOUT_S)  # the first test to ask builds the images


def farm_up(run: Path, *options: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """Runs `farm up --engine compose` as a user would; returns what it printed on stderr, once it failed."""
    command = [sys.executable, "-m", "farm.cli", "up", "--engine", "compose", "--run-dir", str(run), *options]
    done = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stderr.startswith("farm up: error: "), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


def nothing_left(engine: docker.DockerClient, run: Path) -> None:
    assert project_leftovers(engine, project_name(run.resolve())) == []
    assert not (run / STATE_FILE).exists(), "the failed farm's state was left behind"


def test_no_engine_answering_says_to_start_one(engine: docker.DockerClient, tmp_path: Path) -> None:
    nowhere = tmp_path / "nothing-serves-this.sock"
    said = farm_up(tmp_path / "farm", "--cache", "none", env={"DOCKER_HOST": f"unix://{nowhere}"})
    assert f"no container engine answers at unix://{nowhere}" in said
    assert "farm engine start" in said
    assert not nowhere.exists(), "farm up must not start an engine of its own"
    nothing_left(engine, tmp_path / "farm")


def test_no_engine_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "docker").write_text("#!/bin/sh\n")  # a client alone is no engine
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    said = no_engine_message("Error while fetching server API version: connection refused")
    assert said.startswith("no container engine is installed")
    assert "apt-get install docker.io docker-compose" in said
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")  # an engine elsewhere: then it is that one's silence
    assert no_engine_message("connection refused").startswith("no container engine answers at tcp://10.0.0.1:2375")


@pytest.fixture
def broken_checkout(images: Path, tmp_path: Path) -> Path:
    """A copy of the checkout whose Dockerfile fails in its first step (the wheelhouse copied, so warm)."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", ".dockerignore"):
        shutil.copy2(CHECKOUT / name, copy / name)
    for folder in ("farm", "nodes", "proxy", "faults", "compose"):
        shutil.copytree(CHECKOUT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dockerfile = copy / "compose" / "Dockerfile"
    first = "FROM ${BASE_IMAGE} AS app\n"
    text = dockerfile.read_text()
    assert first in text
    dockerfile.write_text(text.replace(first, first + 'RUN echo "no network in this build" >&2 && exit 3\n', 1))
    return copy


def test_an_image_that_does_not_build_shows_the_build_output(
    engine: docker.DockerClient, broken_checkout: Path, tmp_path: Path
) -> None:
    run = tmp_path / "farm"
    said = farm_up(run, "--cache", "none", "--nodes", "1", cwd=broken_checkout)
    assert "the app image did not build" in said
    assert "no network in this build" in said, "the build's last lines are missing"
    assert "returned a non-zero code: 3" in said
    nothing_left(engine, run)


def test_a_taken_proxy_port_says_to_choose_another(engine: docker.DockerClient, images: Path, tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        run = tmp_path / "farm"
        said = farm_up(run, "--cache", "none", "--nodes", "1", "--proxy-port", str(port))
    assert f"port {port} on 127.0.0.1 is taken: choose another --proxy-port" in said
    nothing_left(engine, run)


def test_a_node_that_crashes_at_start_shows_its_log(engine: docker.DockerClient, images: Path, tmp_path: Path) -> None:
    run = tmp_path / "farm"
    # `farm up` refuses a lifetime of NaN; the farm's own API passes on what it is given, and the node refuses it.
    with pytest.raises(FarmError) as raised:
        ComposeFarm(run).up(nodes=1, cache=CacheChoice("none", None), proxy_port=None, item_sliding=math.nan)
    said = str(raised.value)
    assert "_node_1 is restarting after a crash" in said or "-node-1 is restarting after a crash" in said, said
    assert "python -m nodes: error: argument --item-sliding: nan: give 0 to" in said, "the node's log is missing"
    assert f"every log: {run.resolve()}/logs" in said
    assert "argument --item-sliding: nan" in (run / "logs" / "node-1.log").read_text()
    nothing_left(engine, run)
