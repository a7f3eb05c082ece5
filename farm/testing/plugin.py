"""The pytest plugin (entry point ``pytest11``): private servers, a running farm, and scenarios, as fixtures.

Nothing heavy is imported until a fixture is used, so that installing cachefarm never slows down or breaks
the test runs of projects that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from farm.testing.running import RunningFarm
    from farm.testing.scenarios import RunScenario, ScenarioOutcome
    from farm.testing.servers import ServerProcess

FARM_OPTIONS = ("nodes", "cache", "environment", "source_latency_ms", "item_sliding_s")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "farm(nodes=3, cache=None, environment=None, source_latency_ms=5, item_sliding_s=300): "
        "how the `farm` fixture builds its farm",
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


def farm_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``farm`` marker's keywords, then an indirect parameter's (a dict) on top."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("farm")
    if marker is not None:
        if marker.args:
            pytest.fail("@pytest.mark.farm takes keywords only, e.g. @pytest.mark.farm(nodes=2)", pytrace=False)
        options.update(marker.kwargs)
    options.update(getattr(request, "param", None) or {})
    unknown = sorted(set(options) - set(FARM_OPTIONS))
    if unknown:
        pytest.fail(f"farm options {unknown}: use {', '.join(FARM_OPTIONS)}", pytrace=False)
    return options


@pytest.fixture
def farm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningFarm]:
    """A running farm (supervisord, source store, nodes, proxy, and a private cache server when the cache needs
    one), torn down after the test whatever happened; its logs are kept in ``tmp_path / "farm-logs"``."""
    from farm.testing.running import running_farm

    with running_farm(**farm_options(request), logs=tmp_path / "farm-logs") as running:
        yield running


@pytest.fixture
def run_scenario(tmp_path: Path) -> RunScenario:
    """``run_scenario(path_or_dict, caches=None, seed=None)``: the scenario on fresh farms, one per cache, as
    `farm run` runs it; returns figures and verdicts per cache. Reports go to ``tmp_path / "scenario"``."""
    from farm.testing.scenarios import run_scenario as run

    def run_in_tmp(
        source: Path | str | dict[str, Any], *, caches: list[str] | None = None, seed: int | None = None
    ) -> ScenarioOutcome:
        return run(source, out=tmp_path / "scenario", caches=caches, seed=seed)

    return run_in_tmp
