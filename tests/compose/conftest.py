"""The compose farm's integration tests: a real container engine, the project's images built once per run.

The engine is the one that answers (``DOCKER_HOST``, or Docker's socket), or one the run starts and stops
(nothing is skipped for want of an engine); the images are built from this checkout while the other tests run
(tests.compose.preparation), so every test runs what the checkout holds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from farm.config import CacheChoice
from farm.containers.compose_farm import PROJECT_LABEL, ComposeFarm
from farm.containers.engine import connect
from farm.state import FarmState
from tests.compose.preparation import Preparation, PreparationFailed

BUILD_TIMEOUT_S = 600
"""The first test to need the engine waits for its preparation (a cold one seeds the base image and builds every
image) inside its own timeout, which covers its fixtures."""
PREPARATION = pytest.StashKey[Preparation]()
COMPOSE_TESTS = Path(__file__).parent


def _needs_engine(item: pytest.Item) -> bool:
    return "engine" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The compose tests go last, and their engine and images are prepared meanwhile."""
    compose = [item for item in items if item.path.is_relative_to(COMPOSE_TESTS)]
    items[:] = [item for item in items if not item.path.is_relative_to(COMPOSE_TESTS)] + compose
    needing = [item for item in compose if _needs_engine(item)]
    for item in needing:
        own = item.get_closest_marker("timeout")
        seconds = float(own.args[0]) if own is not None and own.args else 0.0
        item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT_S + seconds), append=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the run's tests are chosen (``-k``, ``-m`` and deselection done): any that needs the engine?"""
    config = session.config
    if config.option.collectonly or PREPARATION in config.stash:
        return
    if any(item.path.is_relative_to(COMPOSE_TESTS) and _needs_engine(item) for item in session.items):
        preparation = config.stash[PREPARATION] = Preparation(Path(tempfile.mkdtemp(prefix="cachefarm-compose-")))
        preparation.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    preparation = session.config.stash.get(PREPARATION, None)
    if preparation is not None:
        preparation.finish()


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> Iterator[docker.DockerClient]:
    """The engine that answers, left running; or, when none answers at Docker's own socket (a fresh CI machine),
    one started for this run (stopped at its end), with the images built."""
    preparation = request.config.stash.get(PREPARATION, None)
    if preparation is None:  # a run whose collection did not see the compose tests' needs
        preparation = request.config.stash[PREPARATION] = Preparation(
            Path(tempfile.mkdtemp(prefix="cachefarm-compose-"))
        )
    try:
        preparation.wait(BUILD_TIMEOUT_S)
    except PreparationFailed as failed:
        pytest.fail(str(failed), pytrace=False)
    client = connect()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def images(engine: docker.DockerClient, request: pytest.FixtureRequest) -> Path:
    """Every image the farm runs, built (or found warm) once for the whole run; returns the build log."""
    return request.config.stash[PREPARATION].build_log


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
