"""Testing a farm from your own tests: the pytest plugin's fixtures, and what they hand you.

Installing cachefarm registers the plugin (``farm.testing.plugin``): the fixtures ``redis_server``,
``postgresql_server``, ``mariadb_server``, ``farm`` and ``run_scenario`` are there in every test. The names
below are for tests that want the same outside a fixture (a module-scoped farm, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from farm.testing.options import FarmOptions

if TYPE_CHECKING:
    from farm.testing.running import Reply, RunningFarm, running_farm
    from farm.testing.scenarios import RunScenario, ScenarioOutcome, run_scenario
    from farm.testing.servers import ServerProcess, start_mariadb, start_postgres, start_redis

_HOMES = {
    "Reply": "farm.testing.running",
    "RunningFarm": "farm.testing.running",
    "running_farm": "farm.testing.running",
    "RunScenario": "farm.testing.scenarios",
    "ScenarioOutcome": "farm.testing.scenarios",
    "run_scenario": "farm.testing.scenarios",
    "ServerProcess": "farm.testing.servers",
    "start_mariadb": "farm.testing.servers",
    "start_postgres": "farm.testing.servers",
    "start_redis": "farm.testing.servers",
}

__all__ = [
    "FarmOptions",
    "Reply",
    "RunScenario",
    "RunningFarm",
    "ScenarioOutcome",
    "ServerProcess",
    "run_scenario",
    "running_farm",
    "start_mariadb",
    "start_postgres",
    "start_redis",
]


if not TYPE_CHECKING:  # mypy sees the imports above, so a misspelt name is still an error there

    def __getattr__(name: str) -> Any:
        """Imported on first use: the plugin imports this package in every pytest run that has cachefarm."""
        if name not in _HOMES:
            raise AttributeError(f"module 'farm.testing' has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
