"""The compose farm's integration tests: a real container engine, the project's images built once per run.

The engine is the one that answers (``DOCKER_HOST``, or Docker's socket), or one the run starts and stops
(nothing is skipped for want of an engine); the images are built from this checkout at the start, so every test
runs what the checkout holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from farm.config import CacheChoice
from farm.containers.compose_farm import PROJECT_LABEL, ComposeFarm
from farm.containers.engine import connect, engine_address
from farm.containers.images import build_images, ensure_base_image, write_wheelhouse
from farm.containers.owned_engine import EngineSetup, answers, start_engine, stop_engine
from farm.state import FarmState

BUILD_TIMEOUT_S = 600
"""The first test to need the images pays for their build (a cold one seeds the base image too) inside its own
timeout, which covers its fixtures."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "images" not in getattr(item, "fixturenames", ()):
            continue
        own = item.get_closest_marker("timeout")
        seconds = float(own.args[0]) if own is not None and own.args else 0.0
        item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT_S + seconds), append=False)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.DockerClient]:
    """The engine that answers, left running; or, when none answers at Docker's own socket (a fresh CI machine),
    one started here and stopped at the end of the run."""
    started = None
    if "DOCKER_HOST" not in os.environ and not answers(engine_address()):
        setup = EngineSetup(log=tmp_path_factory.mktemp("engine") / "dockerd.log")
        started = start_engine(setup)
    client = connect()
    try:
        yield client
    finally:
        client.close()
        if started is not None:
            stop_engine(setup)


@pytest.fixture(scope="session")
def images(engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every image the farm runs, built (or found warm) once for the whole run; returns the build log."""
    log = tmp_path_factory.mktemp("images") / "build.log"
    ensure_base_image(engine, log)
    write_wheelhouse(log)
    build_images(engine, ["app", "redis", "postgres", "netfault"], log)
    return log


def project_leftovers(engine: docker.DockerClient, project: str) -> list[str]:
    """Containers and networks of a compose project that are still there."""
    labels: dict[str, str | list[str] | bool] = {"label": [f"{PROJECT_LABEL}={project}"]}
    containers = [f"container {c.name}" for c in engine.containers.list(all=True, filters=labels)]
    networks = [f"network {n.name}" for n in engine.networks.list(filters=labels)]
    return containers + networks


class ComposeFarmUp:
    """A compose farm started for one test, always torn down, with nothing of it left behind afterwards."""

    def __init__(self, farm: ComposeFarm, state: FarmState) -> None:
        self.farm = farm
        self.state = state


@pytest.fixture
def compose_farm(
    images: Path, engine: docker.DockerClient, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ComposeFarmUp]:
    """``@pytest.mark.parametrize("compose_farm", [{"nodes": 2, "cache": "redis"}], indirect=True)`` or the
    default: 3 nodes on redis."""
    options = {"nodes": 3, "cache": "redis", **getattr(request, "param", {})}
    farm = ComposeFarm(tmp_path / "farm")
    state = farm.up(nodes=options["nodes"], cache=CacheChoice(options["cache"], None), proxy_port=None)
    try:
        yield ComposeFarmUp(farm, state)
    finally:
        farm.down()
    assert project_leftovers(engine, farm.project) == [], "farm down left containers or networks behind"
