"""The pytest plugin (entry point ``pytest11``): private servers, a running farm, and scenarios, as fixtures.

Nothing heavy is imported until a fixture is used, so that installing cachefarm never slows down or breaks
the test runs of projects that do not use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from farm.testing.options import FarmOptions

if TYPE_CHECKING:
    from farm.testing.running import RunningFarm
    from farm.testing.scenarios import RunScenario, ScenarioOutcome, ScenarioSource
    from farm.testing.servers import ServerProcess


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"farm({FarmOptions().describe()}): how the `farm` fixture builds its farm (FarmOptions)"
    )


def _needs_farm(module: str, fixture: str) -> ModuleType:
    """The farm's modules need the farm extra; say so instead of a bare ImportError."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        pytest.fail(
            f"the {fixture} fixture needs cachefarm's farm extra ({missing.name} is not installed): "
            "pip install 'cachefarm[farm]'",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    """A private redis-server on a free port, for the whole test session; ``.url`` is its cache URL."""
    from farm.testing.servers import start_redis

    with start_redis() as server:
        yield server


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[ServerProcess]:
    """A private PostgreSQL cluster in a temporary folder; ``.url`` reaches its ``postgres`` database."""
    from farm.testing.servers import start_postgres

    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[ServerProcess]:
    """A private MariaDB server in a temporary folder; ``.url`` reaches its ``cachefarm`` database."""
    from farm.testing.servers import start_mariadb

    with start_mariadb() as server:
        yield server


def farm_options(request: pytest.FixtureRequest) -> FarmOptions:
    """The ``farm`` marker's keywords, then an indirect parameter's (a dict) on top."""
    keywords: dict[str, Any] = {}
    marker = request.node.get_closest_marker("farm")
    if marker is not None:
        if marker.args:
            pytest.fail("@pytest.mark.farm takes keywords only, e.g. @pytest.mark.farm(nodes=2)", pytrace=False)
        keywords.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None and not isinstance(param, dict):
        pytest.fail(
            f"an indirect parameter of the farm fixture is a dict of {', '.join(FarmOptions.names())}; got {param!r}",
            pytrace=False,
        )
    keywords.update(param or {})
    try:
        return FarmOptions.from_keywords(keywords)
    except ValueError as wrong:
        pytest.fail(str(wrong), pytrace=False)


@pytest.fixture
def farm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningFarm]:
    """A running farm (supervisord, source store, nodes, proxy, and a private cache server when the cache needs
    one), torn down after the test whatever happened; its logs are kept in ``tmp_path / "farm-logs"``."""
    options = farm_options(request)
    running = _needs_farm("farm.testing.running", "farm")
    with running.running_farm(options, logs=tmp_path / "farm-logs") as up:
        yield up


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest, tmp_path: Path) -> RunScenario:
    """``run_scenario(path_or_dict, caches=None, seed=None, engine="processes")``: the scenario on fresh farms,
    one per cache, as `farm run` runs it; returns figures and verdicts per cache. A relative path is looked for
    next to the test file first. Each run's reports go to ``tmp_path / "scenario-N"``."""
    scenarios = _needs_farm("farm.testing.scenarios", "run_scenario")
    runs = 0

    def run_in_tmp(
        source: ScenarioSource,
        *,
        caches: list[str] | None = None,
        seed: int | None = None,
        engine: str = "processes",
    ) -> ScenarioOutcome:
        nonlocal runs
        runs += 1
        if isinstance(source, str | Path) and not Path(source).is_absolute():
            beside_test = request.path.parent / source
            source = beside_test if beside_test.exists() else source
        outcome: ScenarioOutcome = scenarios.run_scenario(
            source, out=tmp_path / f"scenario-{runs}", caches=caches, seed=seed, engine=engine
        )
        return outcome

    return run_in_tmp
