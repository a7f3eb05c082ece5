"""Private servers for the whole test run, started on first use and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from farm.testing.servers import ServerProcess, start_mariadb, start_postgres, start_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    with start_redis() as server:
        yield server


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[ServerProcess]:
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[ServerProcess]:
    with start_mariadb() as server:
        yield server
